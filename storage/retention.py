"""Retention: after ``retention.days``, recordings are deleted and transcripts redacted.

A call is due when it ended more than ``days`` ago and its work order is closed (rejected,
merged, or dispatched and resolved) or it has none (abandoned, silent). For a due call the
recording files (caller side and ``.out.wav``) are deleted, and the transcript is redacted:
the draft's transcript and evidence spans, the utterances' text and word timings, and the
text of its ``utterance`` events (and what its correction pairs heard, storage/learning.py).
The work order's fields (summary, address, category …)
stay: they are the record of the case. Each run is logged and written to the audit log
(``retention``, user ``system``) with its counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.access_log import AccessLog
from storage.db import WriteTransactions, session_factory
from storage.models import Call, CorrectionPairRow, DraftRow, EventRow, UtteranceRow

log = logging.getLogger(__name__)

REDACTED = "［已按保留期限删除］"
BATCH = 200  # calls per write transaction


@dataclass
class RetentionResult:
    calls: int = 0
    recordings_deleted: int = 0
    transcripts_redacted: int = 0
    call_ids: list[str] = field(default_factory=list)


def _closed() -> ColumnElement[bool]:
    return or_(DraftRow.id.is_(None), DraftRow.status.in_(("rejected", "merged")),
               and_(DraftRow.status == "dispatched", DraftRow.resolved_at.is_not(None)))


async def _due(engine: AsyncEngine, cutoff: datetime) -> list[str]:
    query = (select(Call.id).outerjoin(DraftRow, DraftRow.call_id == Call.id)
             .where(Call.ended_at.is_not(None), Call.ended_at < cutoff, _closed())
             .where(or_(Call.recording_path.is_not(None), DraftRow.transcript != REDACTED,
                        Call.id.in_(select(UtteranceRow.call_id)
                                    .where(UtteranceRow.text != "")))))
    async with session_factory(engine)() as s:
        return list((await s.scalars(query.order_by(Call.ended_at))).all())


def _delete_recording(path: str) -> bool:
    deleted = False
    for each in (Path(path), Path(path).with_suffix(".out.wav")):
        with contextlib.suppress(FileNotFoundError):
            each.unlink()
            deleted = True
    return deleted


async def apply_retention(engine: AsyncEngine, days: int, now: datetime) -> RetentionResult:
    """Delete recordings and redact transcripts of calls due (see the module docstring)."""
    result = RetentionResult()
    if days <= 0:
        return result
    due = await _due(engine, now - timedelta(days=days))
    write = WriteTransactions(engine)
    for start in range(0, len(due), BATCH):
        batch = due[start : start + BATCH]
        files: list[str] = []
        async with write() as s:
            for call in (await s.scalars(select(Call).where(Call.id.in_(batch)))).all():
                if call.recording_path:
                    files.append(call.recording_path)
                    call.recording_path = None
            for draft in (await s.scalars(select(DraftRow)
                                          .where(DraftRow.call_id.in_(batch)))).all():
                if draft.transcript != REDACTED:
                    draft.transcript, draft.evidence = REDACTED, {}
                    result.transcripts_redacted += 1
            for u in (await s.scalars(select(UtteranceRow)
                                      .where(UtteranceRow.call_id.in_(batch)))).all():
                u.text, u.words = "", []
            # What the learning loop heard is a piece of the transcript too.
            await s.execute(update(CorrectionPairRow)
                            .where(CorrectionPairRow.call_id.in_(batch)).values(heard=None))
            for e in (await s.scalars(select(EventRow).where(
                    EventRow.call_id.in_(batch), EventRow.kind == "utterance"))).all():
                if "text" in (e.payload or {}):
                    e.payload = {k: v for k, v in e.payload.items() if k != "text"}
        # Files go once the rows no longer point at them (a crash in between leaves files
        # without rows, which the next run cannot see: so delete them right away).
        for path in files:
            if _delete_recording(path):
                result.recordings_deleted += 1
        result.calls += len(batch)
        result.call_ids.extend(batch)
    if result.calls:
        await AccessLog(engine).record(
            "system", "retention", days=days, calls=result.calls,
            recordings_deleted=result.recordings_deleted,
            transcripts_redacted=result.transcripts_redacted,
            call_ids=result.call_ids[:1000])
    log.info("retention (%d days): %d call(s), %d recording(s) deleted, %d transcript(s) "
             "redacted", days, result.calls, result.recordings_deleted,
             result.transcripts_redacted)
    return result


class RetentionJob:
    """:func:`apply_retention` at start and then every ``interval_s`` (a day); an error is
    logged and the job goes on. ``wake()`` runs it again now."""

    def __init__(self, engine: AsyncEngine, days: int, interval_s: float = 86400.0) -> None:
        self._engine = engine
        self.days = days
        self.interval_s = interval_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await apply_retention(self._engine, self.days, datetime.now(UTC))
            except Exception:  # a stalled database: tried again at the next run
                log.exception("retention run failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
