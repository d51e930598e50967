"""Login, logout, who am I."""

from __future__ import annotations

import logging

from aiohttp import web

from console.auth import (
    COOKIE,
    clear_session_cookie,
    client_address,
    same_origin,
    set_session_cookie,
)
from console.context import CONSOLE
from console.http import json_body, json_error, ok
from console.redirects import safe_next
from storage.accounts import ActiveSession

log = logging.getLogger(__name__)

MAX_USERNAME = 64
MAX_PASSWORD = 1024


def _session_json(active: ActiveSession) -> dict[str, str]:
    return {"username": active.account.username, "role": active.account.role,
            "csrf_token": active.csrf_token, "expires_at": active.expires_at.isoformat()}


async def login(request: web.Request) -> web.StreamResponse:
    """``{"username", "password", "next"?}`` → the session cookie, the CSRF token and
    ``next``: where to go, a same-origin path (see :mod:`console.redirects`)."""
    console = request.app[CONSOLE]
    if not same_origin(request):
        raise json_error(403, "cross-origin login refused")
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise json_error(400, "username and password are required")
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        raise json_error(400, f"username at most {MAX_USERNAME} characters, "
                              f"password at most {MAX_PASSWORD}")
    client = client_address(request)
    wait = console.limiter.attempt(username, client)  # counted before the check
    if wait is not None:
        exc = json_error(429, "登录尝试过多，请稍后再试", retry_after=round(wait))
        exc.headers["Retry-After"] = str(round(wait))
        raise exc
    async with console.limiter.hashing:
        account = await console.accounts.authenticate(username, password)
    if account is None:
        log.info("console login failed from %s", client)
        raise json_error(401, "用户名或密码错误")
    console.limiter.succeeded(username, client)
    token, active = await console.accounts.open_session(account)
    log.info("console login: user id %d (%s)", account.id, account.role)
    response = ok({**_session_json(active), "next": safe_next(body.get("next"))})
    set_session_cookie(request, response, token)
    return response


async def logout(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[CONSOLE].accounts.close_session(token)
    response = ok({"status": "logged out"})
    clear_session_cookie(response)
    return response


async def me(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return ok(_session_json(session))
