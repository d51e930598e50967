"""Admin analytics API: 每月一题 candidates and marking, 未诉先办 alerts, repeat-complaint hot
spots, and the monthly report (JSON, CSV, printable HTML)."""

from __future__ import annotations

from aiohttp import web

from console.analytics import ANALYTICS, Analytics, BadMonth, Month, report_csv, report_html
from console.http import json_body, json_error, ok
from storage.accounts import ActiveSession

# The printable report is a page of its own: its inline style is all it may load.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _analytics(request: web.Request) -> Analytics:
    return request.app[ANALYTICS]


def _month(request: web.Request, text: str | None) -> Month:
    try:
        return _analytics(request).month(text)
    except BadMonth as exc:
        raise json_error(400, str(exc)) from exc


async def topics(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The month's candidate topics, best first, and the one marked, if any."""
    month = _month(request, request.query.get("month"))
    return ok(await _analytics(request).topics(month))


async def mark_topic(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Mark a candidate (its ``key``) as the month's topic; its orders are tagged."""
    body = await json_body(request)
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise json_error(400, "key is required")
    month = _month(request, body.get("month") if isinstance(body.get("month"), str) else None)
    try:
        marked = await _analytics(request).mark(month, key, session.account.username)
    except LookupError as exc:
        raise json_error(404, str(exc)) from exc
    return ok(marked, status=201)


async def alerts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """未诉先办 alerts, newest first (``limit``, default 50)."""
    try:
        limit = max(1, min(int(request.query.get("limit", "50")), 500))
    except ValueError as exc:
        raise json_error(400, "limit must be an integer") from exc
    return ok({"alerts": await _analytics(request).alerts(limit=limit)})


async def check_alerts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Run the spike check now (it also runs every analytics.check_interval_s)."""
    from console.alerts import check_and_notify

    analytics = _analytics(request)
    raised = await check_and_notify(analytics, analytics.settings)
    return ok({"raised": raised})


async def hotspots(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Streets with the most escalated repeat-complaint orders over the last ``weeks``."""
    try:
        weeks = max(1, min(int(request.query.get("weeks", "8")), 52))
    except ValueError as exc:
        raise json_error(400, "weeks must be an integer") from exc
    return ok(await _analytics(request).hotspots(weeks))


async def report(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The monthly report for managers: ``format`` json (default), csv or html."""
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv", "html"):
        raise json_error(400, "format must be json, csv or html")
    month = _month(request, request.query.get("month"))
    data = await _analytics(request).report(month)
    if fmt == "json":
        return ok(data)
    if fmt == "csv":
        return web.Response(body=("\ufeff" + report_csv(data)).encode(), headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="report-{month.label}.csv"'})
    return web.Response(text=report_html(data), content_type="text/html", headers={
        "Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})
