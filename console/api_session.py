"""Login, logout, who am I."""

from __future__ import annotations

import asyncio
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
from storage.accounts import Account, Accounts, ActiveSession

log = logging.getLogger(__name__)

MAX_USERNAME = 64
MAX_PASSWORD = 1024
SESSION_WRITE_S = 5.0  # a login waits this long for its session write, then 503
_LATE: set[asyncio.Future[tuple[str, ActiveSession]]] = set()  # writes given up on


def _session_json(active: ActiveSession) -> dict[str, str]:
    return {"username": active.account.username, "role": active.account.role,
            "csrf_token": active.csrf_token, "expires_at": active.expires_at.isoformat()}


async def _open_session(accounts: Accounts, account: Account) -> tuple[str, ActiveSession]:
    """The login's session write, or a 503 once it has waited ``SESSION_WRITE_S`` for the
    database (a write lock held elsewhere). The write is not cancelled mid-statement: it
    finishes on its own, and its session, never handed out, just expires."""
    task = asyncio.ensure_future(accounts.open_session(account))
    done, _pending = await asyncio.wait({task}, timeout=SESSION_WRITE_S)
    if not done:
        _LATE.add(task)
        task.add_done_callback(_late_done)
        exc = json_error(503, "数据库繁忙，请稍后再试")
        exc.headers["Retry-After"] = "10"
        raise exc
    return task.result()


def _late_done(task: asyncio.Future[tuple[str, ActiveSession]]) -> None:
    _LATE.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a login's late session write failed: %s", type(task.exception()).__name__)


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
    token, active = await _open_session(console.accounts, account)
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
