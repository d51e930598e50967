"""Events across nodes: PostgreSQL LISTEN/NOTIFY, no other server.

Every stored event row NOTIFYs ``voice_intake_events`` from a trigger (migration 0005),
inside the transaction that stores it: PostgreSQL delivers it at commit, in commit order,
so a call's events (stored one after another by the node that has the call) arrive in
order. The payload is the row's id and the writer's ``application_name`` (far under
NOTIFY's 8000-byte limit); the listener skips its own node's (already published on the
local bus), reads the others' rows in arrival order, and publishes them on the local
:class:`EventBus`, where the console's fan-out takes them like local ones.

One dedicated asyncpg connection LISTENs. It is checked every ``check_s``; when it is lost
the listener reconnects (backing off up to ``max_backoff_s``) and publishes a ``resync``
event: what was notified while it was away is gone, so the console tells its pages to
read their snapshot again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import application_name, session_factory
from storage.events import Event, EventBus
from storage.models import EventRow

log = logging.getLogger(__name__)

CHANNEL = "voice_intake_events"
RESYNC = "resync"  # published locally after the LISTEN connection came back


def listen_dsn(engine: AsyncEngine) -> str:
    """The engine's URL as an asyncpg DSN."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class EventListener:
    """LISTENs for other nodes' events and publishes them on ``bus`` (run as a task)."""

    def __init__(self, engine: AsyncEngine, bus: EventBus, node_id: str, *,
                 check_s: float = 5.0, max_backoff_s: float = 10.0) -> None:
        self._engine = engine
        self._bus = bus
        self._own = application_name(node_id)
        self._listen_name = application_name(f"{node_id}/listen")
        self._sessions = session_factory(engine)
        self._ids: asyncio.Queue[int] = asyncio.Queue()
        self._check_s = check_s
        self._max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._ever_connected = False

    async def run(self) -> None:
        """Listen until cancelled; reconnect whenever the connection is lost."""
        reader = asyncio.create_task(self._read_rows())
        backoff = 0.2
        try:
            while True:
                try:
                    conn = await asyncpg.connect(
                        listen_dsn(self._engine),
                        server_settings={"application_name": self._listen_name})
                except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                    log.warning("LISTEN connection failed (%s); retrying in %.1f s",
                                type(exc).__name__, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff_s)
                    continue
                backoff = 0.2
                try:
                    await self._listen(conn)
                finally:
                    self.connected.clear()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2.0)
                log.warning("LISTEN connection lost; reconnecting")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _listen(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        again, self._ever_connected = self._ever_connected, True
        self.connected.set()
        if again:
            self.reconnects += 1
            self._bus.publish(Event(RESYNC))  # what was notified meanwhile is gone
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._check_s)
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._check_s)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            note = json.loads(payload)
            event_id, node = int(note["id"]), str(note.get("node", ""))
        except (ValueError, KeyError, TypeError):
            log.warning("event notification not understood; ignored")
            return
        if node != self._own:
            self._ids.put_nowait(event_id)

    async def _read_rows(self) -> None:
        """Read the notified rows, a batch at a time, and publish them in arrival order."""
        while True:
            ids = [await self._ids.get()]
            while not self._ids.empty():
                ids.append(self._ids.get_nowait())
            try:
                events = await self._rows(ids)
            except Exception:  # a database hiccup: the pages re-read their snapshot
                log.exception("reading %d notified event(s) failed", len(ids))
                self._bus.publish(Event(RESYNC))
                continue
            for event in events:
                self._bus.publish(event)

    async def _rows(self, ids: Sequence[int]) -> list[Event]:
        async with self._sessions() as s:
            rows = {r.id: r for r in (await s.scalars(
                select(EventRow).where(EventRow.id.in_(ids)))).all()}
        return [Event(r.kind, r.call_id, dict(r.payload or {}), r.at)
                for i in ids if (r := rows.get(i)) is not None]
