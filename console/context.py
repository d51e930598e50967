"""What the console's handlers share: the stores, the login limiter, the live fan-out.

The composition root hands ``setup`` a function returning the service's resources (anything
with ``settings``, ``store`` and ``bus``); the console builds its own repositories over the
same engine when the application starts. It also hands over the IVR simulator, which runs
the call machine of ``voice_gateway`` (a package the console never imports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from aiohttp import web

from config import Settings
from console.access import AccessAudit
from console.limits import LoginLimiter
from console.live import Fanout
from ivr.simulator import Simulate
from storage import Accounts, DraftWorkflow, EventBus, Reports, Store
from storage.retention import RetentionJob

CLAIM_TTL = timedelta(minutes=15)


class ServiceResources(Protocol):
    """The part of the service's resources the console uses."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def bus(self) -> EventBus: ...


ServicesGetter = Callable[[], ServiceResources]


@dataclass
class Console:
    settings: Settings
    store: Store
    accounts: Accounts
    workflow: DraftWorkflow
    reports: Reports
    limiter: LoginLimiter
    fanout: Fanout
    access: AccessAudit
    retention: RetentionJob | None = None  # when retention.days is set


CONSOLE = web.AppKey("console", Console)
SIMULATOR: web.AppKey[Simulate] = web.AppKey("ivr_simulator")
