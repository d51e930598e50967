"""The store: calls, utterances, drafts and events, over an async SQLAlchemy session.

A call is admitted only once its row is stored, and admission cannot wait long: with
``deadline_s``, ``create_call`` gives up at the deadline and raises ``StorageStalled``.
New calls are stored by :class:`storage.call_inserts.CallInserts`: those waiting together
go in one transaction (a burst of calls is not stored one after another), and nothing of a
call given up on stays: not written, rolled back, or deleted again if it was committing
when its caller gave up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import load_only, selectinload

from storage.call_inserts import CallInserts
from storage.db import WriteTransactions, session_factory
from storage.event_inserts import EventInserts
from storage.events import Event, EventBus
from storage.learning import Learning
from storage.models import Call, DraftRow, EventRow, UtteranceRow


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class StoredUtterance:
    seq: int
    start: float
    end: float
    text: str
    confidence: float
    words: list[Any]
    error: str | None = None
    alternatives: list[str] = field(default_factory=list)


class Store:
    """Every read and write the service does; each method is one transaction."""

    def __init__(self, engine: AsyncEngine, bus: EventBus | None = None, *,
                 node_id: str | None = None) -> None:
        self.engine = engine
        self.bus = bus or EventBus()
        self.node_id = node_id  # stored with every call this store creates
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)
        self._calls = CallInserts(self._write, self.bus.publish)
        self._events = EventInserts(self._write, self.bus.publish)
        # The aliases learnt from agents' corrections that drafts are made with.
        self.learning = Learning(engine, self.bus)

    @property
    def recovery_scope(self) -> str | None:
        """Whose unfinished calls this node recovers and sweeps: its own on a shared
        database; every call on SQLite (one node, whatever its host is called now)."""
        return None if self.engine.dialect.name == "sqlite" else self.node_id

    def write_stalled_for(self, now: float) -> float:
        """Seconds (``time.monotonic``) the oldest write to the database now waiting or
        running has taken, whichever store it is from; 0.0 if none."""
        return self._write.stalled_for(now)

    async def settle(self) -> None:
        """Wait until the INSERTs of ``create_call`` have ended, those given up on too
        (rolled back or taken back), and the events' batches; before the engine is disposed
        of, and in tests."""
        await self._calls.settle()
        await self._events.settle()

    async def record_event(self, event: Event) -> None:
        """Store ``event`` (with the others waiting: :mod:`storage.event_inserts`), then
        publish it."""
        await self._events.insert(event)

    async def create_call(
        self, source: str, caller_number: str | None, recording_path: str | None,
        asr_engine: str | None, call_id: str | None = None, *,
        deadline_s: float | None = None,
    ) -> str:
        """Store a new active call and its ``call_started`` event; return the call's id.

        With ``deadline_s``: ``StorageStalled`` (a ``TimeoutError``) if the call is not
        stored within that many seconds, and then nothing of it is (see the module
        docstring). A cancelled caller gives up the same way."""
        call_id = call_id or new_id()
        now = datetime.now(UTC)
        event = Event("call_started", call_id, {"source": source}, now)

        values = {"id": call_id, "source": source, "caller_number": caller_number,
                  "status": "active", "started_at": now, "recording_path": recording_path,
                  "asr_engine": asr_engine, "node_id": self.node_id}
        await self._calls.insert(values, event, deadline_s)
        return call_id

    async def add_utterance(self, call_id: str, u: StoredUtterance) -> None:
        event = Event("utterance", call_id, {
            "seq": u.seq, "start": u.start, "end": u.end, "text": u.text,
        })
        async with self._write() as s:
            s.add(UtteranceRow(call_id=call_id, seq=u.seq, start_s=u.start, end_s=u.end,
                               text=u.text, confidence=u.confidence, words=u.words,
                               error=u.error, alternatives=u.alternatives or None))
            s.add(_event_row(event))
        self.bus.publish(event)

    async def replace_utterances(self, call_id: str, utterances: list[StoredUtterance]) -> None:
        """Swap a call's utterances for a fresh transcription (crash recovery)."""
        async with self._write() as s:
            await s.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
            for u in utterances:
                s.add(UtteranceRow(call_id=call_id, seq=u.seq, start_s=u.start, end_s=u.end,
                                   text=u.text, confidence=u.confidence, words=u.words,
                                   error=u.error, alternatives=u.alternatives or None))

    async def end_call(self, call_id: str, reason: str, duration_s: float, *,
                       recording_complete: bool = True) -> bool:
        """Mark an active call ended; True if it was active. A call already ended (or
        drafted) keeps its end as first stored: ending it again, as a retry or recovery
        may, changes nothing."""
        now = datetime.now(UTC)
        async with self._write() as s:
            call = await s.get_one(Call, call_id, with_for_update=True)
            if call.status != "active":
                return False
            call.status, call.ended_at, call.end_reason = "ended", now, reason
            call.duration_s, call.recording_complete = duration_s, recording_complete
            s.add(_event_row(event := Event("call_ended", call_id, {"reason": reason}, now)))
        self.bus.publish(event)
        return True

    async def save_draft(
        self, call_id: str | None, transcript: str, fields: dict[str, Any],
        evidence: dict[str, Any], related: list[str], escalate: bool,
    ) -> dict[str, Any]:
        """Store a new draft; return its JSON form with id, call_id, created_at, status."""
        draft_id = new_id()
        now = datetime.now(UTC)
        fields = {**fields, "id": draft_id}
        async with self._write() as s:
            s.add(DraftRow(
                id=draft_id, call_id=call_id, created_at=now, updated_at=now, status="new",
                transcript=transcript, fields=fields, evidence=evidence,
                phone=fields.get("phone"), district=fields.get("district"),
                street=fields.get("street"), category=fields.get("category"),
                urgent=bool(fields.get("urgent")), related=related, escalate=escalate,
            ))
            if call_id is not None:
                call = await s.get_one(Call, call_id)
                call.status = "drafted"
            event = Event("draft_created", call_id, {"draft_id": draft_id}, now)
            s.add(_event_row(event))
        self.bus.publish(event)
        return draft_json_from(fields, call_id, now, "new")

    async def list_drafts(self, limit: int = 100) -> list[dict[str, Any]]:
        """Drafts newest first, as JSON objects."""
        async with self._sessions() as s:
            rows = (await s.scalars(
                select(DraftRow).order_by(DraftRow.created_at.desc(), DraftRow.id).limit(limit)
            )).all()
        return [draft_json_from(r.fields, r.call_id, r.created_at, r.status) for r in rows]

    async def recent_drafts_like(
        self, phone: str | None, district: str | None, street: str | None, since: datetime
    ) -> list[DraftRow]:
        """Drafts since ``since`` with the same phone, or at the same district and street:
        the candidates for repeat-caller linking."""
        conditions = []
        if phone:
            conditions.append(DraftRow.phone == phone)
        if district and street:
            conditions.append((DraftRow.district == district) & (DraftRow.street == street))
        if not conditions:
            return []
        async with self._sessions() as s:
            # Only what linking needs: transcripts and evidence stay in the database.
            rows = await s.scalars(
                select(DraftRow)
                .options(load_only(DraftRow.id, DraftRow.phone, DraftRow.district,
                                   DraftRow.street, DraftRow.category, DraftRow.created_at,
                                   DraftRow.fields, DraftRow.related, DraftRow.escalate))
                .where(DraftRow.created_at >= since, or_(*conditions))
                .order_by(DraftRow.created_at.desc())
                .limit(50)
            )
            return list(rows.all())

    async def get_call(self, call_id: str) -> Call | None:
        async with self._sessions() as s:
            call: Call | None = await s.get(
                Call, call_id, options=[selectinload(Call.utterances)]
            )
            return call

    async def call_events(self, call_id: str, kinds: tuple[str, ...]) -> list[Event]:
        """The call's stored events of these kinds, in the order they were stored."""
        async with self._sessions() as s:
            rows = await s.scalars(
                select(EventRow)
                .where(EventRow.call_id == call_id, EventRow.kind.in_(kinds))
                .order_by(EventRow.id))
            return [Event(r.kind, r.call_id, dict(r.payload or {}), _utc(r.at))
                    for r in rows.all()]

    async def close_unanswered(self, call_id: str, reason: str) -> None:
        """A stored call that was never answered (cancelled, the answer failed): closed
        as ``abandoned``, so that it is neither drafted nor taken for unfinished."""
        now = datetime.now(UTC)
        async with self._write() as s:
            call = await s.get_one(Call, call_id)
            if call.status != "active":
                return
            call.status, call.ended_at, call.end_reason = "abandoned", now, reason
            call.duration_s = 0.0
            s.add(_event_row(event := Event("call_ended", call_id, {"reason": reason}, now)))
        self.bus.publish(event)

    async def unfinished_calls(self, node_id: str | None = None) -> list[Call]:
        """Calls that were still active when the service stopped; with ``node_id``, only
        that node's (and those stored before calls had a node): another node's calls are
        its own to recover, or ``voice-intake recover``'s once it is known dead."""
        query = select(Call).where(Call.status.in_(("active", "ended")))
        if node_id is not None:
            query = query.where(or_(Call.node_id == node_id, Call.node_id.is_(None)))
        async with self._sessions() as s:
            return list((await s.scalars(query)).all())

    async def undrafted_calls(self, ended_before: datetime,
                              node_id: str | None = None) -> list[Call]:
        """Calls that ended before ``ended_before`` and still have no draft (it failed);
        with ``node_id``, only that node's (and those with no node)."""
        query = select(Call).where(Call.status == "ended", Call.ended_at.is_not(None),
                                   Call.ended_at < ended_before)
        if node_id is not None:
            query = query.where(or_(Call.node_id == node_id, Call.node_id.is_(None)))
        async with self._sessions() as s:
            return list((await s.scalars(query.order_by(Call.ended_at))).all())


def _event_row(event: Event) -> EventRow:
    return EventRow(call_id=event.call_id, kind=event.kind, at=event.at, payload=event.payload)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite: naive, UTC


def draft_json_from(
    fields: dict[str, Any], call_id: str | None, created_at: datetime, status: str
) -> dict[str, Any]:
    return {**fields, "call_id": call_id, "created_at": _utc(created_at).isoformat(),
            "status": status}
