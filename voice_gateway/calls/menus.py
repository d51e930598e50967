"""Which IVR menu a new call walks: one answer for live calls and for file calls.

The version an admin published in the database (slot ``default``) when it parses and
validates, else the configured file (``ivr.menu``), else none (IVR off, or no usable
menu: calls go straight to intake). Looked up at most every few seconds; a call keeps the
version it started with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from sqlalchemy.exc import SQLAlchemyError

from config import IvrSettings
from ivr import Menu, load_menu, parse_menu, validate
from ivr.errors import MenuError
from ivr.loader import load_catalogue
from storage import Store
from storage.menus import DEFAULT_MENU_ID, MenuVersions

log = logging.getLogger(__name__)
MENU_RECHECK_S = 5.0
LOOKUP_TIMEOUT_S = 0.5  # a stalled database must not hold a call's setup


def load_valid_menu(settings: IvrSettings) -> Menu | None:
    """The configured menu if IVR is on and the menu validates; else None (intake only)."""
    if not settings.enabled:
        return None
    try:
        menu = load_menu(settings.menu)
    except MenuError as exc:
        log.error("IVR menu %s unusable (%s): calls go straight to intake", settings.menu, exc)
        return None
    if errors := validate(menu):
        log.error("IVR menu %s fails validation (%s): calls go straight to intake",
                  settings.menu, "; ".join(str(e) for e in errors[:3]))
        return None
    return menu


def published_menu(data: dict[str, object], version: int) -> Menu | None:
    """A published version as a runnable menu, or None (logged) if it is unusable."""
    try:
        menu = dataclasses.replace(parse_menu(data, load_catalogue()), version=version)
    except Exception as exc:  # whatever an admin's data does, calls keep a menu
        log.error("published menu version %d unusable (%s)", version, exc)
        return None
    if errors := validate(menu):
        log.error("published menu version %d fails validation (%s)", version, errors[0])
        return None
    return menu


def transfer_target(target: str, settings: IvrSettings) -> str | None:
    """Where a ``queue``/``transfer`` node's caller is REFERred: the node's own target when
    it is a SIP URI, the queue's URI when ``ivr.queues`` names it, else the configured
    agent URI; None when agents are not reachable."""
    if target.lower().startswith(("sip:", "sips:")):
        return target
    return settings.queues.get(target) or settings.agent_uri or None


class MenuSource:
    """The menu for new calls (see the module docstring)."""

    def __init__(self, settings: IvrSettings, store: Store) -> None:
        self.settings = settings
        self.configured = load_valid_menu(settings)
        self._versions = MenuVersions(store.engine)
        self._checked_at: float | None = None
        self._published: Menu | None = None  # the last good published version

    async def current(self) -> Menu | None:
        """The menu now, read from the database if the last look is old."""
        if self.configured is None:
            return None  # IVR off, or the configured menu is unusable
        now = asyncio.get_running_loop().time()
        if self._checked_at is None or now - self._checked_at >= MENU_RECHECK_S:
            await self._look(now)
        return self._published or self.configured

    async def _look(self, now: float) -> None:
        self._checked_at = now
        try:
            found = await asyncio.wait_for(
                self._versions.published_menu(DEFAULT_MENU_ID), LOOKUP_TIMEOUT_S)
        except (SQLAlchemyError, TimeoutError) as exc:
            # Keep the last good version: a database hiccup must not change the menu.
            log.error("published menu unreadable (%s); keeping the last good one",
                      type(exc).__name__)
            return
        except Exception:
            log.exception("published menu lookup failed; keeping the last good one")
            return
        self._published = published_menu(*found) if found is not None else None
