"""Events recorded together: the events waiting to be stored go in one transaction.

Every call records events as it goes (answered, media started, keys, IVR nodes), one write
each, and on SQLite the writes go through the write gate one at a time, each a few round
trips through the event loop. Under a burst of calls on a loop busy with their media, 100
such events held the gate for 17.6 s in all (bench.webrtc, 50 calls at 10 a second): the
calls' later writes waited behind them, and the oldest write's wait, which /readyz reads
as a stall, passed 3 s. Here the events that come while a batch is written all go in the
next one, in the order they came, as one bulk INSERT.

A batch that fails fails each of its events (their writers retry them); an event whose
writer gave up (cancelled) before its batch began is not written. Each event is published
on the bus once stored, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from storage.db import WriteTransactions
from storage.events import Event
from storage.models import EventRow

MAX_BATCH = 512


@dataclass
class _Pending:
    event: Event
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class EventInserts:
    """Records events for a :class:`storage.Store` (see the module docstring)."""

    def __init__(self, write: WriteTransactions, publish: Callable[[Event], None]) -> None:
        self._write = write
        self._publish = publish
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, event: Event) -> None:
        """Store ``event``, then publish it; raises what the database raised."""
        pending = _Pending(event)
        self._pending.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        await pending.done  # cancelled: not written unless its batch had begun

    async def settle(self) -> None:
        """Until every batch has been written (those of writers that gave up too)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait({self._writer})

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = [p for p in self._pending[:MAX_BATCH] if not p.done.done()]
                del self._pending[:MAX_BATCH]
                if batch:
                    await self._write_batch(batch)
        finally:  # cancelled (the loop is closing): nobody is left waiting
            for pending in self._pending:
                if not pending.done.done():
                    pending.done.cancel()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            async with self._write() as s:
                await s.execute(insert(EventRow), [event_values(p.event) for p in batch])
        except BaseException as exc:
            for pending in batch:
                if not pending.done.done():
                    if isinstance(exc, Exception):
                        pending.done.set_exception(exc)
                    else:
                        pending.done.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)
            self._publish(pending.event)  # stored, whether or not its writer still waits


def event_values(event: Event) -> dict[str, Any]:
    """An event's row, for a bulk INSERT."""
    return {"call_id": event.call_id, "kind": event.kind, "at": event.at,
            "payload": event.payload}
