"""Who opened which call's recording or transcript, and when (OWASP ASVS V7/V8 access audit).

Rows go to the audit log (``audit_log``) with no ``draft_id`` of their own, so they stay out
of a draft's change history; the draft and call are in ``after``. Actions:
``recording_view``, ``transcript_view``, ``live_transcript_view``, ``retention``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import WriteTransactions, session_factory
from storage.models import AuditRow

ACCESS_ACTIONS = ("recording_view", "transcript_view", "live_transcript_view", "retention")


@dataclass(frozen=True)
class AccessEntry:
    at: str
    username: str
    action: str
    draft_id: str | None
    call_id: str | None
    detail: dict[str, Any]


class AccessLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)

    async def record(self, username: str, action: str, *, draft_id: str | None = None,
                     call_id: str | None = None, **detail: Any) -> None:
        if action not in ACCESS_ACTIONS:
            raise ValueError(f"unknown access action {action!r}")
        async with self._write() as s:
            s.add(AuditRow(at=datetime.now(UTC), username=username[:64], action=action,
                           draft_id=None, before={},
                           after={"draft_id": draft_id, "call_id": call_id, **detail}))

    async def entries(self, *, username: str | None = None, draft_id: str | None = None,
                      call_id: str | None = None, limit: int = 200) -> list[AccessEntry]:
        """The newest access entries first, optionally for one user, draft or call."""
        query = select(AuditRow).where(AuditRow.action.in_(ACCESS_ACTIONS))
        if username:
            query = query.where(AuditRow.username == username)
        async with self._sessions() as s:
            rows = (await s.scalars(query.order_by(AuditRow.id.desc()).limit(5000))).all()
        out = []
        for r in rows:
            after = dict(r.after or {})
            if draft_id and after.get("draft_id") != draft_id:
                continue
            if call_id and after.get("call_id") != call_id:
                continue
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
            out.append(AccessEntry(at.isoformat(), r.username, r.action,
                                   after.pop("draft_id", None), after.pop("call_id", None),
                                   after))
            if len(out) >= limit:
                break
        return out
