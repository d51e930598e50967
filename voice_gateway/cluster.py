"""This node in a cluster of gateways behind Kamailio's dispatcher, sharing one PostgreSQL.

``cluster_ctx`` (a cleanup context of the app) runs, for the node's whole life:

- the heartbeat: the node's row in ``nodes`` (state, calls in progress, internal URL),
  every ``cluster.heartbeat_interval_s``, ``stopped`` at a clean exit;
- on PostgreSQL, the :class:`~storage.pgevents.EventListener` that brings the other
  nodes' events onto this node's bus (the console's websockets then see every node's).

Draining (``voice-intake drain``, which POSTs ``/internal/drain``, or SIGTERM under
``serve``): OPTIONS and new INVITEs are answered 503, so Kamailio's dispatcher probing
marks the node down and sends new calls elsewhere; ``/readyz`` says ``draining``; the
calls in progress go on to their end (at most ``cluster.drain_timeout_s``), then the
process exits as on SIGINT.

``/internal/recordings/{call_id}`` serves this node's recordings to the other nodes'
consoles, with ``Authorization: Bearer <cluster.secret>``; without a secret the internal
routes answer 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from config import Settings
from storage.nodes import Nodes
from storage.pgevents import EventListener
from voice_gateway.services import Services

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.2


class ClusterNode:
    """This node's membership: heartbeat, drain, and what ``/readyz`` says."""

    def __init__(self, settings: Settings, services: Services,
                 active_calls: Callable[[], int], stop_taking_calls: Callable[[], None],
                 on_drained: Callable[[], None]) -> None:
        self.settings = settings
        self.services = services
        self.node_id = settings.node_id
        self.nodes = Nodes(services.store.engine)
        self._active_calls = active_calls
        self._stop_taking_calls = stop_taking_calls
        self._on_drained = on_drained
        self.draining = False
        self.drained = asyncio.Event()
        self._drain: asyncio.Task[None] | None = None

    @property
    def internal_url(self) -> str:
        http = self.settings.http
        return self.settings.cluster.internal_url or f"http://{http.host}:{http.port}"

    @property
    def state(self) -> str:
        return "draining" if self.draining else "running"

    async def beat(self, state: str | None = None) -> None:
        await self.nodes.beat(self.node_id, self.internal_url, state or self.state,
                              self._active_calls())

    async def heartbeat_forever(self) -> None:
        interval = self.settings.cluster.heartbeat_interval_s
        while True:
            try:
                await self.beat()
            except Exception as exc:  # the database away for a while: beat again later
                log.warning("heartbeat not stored (%s)", type(exc).__name__)
            await asyncio.sleep(interval)

    def start_drain(self) -> asyncio.Task[None]:
        """Stop taking calls and let those in progress end; idempotent."""
        if self._drain is None:
            self.draining = True
            self._stop_taking_calls()
            log.info("draining: new calls refused with 503, %d in progress",
                     self._active_calls())
            self._drain = asyncio.create_task(self._run_drain())
        return self._drain

    async def _run_drain(self) -> None:
        with contextlib.suppress(Exception):
            await self.beat()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.cluster.drain_timeout_s
        # Polled: calls end in the gateway's runners, which signal no one.
        while self._active_calls() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_S)
        if self._active_calls():
            log.warning("drain timeout: %d call(s) still in progress are hung up",
                        self._active_calls())
        else:
            log.info("drained: no call in progress")
        self.drained.set()
        self._on_drained()


CLUSTER = web.AppKey("cluster", ClusterNode)
SIGTERM_DRAINS = web.AppKey("sigterm_drains", bool)  # set by `serve`


def exit_process() -> None:
    """After a drain under ``serve``: stop as on SIGINT (aiohttp's graceful exit)."""
    os.kill(os.getpid(), signal.SIGINT)


def cluster_ctx(
    settings: Settings, services: Callable[[], Services], active_calls: Callable[[], int],
    stop_taking_calls: Callable[[], None],
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        res = services()
        sigterm = app.get(SIGTERM_DRAINS, False)
        node = ClusterNode(settings, res, active_calls, stop_taking_calls,
                           exit_process if sigterm else lambda: None)
        app[CLUSTER] = node
        tasks = [asyncio.create_task(node.heartbeat_forever())]
        if res.store.engine.dialect.name == "postgresql":
            listener = EventListener(res.store.engine, res.bus, node.node_id)
            tasks.append(asyncio.create_task(listener.run()))
        if sigterm:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, node.start_drain)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(node.beat("stopped"), 5.0)

    return ctx


def _authorised(request: web.Request, settings: Settings) -> None:
    secret = settings.cluster.secret
    if not secret:
        raise web.HTTPNotFound()
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {secret}".encode()):
        raise web.HTTPUnauthorized(text="cluster secret required")


async def internal_drain(request: web.Request) -> web.Response:
    """POST: start draining this node (``voice-intake drain``)."""
    node = request.app[CLUSTER]
    _authorised(request, node.settings)
    node.start_drain()
    return web.json_response({"node": node.node_id, "state": node.state,
                              "active_calls": node._active_calls()}, status=202)


async def internal_recording(request: web.Request) -> web.StreamResponse:
    """GET: a call's recording held by this node (``?side=system``: the system side)."""
    node = request.app[CLUSTER]
    _authorised(request, node.settings)
    call = await node.services.store.get_call(request.match_info["call_id"])
    if call is None or not call.recording_path or call.node_id not in (None, node.node_id):
        raise web.HTTPNotFound(text="no recording of that call on this node")
    file = Path(call.recording_path)
    if request.query.get("side") == "system":
        file = file.with_suffix(".out.wav")
    if not file.is_file():
        raise web.HTTPNotFound(text="recording file missing")
    return web.FileResponse(file, headers={"Content-Type": "audio/wav"})


def add_internal_routes(app: web.Application) -> None:
    app.router.add_post("/internal/drain", internal_drain)
    app.router.add_get("/internal/recordings/{call_id}", internal_recording)


__all__ = ["CLUSTER", "SIGTERM_DRAINS", "ClusterNode", "add_internal_routes", "cluster_ctx"]
