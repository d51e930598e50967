"""Read-only views for the console: live calls, dashboard figures, work-order export.

Aggregations that differ between SQLite and PostgreSQL (bucketing by hour, medians) are done
in Python over the rows of a bounded time window; counts by a column are done in SQL.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import selectinload

from storage.db import session_factory
from storage.models import Call, DraftRow, EventRow
from storage.workflow import aware, draft_json

EXPORT_COLUMNS = (
    "id", "call_id", "created_at", "status", "name", "surname", "phone", "district", "street",
    "address", "category", "subcategory", "appeal_type", "urgent", "summary", "dispatch_to",
    "due_at", "dispatched_at", "responded_at", "resolved_at", "satisfaction", "reviewed_by",
    "merged_into", "reject_reason", "confidence",
)
DELAY_BUCKETS = ((60.0, "<1分钟"), (300.0, "1–5分钟"), (900.0, "5–15分钟"),
                 (3600.0, "15–60分钟"), (float("inf"), ">1小时"))
_IVR_KINDS = ("ivr_node", "ivr_exit", "call_ended", "draft_created")


def _iso(t: datetime | None) -> str | None:
    t = aware(t)
    return t.isoformat() if t else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def node_of(payload: dict[str, Any]) -> str | None:
    """The IVR node an ``ivr_node``/``ivr_exit`` event is about."""
    node = payload.get("node_id", payload.get("node"))
    return str(node) if node is not None else None


class Reports:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def live_calls(self) -> list[dict[str, Any]]:
        """Calls in progress, oldest first, with their utterances so far and IVR node."""
        async with self._sessions() as s:
            calls = (await s.scalars(
                select(Call).where(Call.status == "active").order_by(Call.started_at)
                .options(selectinload(Call.utterances)).limit(200)
            )).all()
            nodes: dict[str, str | None] = {}
            if calls:
                events = await s.scalars(
                    select(EventRow).where(EventRow.kind == "ivr_node",
                                           EventRow.call_id.in_([c.id for c in calls]))
                    .order_by(EventRow.id)
                )
                for e in events:
                    nodes[e.call_id or ""] = node_of(e.payload)
        return [
            {"id": c.id, "source": c.source, "caller_number": c.caller_number,
             "started_at": _iso(c.started_at), "ivr_node": nodes.get(c.id),
             "utterances": [{"seq": u.seq, "start": u.start_s, "end": u.end_s, "text": u.text}
                            for u in c.utterances]}
            for c in calls
        ]

    async def calls_per_hour(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Calls started in each hour of ``[since, until)`` (every hour listed)."""
        async with self._sessions() as s:
            starts = (await s.scalars(
                select(Call.started_at).where(Call.started_at >= since, Call.started_at < until)
            )).all()
        counts = Counter((aware(t) or since).replace(minute=0, second=0, microsecond=0)
                         for t in starts)
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        out = []
        while hour < until:
            out.append({"hour": hour.isoformat(), "calls": counts.get(hour, 0)})
            hour += timedelta(hours=1)
        return out

    async def ivr_drop_off(self, since: datetime) -> list[dict[str, Any]]:
        """Per IVR node: entries, and callers who hung up there without a draft."""
        async with self._sessions() as s:
            events = (await s.scalars(
                select(EventRow).where(EventRow.at >= since, EventRow.kind.in_(_IVR_KINDS))
                .order_by(EventRow.id)
            )).all()
        entries: Counter[str] = Counter()
        current: dict[str, str] = {}
        ended: dict[str, str] = {}
        drafted: set[str] = set()
        for e in events:
            call = e.call_id or ""
            node = node_of(e.payload)
            if e.kind == "ivr_node" and node is not None:
                entries[node] += 1
                current[call] = node
            elif e.kind == "ivr_exit" and e.payload.get("reason") == "hangup" and node:
                ended[call] = node
            elif e.kind == "call_ended" and call in current:
                ended.setdefault(call, current[call])
            elif e.kind == "draft_created":
                drafted.add(call)
        hangups = Counter(n for c, n in ended.items() if c not in drafted)
        return [
            {"node": node, "entries": n, "hangups": hangups.get(node, 0),
             "drop_off": _rate(hangups.get(node, 0), n)}
            for node, n in entries.most_common()
        ]

    async def drafts_by(self, column: str, since: datetime) -> list[dict[str, Any]]:
        """Draft counts by ``category`` or ``district`` (``None`` as 未识别), largest first."""
        col = {"category": DraftRow.category, "district": DraftRow.district}[column]
        async with self._sessions() as s:
            rows = (await s.execute(
                select(col, func.count()).where(DraftRow.created_at >= since).group_by(col)
            )).all()
        pairs = sorted(((k or "未识别", int(n)) for k, n in rows), key=lambda p: (-p[1], p[0]))
        return [{"key": k, "count": n} for k, n in pairs]

    async def dispatch_delays(self, since: datetime) -> dict[str, Any]:
        """Time from the end of a call to the dispatch of its work order."""
        async with self._sessions() as s:
            rows = (await s.execute(
                select(Call.ended_at, DraftRow.dispatched_at)
                .join(DraftRow, DraftRow.call_id == Call.id)
                .where(DraftRow.dispatched_at >= since, Call.ended_at.is_not(None))
            )).all()
        delays = sorted(max(0.0, ((aware(d) or since) - (aware(e) or since)).total_seconds())
                        for e, d in rows)
        buckets = Counter(next(label for limit, label in DELAY_BUCKETS if x < limit)
                          for x in delays)
        return {
            "count": len(delays),
            "median_s": round(statistics.median(delays), 1) if delays else None,
            "buckets": [{"key": label, "count": buckets.get(label, 0)}
                        for _limit, label in DELAY_BUCKETS],
        }

    async def rates_by_district(self, since: datetime) -> list[dict[str, Any]]:
        """响应率, 解决率, 满意率 of the work orders dispatched since ``since``.

        响应率 = responded / dispatched, 解决率 = resolved / dispatched, 满意率 =
        (satisfied + basically satisfied) / orders whose satisfaction was recorded.
        """
        async with self._sessions() as s:
            rows = (await s.execute(
                select(DraftRow.district, DraftRow.responded_at, DraftRow.resolved_at,
                       DraftRow.satisfaction)
                # An order a callback sent back as 重办 still counts, with what was said.
                .where(or_(DraftRow.status == "dispatched", DraftRow.rework.is_(True)),
                       DraftRow.dispatched_at >= since)
            )).all()
        tally: dict[str, Counter[str]] = defaultdict(Counter)
        for district, responded, resolved, satisfaction in rows:
            t = tally[district or "未识别"]
            t["orders"] += 1
            t["responded"] += responded is not None
            t["resolved"] += resolved is not None
            t["rated"] += satisfaction is not None
            t["satisfied"] += satisfaction in ("satisfied", "basic")
        return [
            {"district": d, "orders": t["orders"], "responded": t["responded"],
             "resolved": t["resolved"], "rated": t["rated"], "satisfied": t["satisfied"],
             "response_rate": _rate(t["responded"], t["orders"]),
             "resolution_rate": _rate(t["resolved"], t["orders"]),
             "satisfaction_rate": _rate(t["satisfied"], t["rated"])}
            for d, t in sorted(tally.items(), key=lambda kv: (-kv[1]["orders"], kv[0]))
        ]

    async def export_rows(self, status: str | None = "dispatched") -> list[dict[str, Any]]:
        """Work orders (by default the dispatched drafts), oldest first, for export."""
        query = select(DraftRow).order_by(DraftRow.created_at, DraftRow.id)
        if status:
            query = query.where(DraftRow.status == status)
        async with self._sessions() as s:
            rows = (await s.scalars(query)).all()
        out = []
        for r in rows:
            d = draft_json(r)
            d.update({"dispatched_at": _iso(r.dispatched_at), "responded_at": _iso(r.responded_at),
                      "resolved_at": _iso(r.resolved_at), "satisfaction": r.satisfaction,
                      "reviewed_by": r.reviewed_by, "merged_into": r.merged_into,
                      "reject_reason": r.reject_reason})
            out.append({k: d.get(k) for k in EXPORT_COLUMNS})
        return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula (OWASP "CSV injection"): text
    starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``. Numbers and
    other values are left alone. For CSV, and for any other spreadsheet export."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a header row; ``confidence`` as a JSON object, booleans as true/false;
    text cells escaped with :func:`spreadsheet_safe`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({
            k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | bool)
            else spreadsheet_safe(v)
            for k, v in row.items()
        })
    return buf.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
