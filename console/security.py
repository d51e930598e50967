"""Middlewares the console puts in front of every route of the application.

- ``forwarded``: behind a reverse proxy listed in ``http.trusted_proxies``, the request's
  scheme and client address are taken from ``X-Forwarded-Proto`` and ``X-Forwarded-For``
  (so the session cookie gets ``Secure`` and the login limits see the real address); from
  anyone else these headers are ignored.
- ``hsts``: over HTTPS, ``Strict-Transport-Security`` (``http.hsts_max_age_s``).
- ``errors``: an unexpected exception is logged and answered with a plain 500 (no
  traceback); a database that is locked or stalled is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import OperationalError

from console.context import CONSOLE
from console.http import json_error
from storage.db import StorageStalled

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def trusted(remote: str | None, proxies: Sequence[str]) -> bool:
    if not remote or not proxies:
        return False
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(addr in net for net in _networks(tuple(proxies)))


def _settings(request: web.Request) -> tuple[tuple[str, ...], int]:
    console = request.app.get(CONSOLE)
    if console is None:
        return (), 0
    http = console.settings.http
    return http.trusted_proxies, http.hsts_max_age_s


@web.middleware
async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    proxies, hsts_max_age = _settings(request)
    if trusted(request.remote, proxies):
        changes: dict[str, str] = {}
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            changes["scheme"] = proto
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        if hops and hops[-1]:
            changes["remote"] = hops[-1]  # the address the proxy itself saw
        if changes:
            request = request.clone(**changes)  # type: ignore[arg-type]
    hsts = f"max-age={hsts_max_age}; includeSubDomains"
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if request.secure and hsts_max_age > 0:
            exc.headers.setdefault("Strict-Transport-Security", hsts)
        raise
    if request.secure and hsts_max_age > 0:
        response.headers.setdefault("Strict-Transport-Security", hsts)
    return response


def _db_busy(exc: BaseException) -> bool:
    if isinstance(exc, StorageStalled):
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        api = request.path.startswith("/api/")
        if _db_busy(exc):
            log.warning("%s %s: database busy (%s)", request.method, request.path,
                        type(exc).__name__)
            err = json_error(503, "数据库繁忙，请稍后再试") if api else web.HTTPServiceUnavailable(
                text="503 database busy, try again shortly")
            err.headers["Retry-After"] = "10"
            raise err from None
        log.exception("%s %s failed", request.method, request.path)
        if api:
            raise json_error(500, "internal error") from None
        raise web.HTTPInternalServerError(text="500 internal error") from None
