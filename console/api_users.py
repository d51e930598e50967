"""Accounts in the console: admins list, add, disable, enable and reset the password of
accounts; everyone may change their own password. A password change or reset, or disabling
an account, ends every session of it (the one changing its own password gets a new one).
Each change is audited under the admin's name."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from console.auth import set_session_cookie
from console.context import CONSOLE
from console.http import json_body, json_error, ok
from storage.accounts import Account, AccountError, ActiveSession

log = logging.getLogger(__name__)


def _json(a: Account) -> dict[str, Any]:
    return {"username": a.username, "role": a.role, "disabled": a.disabled}


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise json_error(400, f"{key} is required")
    return value


async def list_users(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    users = await request.app[CONSOLE].accounts.list_users(include_disabled=True)
    return ok([_json(a) for a in users])


async def add_user(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"username", "password", "role"}``: a new account."""
    body = await json_body(request)
    try:
        account = await request.app[CONSOLE].accounts.add_user(
            _str(body, "username"), _str(body, "password"), _str(body, "role"),
            by=session.account.username)
    except AccountError as exc:
        raise json_error(409 if "already exists" in str(exc) else 400, str(exc)) from exc
    log.info("account added by user id %d", session.account.id)
    return ok(_json(account), status=201)


async def _set_disabled(request: web.Request, session: ActiveSession,
                        disabled: bool) -> web.StreamResponse:
    name = request.match_info["name"]
    if disabled and name == session.account.username:
        raise json_error(400, "an admin cannot disable their own account")
    try:
        account = await request.app[CONSOLE].accounts.set_disabled(
            name, disabled, by=session.account.username)
    except AccountError as exc:
        raise json_error(404, str(exc)) from exc
    return ok(_json(account))


async def disable_user(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Disable an account: it can no longer log in and its sessions end."""
    return await _set_disabled(request, session, True)


async def enable_user(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return await _set_disabled(request, session, False)


async def reset_password(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"password"}``: set an account's password; every session of it ends."""
    password = _str(await json_body(request), "password")
    try:
        ended = await request.app[CONSOLE].accounts.set_password(
            request.match_info["name"], password, by=session.account.username)
    except AccountError as exc:
        status = 404 if str(exc).startswith("no user") else 400
        raise json_error(status, str(exc)) from exc
    return ok({"username": request.match_info["name"], "sessions_ended": ended})


async def change_password(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"current", "new"}``: change one's own password. Every session of the account
    ends, this one is replaced by a new session (new cookie and CSRF token)."""
    body = await json_body(request)
    current, new = _str(body, "current"), _str(body, "new")
    console = request.app[CONSOLE]
    async with console.limiter.hashing:
        checked = await console.accounts.authenticate(session.account.username, current[:1024])
    if checked is None:
        raise json_error(403, "当前密码不正确")
    try:
        await console.accounts.set_password(session.account.username, new,
                                            by=session.account.username)
    except AccountError as exc:
        raise json_error(400, str(exc)) from exc
    token, active = await console.accounts.open_session(session.account)
    response = ok({"username": active.account.username, "csrf_token": active.csrf_token,
                   "expires_at": active.expires_at.isoformat()})
    set_session_cookie(request, response, token)
    return response
