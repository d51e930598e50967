"""回访 callbacks in storage: the queue, the claim that lets exactly one node dial, the
attempt log, and the outcome written onto the work order.

How it works. A dispatched order that was responded to or resolved, with a number to
call, gets one ``callbacks`` row (:meth:`CallbackStore.enqueue_handled`; a unique
``draft_id`` makes a second insert by another node fail harmlessly). A node takes due rows
with :meth:`CallbackStore.claim`: a conditional ``UPDATE`` per row (still ``queued``, due,
and unclaimed or its lease run out), so of several nodes exactly one gets each row,
whatever the database. :meth:`CallbackStore.finish_attempt` appends the attempt to the
log and either requeues the row at the time the caller chose, gives up (``exhausted``),
or closes it (``done``; ``refused`` when the citizen asked not to be called again). An
answered survey sets the order's ``resolved_at`` and ``satisfaction`` (the dashboard's
解决率 and 满意率 read those), and an unresolved or dissatisfied one sends the order back
to the agents' queue as 重办 (status ``new``, ``rework`` set). A number once refused is
never queued again. Nothing here logs a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.db import WriteTransactions, session_factory
from storage.events import Event, EventBus
from storage.models import AuditRow, CallbackRow, DraftRow, EventRow
from storage.repository import new_id

STATUSES = ("queued", "dialling", "done", "exhausted", "cancelled", "refused")
REACHED = ("answered",)
REFUSED = ("rejected",)
UNREACHABLE = ("busy", "no-answer", "failed")


@dataclass(frozen=True)
class CallbackJob:
    """A claimed callback: what the dialer needs."""

    id: str
    draft_id: str
    number: str
    attempts: int  # made before this one


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt's result, as the scheduler hands it in."""

    outcome: str  # answered | busy | no-answer | rejected | cancelled | failed
    status: int | None = None
    call_id: str | None = None
    resolved: bool | None = None
    satisfaction: str | None = None
    do_not_call: bool = False
    rework: bool = False  # the caller's reading of the answers (unresolved, dissatisfied)


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def callback_json(row: CallbackRow) -> dict[str, Any]:
    """A callback row as the console and ``callbacks list`` show it."""
    return {
        "id": row.id, "draft_id": row.draft_id, "status": row.status,
        "due_at": _iso(row.due_at), "attempts": row.attempts, "outcome": row.outcome,
        "resolved": row.resolved, "satisfaction": row.satisfaction, "call_id": row.call_id,
        "claimed_by": row.claimed_by, "log": list(row.log or []),
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
    }  # fmt: skip


def _iso(t: datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat() if t else None


class CallbackStore:
    """The callbacks table (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, bus: EventBus) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)
        self._bus = bus

    # --- queueing -------------------------------------------------------------------------

    async def enqueue(self, draft_id: str, number: str | None, now: datetime) -> str | None:
        """Queue a callback of ``draft_id`` to ``number`` due now. None when there is no
        number (an anonymous caller), or the order already has one; a number that
        refused callbacks before gets a ``refused`` row instead (never dialled)."""
        if not number:
            return None
        async with self._sessions() as s:
            if await s.scalar(select(CallbackRow.id).where(CallbackRow.draft_id == draft_id)):
                return None
            refused = await s.scalar(select(func.count()).select_from(CallbackRow).where(
                CallbackRow.number == number, CallbackRow.status == "refused"))
        row = CallbackRow(id=new_id(), draft_id=draft_id, number=number,
                          status="refused" if refused else "queued", due_at=now, attempts=0,
                          log=[], created_at=now, updated_at=now)  # fmt: skip
        try:
            async with self._write() as s:
                s.add(row)
        except IntegrityError:
            return None  # another node queued it first
        return row.id

    async def decline(self, draft_id: str, number: str | None, now: datetime) -> None:
        """The citizen asked at intake not to be called back (do-not-call): the order gets
        a ``refused`` callback row, never dialled, so :meth:`enqueue_handled` passes it
        over; a row still to be dialled is refused instead. The number, when known, is
        then never called for a later order either (as after a refusal at callback time)."""
        async with self._write() as s:
            row = await s.scalar(select(CallbackRow).where(CallbackRow.draft_id == draft_id)
                                 .with_for_update())  # fmt: skip
            if row is None:
                s.add(CallbackRow(id=new_id(), draft_id=draft_id, number=number or "",
                                  status="refused", due_at=now, attempts=0, log=[],
                                  created_at=now, updated_at=now))  # fmt: skip
            elif row.status in ("queued", "dialling", "exhausted", "cancelled"):
                row.status, row.updated_at = "refused", now

    async def enqueue_handled(self, now: datetime, limit: int = 100) -> int:
        """Queue a callback for every dispatched order responded to or resolved that has a
        phone number and no callback yet; the number queued."""
        async with self._sessions() as s:
            rows = (await s.execute(
                select(DraftRow.id, DraftRow.phone)
                .outerjoin(CallbackRow, CallbackRow.draft_id == DraftRow.id)
                .where(DraftRow.status == "dispatched", CallbackRow.id.is_(None),
                       DraftRow.phone.is_not(None),
                       or_(DraftRow.responded_at.is_not(None),
                           DraftRow.resolved_at.is_not(None)))
                .order_by(DraftRow.dispatched_at).limit(limit))).all()  # fmt: skip
        queued = 0
        for draft_id, phone in rows:
            queued += await self.enqueue(draft_id, phone, now) is not None
        return queued

    # --- claiming and outcomes -------------------------------------------------------------

    async def claim(self, node: str, now: datetime, limit: int,
                    lease: timedelta) -> list[CallbackJob]:  # fmt: skip
        """Take up to ``limit`` due callbacks for ``node`` (see the module docstring). A
        lease that runs out (the node died mid-call) makes the row claimable again."""
        if limit <= 0:
            return []
        free = or_(CallbackRow.claimed_until.is_(None), CallbackRow.claimed_until < now)
        due = and_(CallbackRow.due_at <= now, free,
                   or_(CallbackRow.status == "queued", CallbackRow.status == "dialling"))
        async with self._sessions() as s:
            candidates = (await s.execute(
                select(CallbackRow.id, CallbackRow.draft_id, CallbackRow.number,
                       CallbackRow.attempts)
                .where(due).order_by(CallbackRow.due_at).limit(limit))).all()  # fmt: skip
        jobs: list[CallbackJob] = []
        for cid, draft_id, number, attempts in candidates:
            async with self._write() as s:
                result = await s.execute(
                    update(CallbackRow).where(CallbackRow.id == cid, due)
                    .values(status="dialling", claimed_by=node, claimed_until=now + lease,
                            updated_at=now))  # fmt: skip
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    jobs.append(CallbackJob(cid, draft_id, number, attempts))
        return jobs

    async def finish_attempt(self, job: CallbackJob, node: str, record: AttemptRecord,
                             now: datetime, next_due: datetime | None) -> str:  # fmt: skip
        """Store one attempt; return the row's new status. ``next_due`` None after an
        unanswered attempt means no more attempts."""
        events: list[Event] = []
        async with self._write() as s:
            row = await s.get(CallbackRow, job.id, with_for_update=True)
            if row is None:
                return "cancelled"
            entry = {"at": now.isoformat(), "node": node, "outcome": record.outcome,
                     "status": record.status, "call_id": record.call_id}  # fmt: skip
            row.log = [*list(row.log or []), entry]
            row.attempts += 1
            row.outcome = record.outcome
            row.claimed_by, row.claimed_until, row.updated_at = None, None, now
            if row.status == "cancelled":
                pass  # cancelled by an admin while it rang: keep the log, stay cancelled
            elif record.outcome == "answered":
                row.status = "refused" if record.do_not_call else "done"
                row.resolved, row.satisfaction = record.resolved, record.satisfaction
                row.call_id = record.call_id
                events += await self._onto_order(s, row.draft_id, record, now)
            elif record.do_not_call:
                row.status = "refused"
            elif next_due is None:
                row.status = "exhausted"
            else:
                row.status, row.due_at = "queued", next_due
            status = row.status
            payload = {"callback_id": row.id, "draft_id": row.draft_id, "status": status,
                       "outcome": record.outcome, "attempts": row.attempts}  # fmt: skip
            events.append(Event("callback_attempt", record.call_id, payload, now))
            for event in events:
                s.add(EventRow(call_id=event.call_id, kind=event.kind, at=event.at,
                               payload=event.payload))
        for event in events:
            self._bus.publish(event)
        return status

    @staticmethod
    async def _onto_order(s: AsyncSession, draft_id: str, record: AttemptRecord,
                          now: datetime) -> list[Event]:  # fmt: skip
        """What the citizen said, onto the order, in the attempt's transaction:
        resolved_at, satisfaction, and 重办 (back to the agents' queue, flagged)."""
        order = await s.get(DraftRow, draft_id, with_for_update=True)
        if order is None:
            return []
        before = {"resolved_at": _iso(order.resolved_at), "satisfaction": order.satisfaction,
                  "status": order.status, "rework": order.rework}  # fmt: skip
        if record.resolved is not None:
            order.resolved_at = (_aware(order.resolved_at) or now) if record.resolved else None
        if record.satisfaction is not None:
            order.satisfaction = record.satisfaction
        if record.rework:
            order.status, order.rework = "new", True
            order.claimed_by = order.claimed_at = None
        order.updated_at = now
        after = {"resolved_at": _iso(order.resolved_at), "satisfaction": order.satisfaction,
                 "status": order.status, "rework": order.rework}  # fmt: skip
        s.add(AuditRow(at=now, username="callback", action="callback", draft_id=draft_id,
                       before=before, after=after))  # fmt: skip
        return [
            Event("callback_answered", record.call_id,
                  {"draft_id": draft_id, "resolved": record.resolved,
                   "satisfaction": record.satisfaction, "rework": record.rework}, now),
            Event("draft_updated", order.call_id,
                  {"draft_id": order.id, "status": order.status, "claimed_by": None}, now),
        ]  # fmt: skip

    # --- admin ----------------------------------------------------------------------------

    async def list(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Callbacks, the next due first (without their numbers)."""
        query = select(CallbackRow)
        if status:
            query = query.where(CallbackRow.status == status)
        async with self._sessions() as s:
            rows = (await s.scalars(query.order_by(CallbackRow.due_at).limit(limit))).all()
        return [callback_json(r) for r in rows]

    async def get(self, callback_id: str) -> dict[str, Any] | None:
        async with self._sessions() as s:
            row = await s.get(CallbackRow, callback_id)
        return callback_json(row) if row is not None else None

    async def for_draft(self, draft_id: str) -> dict[str, Any] | None:
        async with self._sessions() as s:
            row = await s.scalar(select(CallbackRow).where(CallbackRow.draft_id == draft_id))
        return callback_json(row) if row is not None else None

    async def cancel(self, callback_id: str, now: datetime) -> bool:
        """Stop a queued callback (an attempt under way finishes, then stays cancelled)."""
        async with self._write() as s:
            result = await s.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id,
                       CallbackRow.status.in_(("queued", "dialling", "exhausted")))
                .values(status="cancelled", updated_at=now))  # fmt: skip
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def retry(self, callback_id: str, now: datetime) -> bool:
        """Queue a callback again, due now (not one that is done or refused)."""
        async with self._write() as s:
            result = await s.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id,
                       CallbackRow.status.in_(("queued", "exhausted", "cancelled")))
                .values(status="queued", due_at=now, claimed_by=None, claimed_until=None,
                        updated_at=now))  # fmt: skip
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def stats(self) -> dict[str, int]:
        """Attempt statistics beside the rates: orders reached, refused, unreachable
        (every attempt made unanswered and no more to come), and still queued."""
        async with self._sessions() as s:
            rows = (await s.execute(select(CallbackRow.status, CallbackRow.outcome,
                                           func.count()).group_by(CallbackRow.status,
                                                                  CallbackRow.outcome))).all()
        out = {"reached": 0, "refused": 0, "unreachable": 0, "queued": 0, "attempts": 0}
        for status, outcome, count in rows:
            if status == "done" or (status == "refused" and outcome == "answered"):
                out["reached"] += count
            if status == "refused" or (status == "exhausted" and outcome in REFUSED):
                out["refused"] += count
            elif status == "exhausted":
                out["unreachable"] += count
            elif status in ("queued", "dialling"):
                out["queued"] += count
        async with self._sessions() as s:
            out["attempts"] = int(await s.scalar(select(func.coalesce(
                func.sum(CallbackRow.attempts), 0))) or 0)  # fmt: skip
        return out
