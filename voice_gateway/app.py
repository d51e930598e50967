"""The composition root: the aiohttp application and everything it owns.

Resources live in ``cleanup_ctx`` generators, opened in order on start-up and closed in
reverse: the services (database, ASR workers), then the SIP listener; the console mounts
its routes through ``console.setup``, which is handed the IVR simulator (the call machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web

import console
from config import Settings
from storage import ping
from storage.models import Call
from storage.recordings import DISK_HEALTH
from voice_gateway.calls.recovery import recover_unfinished_calls
from voice_gateway.calls.simulate import simulate
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.services import Services, open_services

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
SIP = web.AppKey("sip", SipGateway)
WRITE_STALL_S = 3.0  # a write waiting longer than this: the database is not ready
RECOVERY = web.AppKey("recovery", asyncio.Task[None])

ServicesFactory = Callable[[Settings], AbstractAsyncContextManager[Services]]


def _default_services(settings: Settings) -> AbstractAsyncContextManager[Services]:
    return open_services(settings, asr_in_background=True)


def init_app(
    settings: Settings, services_factory: ServicesFactory | None = None
) -> web.Application:
    """Build the application; nothing is opened until the app starts."""
    app = web.Application()
    app[SETTINGS] = settings
    factory = services_factory or _default_services

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        async with factory(settings) as services:
            app[SERVICES] = services
            # Listed before SIP opens, so no new call is mistaken for an unfinished one;
            # finished at once, as soon as the ASR workers are up, whether or not a call
            # comes in.
            unfinished = await services.store.unfinished_calls()
            recovery = asyncio.create_task(_recover(services, unfinished))
            app[RECOVERY] = recovery
            try:
                yield
            finally:
                recovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovery

    async def sip_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.sip.enabled:
            yield
            return
        gateway = SipGateway(app[SERVICES])
        await gateway.start()
        app[SIP] = gateway
        try:
            yield
        finally:
            await gateway.close()  # calls in progress are hung up and drafted

    app.cleanup_ctx.append(services_ctx)
    app.cleanup_ctx.append(sip_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    console.setup(app, lambda: app[SERVICES], simulate=simulate)
    return app


async def _recover(services: Services, calls: list[Call]) -> None:
    """Draft calls a previous run accepted but never drafted (crash, power loss)."""
    if services.pool is None or not calls:
        return
    try:
        await recover_unfinished_calls(services, calls)
    except Exception:
        log.exception("recovery of unfinished calls failed; they stay in the store")


async def healthz(_request: web.Request) -> web.Response:
    """The process is up and its event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to take calls: models loaded in every ASR worker and the database reachable."""
    services = request.app[SERVICES]
    stalled_s = services.store.write_stalled_for(time.monotonic())
    checks = {
        # Reachable, and taking writes: a write lock held for seconds turns calls away.
        "database": stalled_s < WRITE_STALL_S and await ping(services.store.engine),
        "asr": bool(services.pool is not None and services.pool.ready),
        "disk": DISK_HEALTH.ok(time.monotonic()),
    }
    body: dict[str, object] = {
        "status": "ready" if all(checks.values()) else "not ready", "checks": checks,
        "asr_engine": services.engine_label}
    if stalled_s >= WRITE_STALL_S:
        body["database_write_stalled_s"] = round(stalled_s, 1)
    if not checks["disk"]:
        body["disk_error"] = DISK_HEALTH.last_error
    recovery = request.app.get(RECOVERY)
    body["recovering"] = recovery is not None and not recovery.done()
    return web.json_response(body, status=200 if all(checks.values()) else 503)
