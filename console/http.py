"""JSON errors and request bodies for the console's API.

A JSON body is read with a cap, chunked or not (``MAX_BODY``: 413 past it), and its nesting
is limited (``MAX_DEPTH``); a bad body is a 400 with a message, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_BODY = 64 * 1024
MAX_DEPTH = 32
_READ = 16 * 1024


def json_error(status: int, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error with a ``{"error": message}`` body, ready to raise."""
    body = json.dumps({"error": message, **extra}, ensure_ascii=False)
    exc = web.HTTPException(text=body, content_type="application/json")
    exc.set_status(status)
    return exc


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def read_capped(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The request body, at most ``limit`` bytes: 413 as soon as more arrives, whatever
    Content-Length says (or does not say, for a chunked body)."""
    if request.content_length is not None and request.content_length > limit:
        raise json_error(413, "request body too large", limit=limit)
    data = bytearray()
    while chunk := await request.content.read(_READ):
        data += chunk
        if len(data) > limit:
            raise json_error(413, "request body too large", limit=limit)
    return bytes(data)


def nesting_depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            break
    return deepest


def parse_json(raw: bytes) -> Any:
    """Parse a JSON body: 400 for bad JSON or JSON nested deeper than ``MAX_DEPTH``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError as exc:
        raise json_error(400, f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise json_error(400, "body is not valid JSON") from exc
    if nesting_depth(data) > MAX_DEPTH:
        raise json_error(400, f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 413 past ``MAX_BODY``,
    400 for bad or too deeply nested JSON."""
    if request.content_type != "application/json":
        raise json_error(415, "expected application/json")
    data = parse_json(await read_capped(request))
    if not isinstance(data, dict):
        raise json_error(400, "body must be a JSON object")
    return data
