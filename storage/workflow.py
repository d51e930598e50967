"""The review workflow of drafts: claim, edit, dispatch, merge, reject, follow up.

A draft moves ``new`` → ``dispatched`` (it is now a work order), ``merged`` (a repeat of an
earlier order) or ``rejected`` (not an appeal). While ``new`` an agent claims it; the claim
is a lock that expires after ``claim_ttl`` without activity, so an agent who walks away
does not hold a draft forever. Every change writes an audit row (who, when, before, after)
and a ``draft_updated`` event in the same transaction; the event is published once the
transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import WriteTransactions, session_factory
from storage.events import Event, EventBus
from storage.learning import add_pairs
from storage.models import AuditRow, Call, DraftRow, EventRow
from storage.repository import draft_json_from
from workorders.learned import correction_pairs

STATUSES = ("new", "dispatched", "merged", "rejected")
REJECT_REASONS = ("silent", "prank", "not_appeal")
SATISFACTION = ("satisfied", "basic", "dissatisfied")
# Columns that copy a field of the draft's JSON for filtering and sorting.
_COPIED = ("phone", "district", "street", "category")


class WorkflowError(Exception):
    """Base of the workflow's errors; the console turns each into an HTTP status."""


class DraftNotFound(WorkflowError):
    pass


class WorkflowConflict(WorkflowError):
    """The draft is claimed by someone else, or no longer in a state that allows this."""


class WorkflowInvalid(WorkflowError):
    """A bad value: an unknown reason, a merge into itself, ..."""


def aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they are UTC."""
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    t = aware(t)
    return t.isoformat() if t else None


def workflow_of(row: DraftRow, now: datetime, ttl: timedelta,
                channel: str | None = None) -> dict[str, Any]:
    """The review state of a draft as JSON (the claim only while it is live), with the
    channel its call came by (``sip``, ``webrtc``, ``file``) when it is known."""
    claimed_at = aware(row.claimed_at)
    live = row.claimed_by is not None and claimed_at is not None and claimed_at + ttl > now
    return {
        "claimed_by": row.claimed_by if live else None,
        "claimed_at": _iso(claimed_at) if live else None,
        "reviewed_by": row.reviewed_by, "reviewed_at": _iso(row.reviewed_at),
        "merged_into": row.merged_into, "reject_reason": row.reject_reason,
        "dispatched_to": row.dispatched_to, "dispatched_at": _iso(row.dispatched_at),
        "responded_at": _iso(row.responded_at), "resolved_at": _iso(row.resolved_at),
        "satisfaction": row.satisfaction, "related": list(row.related or []),
        "escalate": row.escalate, "channel": channel,
    }


def draft_json(row: DraftRow) -> dict[str, Any]:
    return draft_json_from(row.fields, row.call_id, row.created_at, row.status)


@dataclass(frozen=True)
class AuditEntry:
    at: str
    username: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class DraftDetail:
    draft: dict[str, Any]
    workflow: dict[str, Any]
    transcript: str
    evidence: dict[str, Any]
    call: dict[str, Any] | None
    utterances: list[dict[str, Any]]
    audit: list[AuditEntry] = field(default_factory=list)


class DraftWorkflow:
    """Reads and changes of drafts for the console; each method is one transaction."""

    def __init__(self, engine: AsyncEngine, bus: EventBus,
                 claim_ttl: timedelta = timedelta(minutes=15)) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)
        self._bus = bus
        self.claim_ttl = claim_ttl

    # ------------------------------------------------------------------ reads

    async def queue(
        self, status: str | None = "new", category: str | None = None,
        district: str | None = None, limit: int = 200, newest_first: bool = False,
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Drafts for the agent queue: urgent first, then oldest first (or, with
        ``newest_first``, newest first as ``Store.list_drafts`` orders them)."""
        # The call's channel (sip, webrtc, file) beside each draft; None for a draft
        # without a call.
        query = select(DraftRow, Call.source).outerjoin(Call, Call.id == DraftRow.call_id)
        if status:
            query = query.where(DraftRow.status == status)
        if category:
            query = query.where(DraftRow.category == category)
        if district:
            query = query.where(DraftRow.district == district)
        if newest_first:
            query = query.order_by(DraftRow.created_at.desc(), DraftRow.id)
        else:
            query = query.order_by(DraftRow.urgent.desc(), DraftRow.created_at, DraftRow.id)
        now = datetime.now(UTC)
        async with self._sessions() as s:
            rows = (await s.execute(query.limit(limit))).all()
        return [(draft_json(r), workflow_of(r, now, self.claim_ttl, channel))
                for r, channel in rows]

    async def draft(self, draft_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        async with self._sessions() as s:
            row = await s.get(DraftRow, draft_id)
            channel = None
            if row is not None and row.call_id is not None:
                channel = await s.scalar(select(Call.source).where(Call.id == row.call_id))
        if row is None:
            return None
        return draft_json(row), workflow_of(row, datetime.now(UTC), self.claim_ttl, channel)

    async def detail(self, draft_id: str) -> DraftDetail:
        """Everything the review page shows: draft, call, timed utterances, audit trail."""
        async with self._sessions() as s:
            row = await s.get(DraftRow, draft_id)
            if row is None:
                raise DraftNotFound(draft_id)
            call = None
            if row.call_id is not None:
                call = await s.get(Call, row.call_id, options=[selectinload(Call.utterances)])
            audit = (await s.scalars(
                select(AuditRow).where(AuditRow.draft_id == draft_id).order_by(AuditRow.id)
            )).all()
        utterances = [
            {"seq": u.seq, "start": u.start_s, "end": u.end_s, "text": u.text,
             "confidence": u.confidence, "words": u.words}
            for u in (call.utterances if call else [])
        ]
        call_json = None if call is None else {
            "id": call.id, "source": call.source, "caller_number": call.caller_number,
            "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at),
            "duration_s": call.duration_s, "has_recording": bool(call.recording_path),
        }
        return DraftDetail(
            draft_json(row),
            workflow_of(row, datetime.now(UTC), self.claim_ttl, call.source if call else None),
            row.transcript, dict(row.evidence or {}), call_json, utterances,
            [AuditEntry(_iso(a.at) or "", a.username, a.action, a.before, a.after)
             for a in audit],
        )

    async def recording_path(self, draft_id: str) -> str | None:
        async with self._sessions() as s:
            row = await s.get(DraftRow, draft_id)
            if row is None:
                raise DraftNotFound(draft_id)
            call = await s.get(Call, row.call_id) if row.call_id else None
            return call.recording_path if call else None

    # ------------------------------------------------------------------ changes

    async def claim(self, draft_id: str, username: str) -> dict[str, Any]:
        """Lock the draft to ``username`` (or renew the lock they hold)."""
        now = datetime.now(UTC)
        async with self._write() as s:
            result = await s.execute(
                update(DraftRow)
                .where(DraftRow.id == draft_id, DraftRow.status == "new",
                       or_(DraftRow.claimed_by.is_(None), DraftRow.claimed_by == username,
                           DraftRow.claimed_at < now - self.claim_ttl))
                .values(claimed_by=username, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            row = await s.get(DraftRow, draft_id, populate_existing=True)
            if row is None:
                raise DraftNotFound(draft_id)
            if getattr(result, "rowcount", 0) != 1:
                if row.status != "new":
                    raise WorkflowConflict(f"draft is {row.status}")
                raise WorkflowConflict(f"claimed by {row.claimed_by}")
            event = self._changed(s, row)
        self._bus.publish(event)
        return workflow_of(row, now, self.claim_ttl)

    async def release(self, draft_id: str, username: str) -> None:
        async with self._write() as s:
            row = await self._held(s, draft_id, username, datetime.now(UTC))
            row.claimed_by, row.claimed_at = None, None
            event = self._changed(s, row)
        self._bus.publish(event)

    async def edit(self, draft_id: str, username: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply field corrections; a corrected field's confidence becomes 1 (a person
        confirmed it). Returns the draft's JSON."""
        now = datetime.now(UTC)
        async with self._write() as s:
            row = await self._held(s, draft_id, username, now)
            fields = dict(row.fields)
            before = {k: fields.get(k) for k in changes if fields.get(k) != changes[k]}
            if before:
                after = {k: changes[k] for k in before}
                fields.update(after)
                fields["confidence"] = {**fields.get("confidence", {}),
                                        **dict.fromkeys(after, 1.0)}
                self._set_fields(row, fields)
                row.updated_at = now
                self._audit(s, username, "edit", draft_id, before, after, now)
                # What the drafter heard → what the agent meant: the learning loop's pairs.
                add_pairs(s, correction_pairs(row.transcript, dict(row.evidence or {}),
                                              before, after),
                          draft_id=draft_id, call_id=row.call_id, username=username, now=now)
            row.claimed_at = now
            event = self._changed(s, row)
        self._bus.publish(event)
        return draft_json(row)

    async def dispatch(self, draft_id: str, username: str, unit: str | None) -> dict[str, Any]:
        """Approve the draft and dispatch it to ``unit`` (default: the suggested one)."""
        now = datetime.now(UTC)
        async with self._write() as s:
            row = await self._held(s, draft_id, username, now)
            unit = (unit or row.fields.get("dispatch_to") or "").strip()
            if not unit:
                raise WorkflowInvalid("no unit to dispatch to")
            before = {"status": row.status, "dispatch_to": row.fields.get("dispatch_to")}
            self._set_fields(row, {**row.fields, "dispatch_to": unit})
            row.status, row.dispatched_to, row.dispatched_at = "dispatched", unit, now
            self._close(row, username, now)
            self._audit(s, username, "dispatch", draft_id, before,
                        {"status": "dispatched", "dispatch_to": unit}, now)
            event = self._changed(s, row, reviewed=True)
        self._bus.publish(event)
        return draft_json(row)

    async def merge(self, draft_id: str, username: str, into: str) -> dict[str, Any]:
        """Close the draft as a repeat of the earlier order ``into``."""
        now = datetime.now(UTC)
        if into == draft_id:
            raise WorkflowInvalid("a draft cannot be merged into itself")
        async with self._write() as s:
            row = await self._held(s, draft_id, username, now)
            target = await s.get(DraftRow, into)
            if target is None or target.status in ("merged", "rejected"):
                raise WorkflowInvalid("merge target is not an open or dispatched work order")
            row.status, row.merged_into = "merged", into
            target.related = [*(target.related or []), draft_id]
            self._close(row, username, now)
            self._audit(s, username, "merge", draft_id, {"status": "new"},
                        {"status": "merged", "merged_into": into}, now)
            event = self._changed(s, row, reviewed=True)
        self._bus.publish(event)
        return draft_json(row)

    async def reject(self, draft_id: str, username: str, reason: str) -> dict[str, Any]:
        """Close the draft as not an appeal (a silent call, a prank, ...)."""
        if reason not in REJECT_REASONS:
            raise WorkflowInvalid(f"reason must be one of {', '.join(REJECT_REASONS)}")
        now = datetime.now(UTC)
        async with self._write() as s:
            row = await self._held(s, draft_id, username, now)
            row.status, row.reject_reason = "rejected", reason
            self._close(row, username, now)
            self._audit(s, username, "reject", draft_id, {"status": "new"},
                        {"status": "rejected", "reject_reason": reason}, now)
            event = self._changed(s, row, reviewed=True)
        self._bus.publish(event)
        return draft_json(row)

    async def follow_up(
        self, draft_id: str, username: str, responded: bool | None = None,
        resolved: bool | None = None, satisfaction: str | None = None,
    ) -> dict[str, Any]:
        """Record a dispatched work order's response, resolution and the caller's
        satisfaction; ``None`` leaves a field as it is."""
        if satisfaction is not None and satisfaction not in SATISFACTION:
            raise WorkflowInvalid(f"satisfaction must be one of {', '.join(SATISFACTION)}")
        now = datetime.now(UTC)
        async with self._write() as s:
            row = await s.get(DraftRow, draft_id, with_for_update=True)
            if row is None:
                raise DraftNotFound(draft_id)
            if row.status != "dispatched":
                raise WorkflowConflict("only a dispatched work order has a follow-up")
            before = {"responded_at": _iso(row.responded_at), "resolved_at": _iso(row.resolved_at),
                      "satisfaction": row.satisfaction}
            if responded is not None:
                row.responded_at = (aware(row.responded_at) or now) if responded else None
            if resolved is not None:
                row.resolved_at = (aware(row.resolved_at) or now) if resolved else None
            if satisfaction is not None:
                row.satisfaction = satisfaction
            after = {"responded_at": _iso(row.responded_at), "resolved_at": _iso(row.resolved_at),
                     "satisfaction": row.satisfaction}
            if after != before:
                self._audit(s, username, "follow_up", draft_id, before, after, now)
            event = self._changed(s, row)
        self._bus.publish(event)
        return workflow_of(row, now, self.claim_ttl)

    # ------------------------------------------------------------------ helpers

    async def _held(self, s: AsyncSession, draft_id: str, username: str,
                    now: datetime) -> DraftRow:
        """The draft, locked for this transaction, provided ``username`` holds its claim."""
        row = await s.get(DraftRow, draft_id, with_for_update=True)
        if row is None:
            raise DraftNotFound(draft_id)
        if row.status != "new":
            raise WorkflowConflict(f"draft is {row.status}")
        claimed_at = aware(row.claimed_at)
        if row.claimed_by != username or claimed_at is None or claimed_at + self.claim_ttl <= now:
            raise WorkflowConflict("claim the draft first")
        return row

    @staticmethod
    def _set_fields(row: DraftRow, fields: dict[str, Any]) -> None:
        row.fields = fields
        for name in _COPIED:
            setattr(row, name, fields.get(name))
        row.urgent = bool(fields.get("urgent"))

    @staticmethod
    def _close(row: DraftRow, username: str, now: datetime) -> None:
        row.reviewed_by, row.reviewed_at, row.updated_at = username, now, now
        row.claimed_by, row.claimed_at = None, None

    @staticmethod
    def _audit(s: AsyncSession, username: str, action: str, draft_id: str,
               before: dict[str, Any], after: dict[str, Any], now: datetime) -> None:
        s.add(AuditRow(at=now, username=username, action=action, draft_id=draft_id,
                       before=before, after=after))

    @staticmethod
    def _changed(s: AsyncSession, row: DraftRow, reviewed: bool = False) -> Event:
        """Persist (in this transaction) the event to publish after commit."""
        payload = {"draft_id": row.id, "status": row.status, "claimed_by": row.claimed_by}
        event = Event("draft_reviewed" if reviewed else "draft_updated", row.call_id, payload)
        s.add(EventRow(call_id=event.call_id, kind=event.kind, at=event.at,
                       payload=event.payload))
        return event
