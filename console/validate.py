"""Checks on what agents send: field corrections, filters."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from console.http import json_error
from storage.workflow import STATUSES
from workorders import FIELD_NAMES

PHONE = re.compile(r"^[0-9]{5,20}$")
MAX_TEXT = 1000


def field_changes(raw: Any) -> dict[str, Any]:
    """The ``fields`` object of a PATCH, checked: known fields, right types, sane values."""
    if not isinstance(raw, dict) or not raw:
        raise json_error(400, "fields must be a non-empty object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in FIELD_NAMES:
            raise json_error(400, f"unknown field {name}")
        if name == "urgent":
            if not isinstance(value, bool):
                raise json_error(400, "urgent must be true or false")
            out[name] = value
            continue
        if value is not None and not isinstance(value, str):
            raise json_error(400, f"{name} must be a string or null")
        text = (value or "").strip()
        if len(text) > MAX_TEXT:
            raise json_error(400, f"{name} is too long")
        if name == "phone" and text:
            text = text.replace("-", "").replace(" ", "")
            if not PHONE.match(text):
                raise json_error(400, "电话号码格式不正确", field="phone")
        if name == "due_at" and text:
            try:
                datetime.fromisoformat(text)
            except ValueError as exc:
                raise json_error(400, "due_at must be an ISO 8601 time", field="due_at") from exc
        out[name] = text or None
    return out


def status_filter(value: str | None, default: str | None) -> str | None:
    if value is None or value == "":
        return default
    if value == "all":
        return None
    if value not in STATUSES:
        raise json_error(400, f"status must be one of {', '.join(STATUSES)} or all")
    return value


def limit_param(value: str | None, default: int, maximum: int = 500) -> int:
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise json_error(400, "limit must be an integer") from exc
    return max(1, min(n, maximum))
