"""``/api/openapi.json``, generated from the route table."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from console.http import ok

_ERRORS = {"400": "bad request", "401": "no session", "403": "wrong role or CSRF check failed",
           "404": "not found", "409": "claimed by someone else, or already closed"}


def document() -> dict[str, Any]:
    from console.routes import API_ROUTES

    paths: dict[str, dict[str, Any]] = {}
    for r in API_ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary, "tags": list(r.tags),
            "responses": {"200": {"description": "OK",
                                  "content": {r.response: {"schema": {}}}},
                          **{k: {"description": v} for k, v in _ERRORS.items()}},
        }
        if r.role is None:
            op["security"] = []
        else:
            op["x-required-role"] = r.role
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"{(\w+)}", r.path)]
        params += [{"name": q, "in": "query", "required": False,
                    "schema": {"type": "string"}} for q in r.query]
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": r.body}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "voice-intake console API", "version": "1"},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "vi_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}}},
        "security": [{"session": [], "csrf": []}],
        "paths": paths,
    }


async def openapi(request: web.Request) -> web.StreamResponse:
    return ok(document())
