"""``voice-intake draft``: JSON lines in, JSON lines out.

Each input line is ``{"id", "text", "caller_number"}``; each output line is the draft's
``to_dict(id)``. A line that cannot be drafted gives ``{"line": N, "id": …, "error": …}``
instead and the stream goes on. Errors name the problem, never the transcript.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from config.settings import DraftingSettings
from workorders.drafter import draft


class _BadLine(ValueError):
    def __init__(self, message: str, record_id: Any = None) -> None:
        super().__init__(message)
        self.record_id = record_id


def _parse(line: str) -> tuple[Any, str, str | None, str | None]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise _BadLine("expected a JSON object")
    record_id = record.get("id")
    text = record.get("text")
    if not isinstance(text, str):
        raise _BadLine("'text' must be a string", record_id)
    caller = record.get("caller_number")
    if caller is not None and not isinstance(caller, str | int):
        raise _BadLine("'caller_number' must be a string or null", record_id)
    keypad = record.get("keypad_phone")
    if keypad is not None and not isinstance(keypad, str):
        raise _BadLine("'keypad_phone' must be a string or null", record_id)
    return record.get("id"), text, None if caller is None else str(caller), keypad


def run(in_stream: TextIO, out_stream: TextIO, settings: DraftingSettings, now: datetime) -> int:
    """Draft every line of ``in_stream``; return 0 if all lines drafted, else 1."""
    status = 0
    for number, line in enumerate(in_stream, start=1):
        if not line.strip():
            continue
        try:
            draft_id, text, caller, keypad = _parse(line)
            out: dict[str, Any] = draft(
                text, caller, now, settings=settings, keypad_phone=keypad
            ).to_dict(draft_id)
        except _BadLine as exc:
            status = 1
            out = {"line": number, "id": exc.record_id, "error": str(exc)}
        out_stream.write(json.dumps(out, ensure_ascii=False) + "\n")
        out_stream.flush()
    return status
