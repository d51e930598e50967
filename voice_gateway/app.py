"""The composition root: the aiohttp application and everything it owns.

Resources live in ``cleanup_ctx`` generators, opened in order on start-up and closed in
reverse: the services (database, ASR workers), then the SIP listener; the console mounts
its routes through ``console.setup``, which is handed the IVR simulator (the call machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import console
from config import Settings
from storage import ping
from storage.db import writable
from storage.models import Call
from storage.recordings import DISK_HEALTH
from voice_gateway import metrics
from voice_gateway.callbacks.service import callback_service
from voice_gateway.calls.recovery import recover_unfinished_calls, sweep_forever
from voice_gateway.calls.simulate import simulate
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.cluster import CLUSTER, add_internal_routes, cluster_ctx
from voice_gateway.services import Services, open_services
from voice_gateway.webrtc import setup as webrtc_setup
from voice_gateway.webrtc.whip import WEBRTC

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
            # This node's calls only, on a shared database (others recover their own).
            unfinished = await services.store.unfinished_calls(services.store.recovery_scope)
            recovery = asyncio.create_task(_recover(services, unfinished))
            app[RECOVERY] = recovery
            sweep = asyncio.create_task(sweep_forever(services))  # drafts that failed
            try:
                yield
            finally:
                for task in (recovery, sweep):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def sip_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.sip.enabled:
            yield
            return
        gateway = SipGateway(app[SERVICES])
        await gateway.start()
        app[SIP] = gateway
        try:
            # 回访 callbacks dial through this gateway (callbacks.enabled).
            async with callback_service(app[SERVICES], gateway):
                yield
        finally:
            await gateway.close()  # calls in progress are hung up and drafted

    async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
        detach = metrics.attach(_live_figures(app))
        try:
            yield
        finally:
            detach()

    app.cleanup_ctx.append(services_ctx)
    app.cleanup_ctx.append(sip_ctx)
    app.cleanup_ctx.append(metrics_ctx)

    def stop_taking_calls() -> None:
        if SIP in app:
            app[SIP].draining = True  # OPTIONS and new INVITEs: 503
        if WEBRTC in app:
            app[WEBRTC].draining = True  # new WHIP offers: 503

    def calls_in_progress() -> int:
        return ((len(app[SIP].calls) if SIP in app else 0)
                + (len(app[WEBRTC].calls) if WEBRTC in app else 0))

    app.cleanup_ctx.append(cluster_ctx(settings, lambda: app[SERVICES], calls_in_progress,
                                       stop_taking_calls))
    add_internal_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    console.setup(app, lambda: app[SERVICES], simulate=simulate)
    webrtc_setup(app, settings, lambda: app[SERVICES],
                 lambda: len(app[SIP].calls) if SIP in app else 0)
    if settings.metrics.enabled:
        app.router.add_get("/metrics", metrics_endpoint(settings))
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
        "database": (stalled_s < WRITE_STALL_S and await ping(services.store.engine)
                     and await writable(services.store.engine)),
        "asr": bool(services.pool is not None and services.pool.ready),
        "disk": DISK_HEALTH.ok(time.monotonic()),
    }
    cluster = request.app.get(CLUSTER)
    draining = cluster is not None and cluster.draining  # taking no new calls
    body: dict[str, object] = {
        "status": "draining" if draining else "ready" if all(checks.values()) else "not ready",
        "checks": checks, "asr_engine": services.engine_label}
    if stalled_s >= WRITE_STALL_S:
        body["database_write_stalled_s"] = round(stalled_s, 1)
    if not checks["disk"]:
        body["disk_error"] = DISK_HEALTH.last_error
    recovery = request.app.get(RECOVERY)
    body["recovering"] = recovery is not None and not recovery.done()
    return web.json_response(body, status=200 if all(checks.values()) and not draining
                             else 503)


def _live_figures(app: web.Application) -> metrics.LiveFigures:
    """What /metrics reads from the running service at each scrape."""
    services = app[SERVICES]
    pool = services.pool

    def disk_free() -> int | None:
        try:
            return shutil.disk_usage(services.settings.data_dir).free
        except OSError:
            return None

    return metrics.LiveFigures(
        worker_restarts=lambda: pool.restarts if pool is not None else 0,
        asr_backlog_s=lambda: pool.backlog_seconds if pool is not None else 0.0,
        asr_workers_ready=lambda: len(pool.worker_pids) if pool is not None and pool.ready
        else 0,
        websocket_clients=lambda: console.websocket_clients(app),
        disk_ok=lambda: DISK_HEALTH.ok(time.monotonic()),
        disk_free_bytes=disk_free,
    )


def metrics_endpoint(settings: Settings) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /metrics: the Prometheus text format, without a console session, to peers in
    ``metrics.allowed_networks`` (the TCP peer, never a forwarded address) or to a request
    with ``Authorization: Bearer <metrics.token>`` when a token is set."""
    try:
        networks = [ipaddress.ip_network(n, strict=False)
                    for n in settings.metrics.allowed_networks]
    except ValueError as exc:
        raise ValueError(f"metrics.allowed_networks: {exc}") from None
    expected = f"Bearer {settings.metrics.token}".encode()

    def allowed(request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode()
        if settings.metrics.token and hmac.compare_digest(given, expected):
            return True
        peer = request.transport.get_extra_info("peername") if request.transport else None
        try:
            addr = ipaddress.ip_address(peer[0]) if peer else None
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return addr is not None and any(addr in net for net in networks)

    async def serve_metrics(request: web.Request) -> web.Response:
        if not allowed(request):
            return web.json_response({"error": "metrics are not served to this client"},
                                     status=403)
        # Collected on the loop: the figures read at scrape time are the loop's state.
        return web.Response(body=generate_latest(metrics.REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    return serve_metrics
