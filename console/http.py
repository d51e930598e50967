"""JSON errors and request bodies for the console's API."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_BODY = 64 * 1024


def json_error(status: int, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error with a ``{"error": message}`` body, ready to raise."""
    body = json.dumps({"error": message, **extra}, ensure_ascii=False)
    exc = web.HTTPException(text=body, content_type="application/json")
    exc.set_status(status)
    return exc


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 400 for bad JSON."""
    if request.content_type != "application/json":
        raise json_error(415, "expected application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise json_error(413, "request body too large")
    try:
        data = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise json_error(400, "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise json_error(400, "body must be a JSON object")
    return data

