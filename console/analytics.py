"""The admin analytics: 每月一题 candidates, 未诉先办 alerts, repeat-complaint hot spots and
the monthly report, computed from the stored work orders (``workorders.insight`` and
``workorders.spikes`` do the mining, ``storage.analytics`` the reads and writes).

Months, days and weeks are the centre's local ones (``analytics.timezone``).
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from config.settings import AnalyticsSettings
from storage.analytics import ALERT, TOPIC, AnalyticsStore
from workorders.insight import TopicCandidate, topic_candidates
from workorders.spikes import Spike, detect, index, place_label

TREND_MONTHS = 6
HOTSPOT_LIMIT = 20


class BadMonth(ValueError):
    """Not a month of the form YYYY-MM."""


@dataclass(frozen=True)
class Month:
    label: str  # YYYY-MM
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str | None, tz: tzinfo, now: datetime | None = None) -> Month:
        """``YYYY-MM`` (default: the current month) as local-time bounds, in UTC."""
        if not text:
            local = (now or datetime.now(UTC)).astimezone(tz)
            year, month = local.year, local.month
        else:
            try:
                year, month = (int(p) for p in text.split("-"))
                datetime(year, month, 1)
            except ValueError as exc:
                raise BadMonth(f"month must be YYYY-MM, not {text!r}") from exc
        return cls.of(year, month, tz)

    @classmethod
    def of(cls, year: int, month: int, tz: tzinfo) -> Month:
        start = datetime(year, month, 1, tzinfo=tz)
        nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        return cls(f"{year:04d}-{month:02d}", start.astimezone(UTC), nxt.astimezone(UTC))

    def shift(self, months: int, tz: tzinfo) -> Month:
        local = self.start.astimezone(tz)
        index = local.year * 12 + local.month - 1 + months
        return Month.of(index // 12, index % 12 + 1, tz)


class Analytics:
    def __init__(self, store: AnalyticsStore, settings: AnalyticsSettings,
                 keywords: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.settings = settings
        self.keywords = keywords  # the taxonomy's phrases: preferred as key phrases
        self.tz = ZoneInfo(settings.timezone)

    def month(self, text: str | None) -> Month:
        return Month.parse(text, self.tz)

    # --- 每月一题 -----------------------------------------------------------------------

    async def candidates(self, month: Month, limit: int = 10) -> list[TopicCandidate]:
        first = month.shift(-TREND_MONTHS + 1, self.tz)
        before = month.shift(-1, self.tz)
        facts = await self.store.facts(first.start, month.end)
        this = [f for f in facts if f.created_at >= month.start]
        previous = [f for f in facts if before.start <= f.created_at < month.start]
        history = [f for f in facts if f.created_at < before.start]
        return topic_candidates(this, previous, history, limit=limit,
                                keywords=self.keywords)

    async def topics(self, month: Month) -> dict[str, Any]:
        marked = [t for t in await self.store.events(TOPIC) if t.get("month") == month.label]
        return {"month": month.label,
                "candidates": [c.to_json() for c in await self.candidates(month)],
                "marked": marked[0] if marked else None}

    async def mark(self, month: Month, key: str, username: str) -> dict[str, Any]:
        """Mark the candidate ``key`` as the month's topic and tag its orders."""
        found = next((c for c in await self.candidates(month, limit=1000) if c.key == key),
                     None)
        if found is None:
            raise LookupError(f"no candidate {key!r} in {month.label}")
        payload = {"month": month.label, "key": key, "subcategory": found.subcategory,
                   "district": found.district, "street": found.street,
                   "phrase": found.phrase, "volume": found.volume, "by": username,
                   "order_ids": found.order_ids}
        await self.store.mark_topic(payload, found.order_ids, f"每月一题:{month.label}")
        return payload

    # --- 未诉先办 ----------------------------------------------------------------------

    async def check_spikes(self, now: datetime | None = None) -> list[Spike]:
        """Detect spikes now; store and publish the new ones (not those already raised)."""
        now = now or datetime.now(UTC)
        s = self.settings
        facts = await self.store.facts(now - timedelta(days=s.baseline_days + 8), now)
        recent = await self.store.events(ALERT, since=now - timedelta(days=7))
        raised = [((a["level"], a["place"], a["subcategory"]), a["window"],
                   datetime.fromisoformat(a["raised_at"])) for a in recent
                  if {"level", "place", "subcategory", "window", "raised_at"} <= a.keys()]
        spikes = detect(index(facts), now, self.tz, min_count=s.spike_min_count,
                        p_value=s.spike_p_value, baseline_days=s.baseline_days,
                        suppress=raised)
        for spike in spikes:
            await self.store.raise_alert(alert_payload(spike, now))
        return spikes

    async def alerts(self, since: datetime | None = None, until: datetime | None = None,
                     limit: int = 100) -> list[dict[str, Any]]:
        return await self.store.events(ALERT, since, until, limit)

    # --- hot spots ---------------------------------------------------------------------

    async def hotspots(self, weeks: int) -> dict[str, Any]:
        """Streets with the most escalated orders (third appeal and beyond), per week."""
        now = datetime.now(UTC)
        local = now.astimezone(self.tz)
        monday = (local - timedelta(days=local.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0)
        first = monday - timedelta(weeks=weeks - 1)
        facts = await self.store.facts(first.astimezone(UTC), now, escalated_only=True)
        starts = [(first + timedelta(weeks=i)).date().isoformat() for i in range(weeks)]
        by_street: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for f in facts:
            by_street[(f.district or "未识别", f.street or "未识别")].append(f)
        rows: list[dict[str, Any]] = []
        for (district, street), orders in by_street.items():
            per_week = Counter(
                (f.created_at.astimezone(self.tz).date()
                 - timedelta(days=f.created_at.astimezone(self.tz).weekday())).isoformat()
                for f in orders)
            rows.append({"district": district, "street": street, "escalated": len(orders),
                         "weeks": [{"week": w, "orders": per_week.get(w, 0)} for w in starts],
                         "order_ids": [f.id for f in reversed(orders)][:HOTSPOT_LIMIT]})
        rows.sort(key=lambda r: (-r["escalated"], r["district"], r["street"]))
        return {"weeks": starts, "streets": rows[:HOTSPOT_LIMIT]}

    # --- the monthly report ------------------------------------------------------------

    async def report(self, month: Month) -> dict[str, Any]:
        """The three rates and callbacks per district, top topics, alerts raised."""
        dispatched = await self.store.dispatched(month.start, month.end)
        facts = await self.store.facts(month.start, month.end)
        orders = Counter(f.district or "未识别" for f in facts)
        tally: dict[str, Counter[str]] = defaultdict(Counter)
        for row in dispatched:
            t = tally[row.district or "未识别"]
            t["dispatched"] += 1
            t["responded"] += row.responded_at is not None
            t["resolved"] += row.resolved_at is not None
            t["callbacks"] += row.satisfaction is not None  # 回访 reached the caller
            t["satisfied"] += row.satisfaction in ("satisfied", "basic")
        districts = []
        for d in sorted(set(orders) | set(tally), key=lambda d: (-orders.get(d, 0), d)):
            t = tally[d]
            districts.append({
                "district": d, "orders": orders.get(d, 0), "dispatched": t["dispatched"],
                "responded": t["responded"], "resolved": t["resolved"],
                "callbacks_reached": t["callbacks"], "satisfied": t["satisfied"],
                "response_rate": _rate(t["responded"], t["dispatched"]),
                "resolution_rate": _rate(t["resolved"], t["dispatched"]),
                "satisfaction_rate": _rate(t["satisfied"], t["callbacks"]),
                "callback_rate": _rate(t["callbacks"], t["dispatched"])})
        topics = await self.topics(month)
        return {"month": month.label, "orders": len(facts), "districts": districts,
                "topics": topics["candidates"][:5], "marked_topic": topics["marked"],
                "alerts": await self.alerts(month.start, month.end, limit=1000)}


ANALYTICS = web.AppKey("analytics", Analytics)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def alert_payload(spike: Spike, now: datetime) -> dict[str, Any]:
    """A spike as stored, pushed and sent to the webhook (order ids, never personal data)."""
    window = {"hour": "近1小时", "day": "今日", "week": "近7天"}[spike.window]
    return {**spike.to_json(), "raised_at": now.isoformat(), "place_label": place_label(spike),
            "text": f"未诉先办：{place_label(spike)}「{spike.subcategory}」{window}"
                    f"{spike.count}件，常态约{spike.expected:.1f}件"}


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one table per section, separated by an empty line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([f"月度报告 {report['month']}", f"工单 {report['orders']}"])
    w.writerow([])
    w.writerow(["区", "工单数", "派单数", "响应率", "解决率", "满意率", "回访数", "回访率"])
    for d in report["districts"]:
        w.writerow([d["district"], d["orders"], d["dispatched"], _pct(d["response_rate"]),
                    _pct(d["resolution_rate"]), _pct(d["satisfaction_rate"]),
                    d["callbacks_reached"], _pct(d["callback_rate"])])
    w.writerow([])
    w.writerow(["热点问题", "小类", "区", "街道", "关键词", "工单数", "重复来电", "不满意",
                "上月", "得分"])
    marked = (report.get("marked_topic") or {}).get("key")
    for t in report["topics"]:
        w.writerow(["每月一题" if t["key"] == marked else "", t["subcategory"], t["district"],
                    t["street"], t["phrase"], t["volume"], t["repeat_calls"],
                    t["dissatisfied"], t["previous"], t["score"]])
    w.writerow([])
    w.writerow(["预警时间", "范围", "地点", "小类", "件数", "常态"])
    for a in report["alerts"]:
        w.writerow([a.get("raised_at"), a.get("window"), a.get("place_label"),
                    a.get("subcategory"), a.get("count"), a.get("expected")])
    return buf.getvalue()


def report_html(report: dict[str, Any]) -> str:
    """The report as a standalone printable page (every value escaped)."""
    e = html.escape

    def table(head: list[str], rows: list[list[Any]]) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>"
                                        for v in r) + "</tr>" for r in rows)
        empty = f'<tr><td colspan="{len(head)}">无</td></tr>' if not rows else ""
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}{empty}</tbody></table>"

    marked = report.get("marked_topic")
    parts = [
        f"<h1>12345 月度报告 {e(report['month'])}</h1>",
        f"<p>工单 {report['orders']} 件。</p>",
        "<h2>各区响应率、解决率、满意率与回访</h2>",
        table(["区", "工单数", "派单数", "响应率", "解决率", "满意率", "回访数", "回访率"],
              [[d["district"], d["orders"], d["dispatched"], _pct(d["response_rate"]),
                _pct(d["resolution_rate"]), _pct(d["satisfaction_rate"]),
                d["callbacks_reached"], _pct(d["callback_rate"])] for d in report["districts"]]),
        "<h2>每月一题</h2>",
        f"<p>{e(_topic_label(marked)) if marked else '本月尚未选定。'}</p>",
        "<h2>热点问题</h2>",
        table(["小类", "区", "街道", "关键词", "工单数", "重复来电", "不满意", "上月"],
              [[t["subcategory"], t["district"], t["street"], t["phrase"], t["volume"],
                t["repeat_calls"], t["dissatisfied"], t["previous"]]
               for t in report["topics"]]),
        "<h2>未诉先办预警</h2>",
        table(["时间", "说明"], [[a.get("raised_at"), a.get("text")] for a in report["alerts"]]),
    ]
    style = ("body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;"
             "width:100%;margin-bottom:1.5em}th,td{border:1px solid #999;padding:.3em .5em;"
             "text-align:left}@media print{body{margin:0}h2{break-after:avoid}}")
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>月度报告 {e(report['month'])}</title><style>{style}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def _topic_label(topic: dict[str, Any]) -> str:
    place = "".join(p for p in (topic.get("district"), topic.get("street")) if p)
    phrase = f"（{topic['phrase']}）" if topic.get("phrase") else ""
    return f"{place}「{topic.get('subcategory')}」{phrase}，{topic.get('volume')} 件"
