"""The cluster's nodes as the shared database knows them: a heartbeat row per node, calls
per node, and taking over a dead node's unfinished calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import WriteTransactions, session_factory
from storage.models import Call, DraftRow, NodeRow


@dataclass(frozen=True)
class RecordingOwner:
    """Where a draft's recording is: the node that took its call, and how to reach it."""

    call_id: str
    node_id: str | None
    internal_url: str | None
    path: str | None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class Nodes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)

    async def beat(self, node_id: str, internal_url: str | None, state: str,
                   active_calls: int, now: datetime | None = None) -> None:
        """Insert or refresh this node's row (``state``: running, draining, stopped)."""
        now = now or datetime.now(UTC)
        async with self._write() as s:
            row = await s.get(NodeRow, node_id, with_for_update=True)
            if row is None:
                s.add(NodeRow(id=node_id, internal_url=internal_url, state=state,
                              started_at=now, last_seen=now, active_calls=active_calls))
                return
            if state == "running" and row.state == "stopped":
                row.started_at = now  # back after a stop
            row.internal_url, row.state, row.last_seen = internal_url, state, now
            row.active_calls = active_calls

    async def overview(self, dead_after_s: float,
                       now: datetime | None = None) -> list[dict[str, Any]]:
        """Every node with its state, calls taken and in progress, and whether it stopped
        reporting (no heartbeat for ``dead_after_s`` while not stopped)."""
        now = now or datetime.now(UTC)
        async with self._sessions() as s:
            rows = (await s.scalars(select(NodeRow).order_by(NodeRow.id))).all()
            counts = {node: n for node, n in (await s.execute(
                select(Call.node_id, func.count()).group_by(Call.node_id))).all()}
        out = []
        for r in rows:
            silent = (now - _utc(r.last_seen)).total_seconds()
            out.append({
                "node": r.id, "state": r.state, "internal_url": r.internal_url,
                "last_seen": _utc(r.last_seen).isoformat(), "silent_s": round(silent, 1),
                "stopped_reporting": r.state != "stopped" and silent > dead_after_s,
                "active_calls": r.active_calls, "calls": int(counts.get(r.id, 0)),
            })
        return out

    async def recording_owner(self, draft_id: str) -> RecordingOwner | None:
        """The node holding a draft's recording; ``None`` for a draft with no call."""
        async with self._sessions() as s:
            found = (await s.execute(
                select(Call.id, Call.node_id, Call.recording_path, NodeRow.internal_url)
                .join(DraftRow, DraftRow.call_id == Call.id)
                .outerjoin(NodeRow, NodeRow.id == Call.node_id)
                .where(DraftRow.id == draft_id))).first()
        if found is None:
            return None
        call_id, node_id, path, url = found
        return RecordingOwner(call_id, node_id, url, path)

    async def take_over(self, dead_node: str, node_id: str) -> list[str]:
        """Move the dead node's unfinished calls to ``node_id``; the ids of those moved.
        One UPDATE: two survivors taking over at once each get a disjoint share."""
        async with self._write() as s:
            moved = await s.scalars(
                update(Call)
                .where(Call.node_id == dead_node, Call.status.in_(("active", "ended")))
                .values(node_id=node_id)
                .returning(Call.id))
            return list(moved.all())

    async def move_recording(self, call_id: str, path: str) -> None:
        """Point a taken-over call at its recording as this node reads it."""
        async with self._write() as s:
            await s.execute(update(Call).where(Call.id == call_id).values(recording_path=path))

    async def is_silent(self, node: str, dead_after_s: float,
                        now: datetime | None = None) -> bool:
        """True when ``node`` has not beaten for ``dead_after_s`` (or never did)."""
        now = now or datetime.now(UTC)
        async with self._sessions() as s:
            row = await s.get(NodeRow, node)
        return row is None or row.state == "stopped" or (
            now - _utc(row.last_seen) > timedelta(seconds=dead_after_s))
