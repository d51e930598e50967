"""New calls stored together: every call waiting to be stored goes in one transaction.

A call is answered only once its row is stored, and the INSERT has a deadline (the SIP and
WebRTC setup deadline). Stored one transaction each, the calls of a burst went through the
write gate one after another, and each transaction is several round trips between the
event loop and the driver's thread: on a loop busy with the media of the calls already up,
0.3-2 s each (bench.webrtc, 10 offers a second), so the calls at the back of a burst
passed their deadline behind those at the front and were refused with 503, on a database
that was only slow. Here the calls that come while a batch is being written all go in the
next one: a burst of any size costs about two transactions.

The deadline is for a stalled database, not a busy one: a call gives up when no call has
been stored for ``deadline_s`` while it waited (a lock held, a database gone), and in any
case after twice that; a batch stored meanwhile shows the database is moving, and the
calls waiting for the next one are given ``deadline_s`` from then. Each call keeps its own
deadline: one whose caller gave up before its batch got the gate is not written; a batch
whose callers all gave up by the time it is through the lock is rolled back; a call
committed after its caller gave up is deleted again (its caller was told it was not
stored, and recovery would take it for a call cut off). A batch that fails on a constraint
is written again one call at a time, so one bad call fails alone; any other error fails
the batch's calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage.db import StorageStalled, WriteTransactions
from storage.event_inserts import event_values
from storage.events import Event
from storage.models import Call, EventRow

log = logging.getLogger(__name__)

MAX_BATCH = 256


@dataclass
class _Pending:
    """One call waiting to be stored; ``done`` is resolved unless its caller gave up."""

    call_id: str
    values: dict[str, Any]  # the call's row
    event: Event
    deadline: float | None  # loop time: moved on as other calls are stored
    deadline_s: float | None
    limit: float | None  # loop time: twice the deadline after the call came
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    abandoned: bool = False

    def late(self, now: float) -> bool:
        return self.abandoned or (self.deadline is not None and now >= self.deadline)

    def progress(self, now: float) -> None:
        """Calls were stored at ``now``: the database is moving."""
        if self.deadline is not None and self.deadline_s is not None and self.limit:
            self.deadline = min(self.limit, max(self.deadline, now + self.deadline_s))

    def stalled(self) -> StorageStalled:
        return StorageStalled(f"the call was not stored: no call stored for "
                              f"{self.deadline_s:g} s")

    def fail(self, exc: BaseException) -> None:
        if not self.abandoned and not self.done.done():
            self.done.set_exception(exc)


class _AllGaveUp(Exception):
    pass


class CallInserts:
    """Stores new calls for a :class:`storage.Store` (see the module docstring)."""

    def __init__(self, write: WriteTransactions, publish: Callable[[Event], None]) -> None:
        self._write = write
        self._publish = publish
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._taking_back: set[asyncio.Task[None]] = set()

    async def insert(self, values: dict[str, Any], event: Event,
                     deadline_s: float | None) -> None:
        """Store the call (its row's ``values``) and its ``call_started`` ``event``, then
        publish the event; ``StorageStalled`` if no call is stored for
        ``deadline_s`` meanwhile, or after twice that (then nothing of it stays). A
        cancelled caller gives up the same way."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = limit = None
        if deadline_s is not None:
            deadline, limit = now + deadline_s, now + 2 * deadline_s
        pending = _Pending(str(values["id"]), values, event, deadline, deadline_s, limit)
        self._pending.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        try:
            while not pending.done.done():
                if pending.deadline is None:
                    await asyncio.wait({pending.done})
                elif (remaining := pending.deadline - loop.time()) > 0:
                    await asyncio.wait({pending.done}, timeout=remaining)
                else:
                    break
        finally:
            if not pending.done.done():
                pending.abandoned = True  # from here on nobody resolves it
        if not pending.done.done():
            raise pending.stalled()
        pending.done.result()

    async def settle(self) -> None:
        """Until every batch, and every call taken back, has been written."""
        while (self._writer is not None and not self._writer.done()) or self._taking_back:
            await asyncio.wait({t for t in (self._writer, *self._taking_back) if t})

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._write_batch(batch)
        finally:  # cancelled (the loop is closing): nobody is left waiting
            for pending in self._pending:
                pending.fail(StorageStalled("the call store stopped"))

    async def _write_batch(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        written: list[_Pending] = []
        try:
            async with self._write(urgent=True) as s:
                for pending in batch:  # given the gate too late: not even tried
                    if pending.late(loop.time()):
                        pending.fail(pending.stalled())
                    else:
                        written.append(pending)
                if not written:
                    return
                # Bulk statements: one round trip each whatever the batch's size (added as
                # ORM objects, each event row was an INSERT ... RETURNING of its own).
                await s.execute(insert(Call), [p.values for p in written])
                await s.execute(insert(EventRow), [event_values(p.event) for p in written])
                if all(p.late(loop.time()) for p in written):
                    raise _AllGaveUp  # through the lock too late: rolled back
        except _AllGaveUp:
            for pending in written:
                pending.fail(pending.stalled())
            return
        except IntegrityError as exc:
            if len(written) > 1:  # one call's fault (a duplicate id): the others go on
                for pending in written:
                    await self._write_batch([pending])
                return
            for pending in written:
                pending.fail(exc)
            return
        except BaseException as exc:
            failure = exc if isinstance(exc, Exception) else StorageStalled("cancelled")
            for pending in written:
                pending.fail(failure)
            raise
        now = loop.time()
        for waiting in self._pending:
            waiting.progress(now)
        gone = [p for p in written if p.abandoned]
        for pending in written:
            if not pending.abandoned:
                pending.done.set_result(None)
                self._publish(pending.event)
        if gone:  # committed while their callers gave up (a slow COMMIT)
            task = loop.create_task(self._take_back([p.call_id for p in gone]))
            self._taking_back.add(task)
            task.add_done_callback(self._taking_back.discard)

    async def _take_back(self, call_ids: list[str]) -> None:
        try:
            async with self._write() as s:
                await s.execute(delete(EventRow).where(EventRow.call_id.in_(call_ids)))
                await s.execute(delete(Call).where(Call.id.in_(call_ids)))
        except (SQLAlchemyError, OSError) as exc:
            log.error("%d call(s) stored after their callers gave up and not taken back "
                      "(%s): recovery will draft them", len(call_ids), type(exc).__name__)

