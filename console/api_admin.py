"""Admin: the dashboard's figures and the work-order export."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp import web

from console.context import CONSOLE
from console.http import json_error, ok
from storage.accounts import ActiveSession
from storage.nodes import Nodes
from storage.reports import to_csv, to_json


def _hours(request: web.Request) -> int:
    try:
        hours = int(request.query.get("hours", "24"))
    except ValueError as exc:
        raise json_error(400, "hours must be an integer") from exc
    return max(1, min(hours, 24 * 90))


async def dashboard(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Everything the dashboard charts, over the last ``hours`` (default 24)."""
    reports = request.app[CONSOLE].reports
    hours = _hours(request)
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours)
    per_hour, drop_off, by_category, by_district, delays, rates = await asyncio.gather(
        reports.calls_per_hour(since, now), reports.ivr_drop_off(since),
        reports.drafts_by("category", since), reports.drafts_by("district", since),
        reports.dispatch_delays(since), reports.rates_by_district(since),
    )
    console = request.app[CONSOLE]  # the cluster's nodes: calls each took, who went silent
    nodes = await Nodes(console.store.engine).overview(console.settings.cluster.dead_after_s)
    return ok({"since": since.isoformat(), "hours": hours, "calls_per_hour": per_hour,
               "ivr_drop_off": drop_off, "drafts_by_category": by_category,
               "drafts_by_district": by_district, "dispatch_delay": delays, "rates": rates,
               "nodes": nodes})


async def export(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Work orders as CSV (UTF-8 with BOM, for spreadsheets) or JSON; ``?status=all``."""
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise json_error(400, "format must be csv or json")
    status = request.query.get("status", "dispatched")
    rows = await request.app[CONSOLE].reports.export_rows(None if status == "all" else status)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    disposition = f'attachment; filename="workorders-{stamp}.{fmt}"'
    if fmt == "csv":
        return web.Response(body=("\ufeff" + to_csv(rows)).encode(), headers={
            "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": disposition})
    return web.Response(text=to_json(rows), content_type="application/json",
                        headers={"Content-Disposition": disposition})


async def access_audit(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Who opened which recording or transcript, newest first (``user``, ``draft``,
    ``call`` filter; ``limit`` at most 1000)."""
    q = request.query
    try:
        limit = max(1, min(int(q.get("limit", "200")), 1000))
    except ValueError as exc:
        raise json_error(400, "limit must be an integer") from exc
    entries = await request.app[CONSOLE].access.log.entries(
        username=q.get("user") or None, draft_id=q.get("draft") or None,
        call_id=q.get("call") or None, limit=limit)
    return ok([{"at": e.at, "username": e.username, "action": e.action,
                "draft_id": e.draft_id, "call_id": e.call_id, "detail": e.detail}
               for e in entries])
