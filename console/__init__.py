"""Layer 3: the agent console and admin web UI (routes, pages, websockets, auth).

``setup(app, services, simulate=...)`` mounts the console on the service's aiohttp
application; ``services`` returns the service's opened resources (settings, store, bus) once
the app has started, and ``simulate`` runs a menu with scripted inputs (the admin's
simulator). Agents work the live queue and review drafts; admins also see the dashboard and
export work orders. Everything is served locally: no CDN, no web fonts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from config import Settings
from console import security
from console.access import AccessAudit
from console.alerts import analytics_ctx
from console.context import CLAIM_TTL, CONSOLE, SIMULATOR, Console, ServicesGetter
from console.limits import LoginLimiter
from console.live import Fanout
from console.routes import add_routes
from ivr.simulator import Simulate
from storage import Accounts, DraftWorkflow, Reports, SessionPolicy, Store
from storage.access_log import AccessLog
from storage.retention import RetentionJob

__all__ = ["CONSOLE", "Console", "setup", "websocket_clients"]


def websocket_clients(app: web.Application) -> int:
    """Console websockets connected now (for the service's metrics)."""
    mounted = app.get(CONSOLE)
    return len(mounted.fanout.sockets) if mounted is not None else 0


def accounts_of(settings: Settings, store: Store) -> Accounts:
    """The accounts with the configured password length and session times."""
    c = settings.console
    policy = SessionPolicy(idle=timedelta(minutes=max(1, c.session_idle_minutes)),
                           lifetime=timedelta(hours=max(1, c.session_max_hours)))
    return Accounts(store.engine, min_password_length=c.min_password_length, policy=policy)


def setup(app: web.Application, services: ServicesGetter | None = None, *,
          simulate: Simulate) -> None:
    """Mount the console's routes on ``app``; without ``services`` nothing is mounted."""
    if services is None:
        return
    app[SIMULATOR] = simulate
    app.middlewares.extend((security.forwarded, security.errors))
    get_services = services

    async def console_ctx(app: web.Application) -> AsyncIterator[None]:
        res = get_services()
        workflow = DraftWorkflow(res.store.engine, res.bus, claim_ttl=CLAIM_TTL)
        fanout = Fanout(res.bus, workflow)
        app[CONSOLE] = Console(
            settings=res.settings, store=res.store, accounts=accounts_of(res.settings, res.store),
            workflow=workflow, reports=Reports(res.store.engine), limiter=LoginLimiter(),
            fanout=fanout, access=AccessAudit(AccessLog(res.store.engine)),
        )
        ready = asyncio.Event()
        feed = asyncio.create_task(fanout.run(ready))
        tasks = [feed]
        if res.settings.retention.days > 0:  # recordings and transcripts past retention
            job = app[CONSOLE].retention = RetentionJob(res.store.engine,
                                                        res.settings.retention.days)
            tasks.append(asyncio.create_task(job.run()))
        await ready.wait()
        try:
            yield
        finally:
            await fanout.close_sockets()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.cleanup_ctx.append(console_ctx)
    app.cleanup_ctx.append(analytics_ctx(get_services))
    add_routes(app)
