"""Who is asking: session cookies, roles, CSRF, and the guard every route goes through.

A login sets the ``vi_session`` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) to a
random token; the session row holds the user and a CSRF token. Every state-changing request
(anything but GET/HEAD/OPTIONS) must repeat the CSRF token in ``X-CSRF-Token`` and, when the
browser sends an ``Origin``, come from this host. Roles are ordered: an admin may do
everything an agent may.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from console.context import CONSOLE
from console.http import json_error
from storage.accounts import ActiveSession

COOKIE = "vi_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_RANK = {"agent": 1, "admin": 2}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, ActiveSession], Awaitable[web.StreamResponse]]


async def current_session(request: web.Request) -> ActiveSession | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    return await request.app[CONSOLE].accounts.session(token)


def client_address(request: web.Request) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For: see console.security)."""
    return request.remote or "unknown"


def allowed(role: str, required: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser cross-site request (those always carry Origin)
    return urlsplit(origin).netloc == request.host


def api_guard(handler: SessionHandler, role: str) -> Handler:
    """An API handler behind the session check: 401, 403, CSRF and Origin checks."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None:
            raise json_error(401, "login required")
        if not allowed(session.account.role, role):
            raise json_error(403, f"requires role {role}")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not same_origin(request) or not hmac.compare_digest(sent, session.csrf_token):
                raise json_error(403, "CSRF check failed")
        return await handler(request, session)

    return guarded


def page_guard(handler: SessionHandler, role: str) -> Handler:
    """An HTML page: without a session, a redirect to the login page."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None:
            raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe="/"))
        if not allowed(session.account.role, role):
            raise web.HTTPForbidden(text="403 权限不足", content_type="text/plain")
        return await handler(request, session)

    return guarded


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    lifetime = request.app[CONSOLE].accounts.policy.lifetime
    response.set_cookie(COOKIE, token, max_age=int(lifetime.total_seconds()), path="/",
                        httponly=True, samesite="Strict", secure=request.secure)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
