"""The learning loop's storage: correction pairs, proposals, decisions, the live alias set.

How it works. :meth:`DraftWorkflow.edit` stores one pair per learnable field an agent
corrected (:func:`workorders.learned.correction_pairs`), in the edit's own transaction.
Proposals are counted on demand: a (field, heard, value) seen on at least ``min_count``
drafts is a proposed alias; a place name corrected on ``min_count`` drafts is a proposed
hot-word, whatever was heard. An admin's decision is a row keyed by the proposal's id
(a hash of its key, the same on every node) and an ``aliases_changed`` event in the same
transaction. :class:`Learning` keeps the approved set (:attr:`Learning.current`) that
drafts are made with: reloaded at once on the node that decided, and on the other nodes
when the event arrives through PostgreSQL LISTEN/NOTIFY (storage/pgevents.py), or after
a ``resync``. Nothing here logs heard texts or values: they come from transcripts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.db import WriteTransactions, session_factory
from storage.events import Event, EventBus
from storage.models import AliasDecisionRow, CorrectionPairRow, EventRow
from workorders.knowledge import Knowledge, knowledge
from workorders.learned import (
    HOTWORD,
    KINDS,
    NO_ALIASES,
    PLACE_FIELDS,
    Alias,
    CorrectionPair,
    LearnedAliases,
    known_value,
    proposal_id,
)

log = logging.getLogger(__name__)

ALIASES_CHANGED = "aliases_changed"
RESYNC = "resync"  # storage.pgevents: notifications may have been missed
DECISIONS = ("approved", "rejected")
MAX_VALUE = 64
EXAMPLE_CALLS = 5


class ProposalNotFound(LookupError):
    """No proposal with this id (or it recurs too rarely to be one)."""


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str  # place | phrase | surname | hotword
    field: str
    heard: str
    value: str
    count: int  # drafts whose correction made this pair
    calls: tuple[str, ...]  # example call ids, newest first
    drafts: tuple[str, ...]  # their drafts (the review page's links)
    drafted: tuple[str, ...]  # what the drafter had said instead (None: nothing)
    known: bool  # the value is one the drafter's data has: approving it takes effect
    status: str  # proposed | approved | rejected
    decided_by: str | None = None
    decided_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "field": self.field, "heard": self.heard,
                "value": self.value, "count": self.count, "calls": list(self.calls),
                "drafts": list(self.drafts), "drafted": list(self.drafted),
                "known": self.known,
                "status": self.status, "decided_by": self.decided_by,
                "decided_at": self.decided_at}


def add_pairs(s: AsyncSession, pairs: list[CorrectionPair], *, draft_id: str,
              call_id: str | None, username: str, now: datetime) -> None:
    """Store an edit's pairs in the edit's transaction (values too long are not names)."""
    for p in pairs:
        if len(p.value) > MAX_VALUE:
            continue
        drafted = p.drafted if p.drafted is None or len(p.drafted) <= MAX_VALUE else None
        s.add(CorrectionPairRow(at=now, draft_id=draft_id, call_id=call_id, field=p.field,
                                heard=p.heard, value=p.value, drafted=drafted,
                                username=username))


class Learning:
    """Proposals and decisions over the correction pairs, and the approved alias set."""

    def __init__(self, engine: AsyncEngine, bus: EventBus) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)
        self._bus = bus
        self.current: LearnedAliases = NO_ALIASES
        self.changed = asyncio.Event()  # set on every reload (tests wait on it)
        # Called with the new set after every reload (the ASR pool's hot-word prompt).
        self.on_reload: list[Callable[[LearnedAliases], None]] = []

    # ------------------------------------------------------------------ proposals

    async def proposals(self, min_count: int, status: str | None = "proposed",
                        data: Knowledge | None = None) -> list[Proposal]:
        """Pairs that recur on ``min_count`` drafts or more, most frequent first, each with
        its decision; ``status`` keeps one kind (``None``: all). A decided alias is listed
        even when it recurs less now. ``data`` (default: the shipped data) tells whether
        each value is one an alias can take effect with."""
        min_count = max(1, min_count)
        if data is None:
            data = await asyncio.to_thread(knowledge)
        async with self._sessions() as s:
            n = func.count(distinct(CorrectionPairRow.draft_id))
            pairs = (await s.execute(
                select(CorrectionPairRow.field, CorrectionPairRow.heard,
                       CorrectionPairRow.value, n)
                .where(CorrectionPairRow.heard.is_not(None))
                .group_by(CorrectionPairRow.field, CorrectionPairRow.heard,
                          CorrectionPairRow.value))).all()
            places = (await s.execute(
                select(CorrectionPairRow.value, n)
                .where(CorrectionPairRow.field.in_(PLACE_FIELDS))
                .group_by(CorrectionPairRow.value))).all()
            decided = {d.id: d for d in (await s.scalars(select(AliasDecisionRow))).all()}
            counts: dict[str, tuple[str, str, str, int]] = {}
            for field, heard, value, count in pairs:
                counts[proposal_id(field, heard, value)] = (field, heard, value, count)
            for value, count in places:
                counts[proposal_id(HOTWORD, "", value)] = (HOTWORD, "", value, count)
            out: list[Proposal] = []
            for pid, (field, heard, value, count) in counts.items():
                d = decided.get(pid)
                if count < min_count and d is None:
                    continue
                state = d.status if d is not None else "proposed"
                if status is not None and state != status:
                    continue
                calls, drafts, drafted = await self._examples(s, field, heard, value)
                out.append(Proposal(
                    pid, KINDS[field], field, heard, value, count, calls, drafts, drafted,
                    known_value(field, value, data), state,
                    d.decided_by if d else None,
                    _iso(d.decided_at) if d else None))
        out.sort(key=lambda p: (-p.count, p.kind, p.field, p.value, p.heard))
        return out

    @staticmethod
    async def _examples(s: AsyncSession, field: str, heard: str,
                        value: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        query = select(CorrectionPairRow.call_id, CorrectionPairRow.draft_id,
                       CorrectionPairRow.drafted)
        if field == HOTWORD:
            query = query.where(CorrectionPairRow.field.in_(PLACE_FIELDS),
                                CorrectionPairRow.value == value)
        else:
            query = query.where(CorrectionPairRow.field == field,
                                CorrectionPairRow.heard == heard,
                                CorrectionPairRow.value == value)
        rows = (await s.execute(query.order_by(CorrectionPairRow.id.desc()).limit(50))).all()
        drafted = tuple(dict.fromkeys(r.drafted for r in rows if r.drafted))[:EXAMPLE_CALLS]
        rows = [r for r in rows if r.call_id is not None]
        seen = dict(zip((r.call_id for r in rows), (r.draft_id for r in rows), strict=True))
        calls = tuple(dict.fromkeys(r.call_id for r in rows))[:EXAMPLE_CALLS]
        return calls, tuple(seen[c] for c in calls), drafted

    async def decide(self, pid: str, status: str, username: str,
                     min_count: int) -> Proposal:
        """Approve or reject a proposal (again: a decision can be changed); the approved
        set is reloaded here and, through the event, on every other node."""
        if status not in DECISIONS:
            raise ValueError(f"status must be one of {', '.join(DECISIONS)}")
        found = next((p for p in await self.proposals(min_count, None) if p.id == pid), None)
        if found is None:
            raise ProposalNotFound(pid)
        now = datetime.now(UTC)
        event = Event(ALIASES_CHANGED, None, {"id": pid, "status": status})
        async with self._write() as s:
            row = await s.get(AliasDecisionRow, pid, with_for_update=True)
            if row is None:
                row = AliasDecisionRow(id=pid, field=found.field, heard=found.heard,
                                       value=found.value)
                s.add(row)
            row.status, row.count, row.decided_by, row.decided_at = (
                status, found.count, username, now)
            s.add(EventRow(call_id=None, kind=event.kind, at=event.at, payload=event.payload))
        await self.reload()
        self._bus.publish(event)
        log.info("alias proposal %s %s (%s)", pid, status, found.kind)
        return replace(found, status=status, decided_by=username, decided_at=_iso(now))

    # ------------------------------------------------------------------ the live set

    async def approved(self) -> LearnedAliases:
        async with self._sessions() as s:
            rows = (await s.scalars(
                select(AliasDecisionRow).where(AliasDecisionRow.status == "approved")
                .order_by(AliasDecisionRow.field, AliasDecisionRow.heard,
                          AliasDecisionRow.value))).all()
        return LearnedAliases(tuple(Alias(r.field, r.heard, r.value) for r in rows))

    async def reload(self) -> LearnedAliases:
        self.current = await self.approved()
        for hook in self.on_reload:
            hook(self.current)
        self.changed.set()
        return self.current

    async def watch(self) -> None:
        """Reload whenever another node decided (or notifications may have been missed);
        run as a task for the life of the service."""
        async with self._bus.subscribe() as events:
            while True:
                event = await events.get()
                if event.kind in (ALIASES_CHANGED, RESYNC):
                    try:
                        await self.reload()
                    except Exception:  # the database is away: the next event retries
                        log.exception("reloading the approved aliases failed")


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()
