"""What the admin analytics read and write: work orders as facts, and three kinds of event.

No table of its own: a month's topic (每月一题) is a ``monthly_topic`` event, the tag on
each of its orders an ``order_tagged`` event (``payload.draft_id``, ``payload.tag``), and
a 未诉先办 alert a ``spike_alert`` event, published on the bus as well so that admins'
websockets get it at once. Rejected drafts (silent, prank, not an appeal) are not orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.db import WriteTransactions, session_factory
from storage.events import Event, EventBus
from storage.models import DraftRow, EventRow
from storage.repository import Store
from storage.workflow import aware
from workorders.insight import OrderFact

TOPIC = "monthly_topic"
TAG = "order_tagged"
ALERT = "spike_alert"


def fact_of(row: DraftRow) -> OrderFact:
    fields = row.fields or {}
    return OrderFact(
        id=row.id, created_at=aware(row.created_at) or row.created_at, district=row.district,
        street=row.street, category=row.category, subcategory=fields.get("subcategory"),
        transcript=row.transcript or "", summary=fields.get("summary"),
        address=fields.get("address"), phone=row.phone,
        repeat=bool(row.related), escalated=bool(row.escalate), satisfaction=row.satisfaction,
    )


class AnalyticsStore:
    """Reads of orders and analytics events; writes of topics, tags and alerts."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sessions = session_factory(store.engine)
        self._write = WriteTransactions(store.engine)

    @property
    def bus(self) -> EventBus:
        return self._store.bus

    async def facts(self, since: datetime, until: datetime, *,
                    escalated_only: bool = False) -> list[OrderFact]:
        """Orders created in ``[since, until)``, oldest first."""
        query = (select(DraftRow)
                 .where(DraftRow.created_at >= since, DraftRow.created_at < until,
                        DraftRow.status != "rejected")
                 .order_by(DraftRow.created_at, DraftRow.id))
        if escalated_only:
            query = query.where(DraftRow.escalate.is_(True))
        async with self._sessions() as s:
            rows = (await s.scalars(query)).all()
        return [fact_of(r) for r in rows]

    async def dispatched(self, since: datetime, until: datetime) -> list[DraftRow]:
        """Work orders dispatched in ``[since, until)`` (their follow-up: the rates)."""
        async with self._sessions() as s:
            return list((await s.scalars(
                select(DraftRow).where(DraftRow.status == "dispatched",
                                       DraftRow.dispatched_at >= since,
                                       DraftRow.dispatched_at < until))).all())

    async def events(self, kind: str, since: datetime | None = None,
                     until: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Events of ``kind``, newest first: ``{"id", "at", **payload}``."""
        query = select(EventRow).where(EventRow.kind == kind)
        if since is not None:
            query = query.where(EventRow.at >= since)
        if until is not None:
            query = query.where(EventRow.at < until)
        async with self._sessions() as s:
            rows = (await s.scalars(query.order_by(EventRow.id.desc()).limit(limit))).all()
        return [{**r.payload, "id": r.id, "at": (aware(r.at) or r.at).isoformat()}
                for r in rows]

    async def raise_alert(self, payload: dict[str, Any]) -> None:
        """Store a spike alert and publish it (admins' websockets, other nodes)."""
        await self._store.record_event(Event(ALERT, None, payload))

    async def mark_topic(self, payload: dict[str, Any], order_ids: Sequence[str],
                         tag: str) -> None:
        """The month's topic and a tag on each of its orders, in one transaction."""
        async with self._write() as s:
            s.add(EventRow(call_id=None, kind=TOPIC, at=_now(), payload=payload))
            for draft_id in order_ids:
                s.add(EventRow(call_id=None, kind=TAG, at=_now(),
                               payload={"draft_id": draft_id, "tag": tag}))

    async def tags(self, draft_ids: Sequence[str]) -> dict[str, list[str]]:
        """The tags of each of ``draft_ids`` (only those with any)."""
        wanted = set(draft_ids)
        async with self._sessions() as s:
            rows = (await s.scalars(select(EventRow).where(EventRow.kind == TAG)
                                    .order_by(EventRow.id))).all()
        out: dict[str, list[str]] = {}
        for r in rows:
            draft_id, tag = r.payload.get("draft_id"), r.payload.get("tag")
            if draft_id in wanted and isinstance(tag, str) and tag not in out.get(draft_id, []):
                out.setdefault(draft_id, []).append(tag)
        return out


def _now() -> datetime:
    return datetime.now(UTC)
