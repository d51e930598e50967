"""Dashboard figures and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from storage import DraftWorkflow, Event, Reports, Store, StoredUtterance
from storage.reports import EXPORT_COLUMNS, to_csv, to_json


async def _call_with_draft(store: Store, district: str | None, category: str) -> str:
    call_id = await store.create_call("sip", "13800000000", None, "fake:none")
    await store.end_call(call_id, "hangup", 5.0)
    fields = {"district": district, "category": category, "phone": "13800000000",
              "urgent": False, "dispatch_to": "某单位", "confidence": {}}
    draft = await store.save_draft(call_id, "text", fields, {}, [], False)
    return str(draft["id"])


async def test_dashboard_figures(store: Store) -> None:
    flow, reports = DraftWorkflow(store.engine, store.bus), Reports(store.engine)
    since = datetime.now(UTC) - timedelta(hours=2)
    a = await _call_with_draft(store, "朝阳区", "住房管理")
    b = await _call_with_draft(store, "朝阳区", "城市管理")
    c = await _call_with_draft(store, None, "城市管理")
    for did in (a, b, c):
        await flow.claim(did, "alice")
        await flow.dispatch(did, "alice", None)
    await flow.follow_up(a, "alice", responded=True, resolved=True, satisfaction="satisfied")
    await flow.follow_up(b, "alice", responded=True, satisfaction="dissatisfied")

    # IVR: one caller drops off at the menu, another goes through to intake and is drafted.
    dropped = await store.create_call("sip", None, None, None)
    await store.record_event(Event("ivr_node", dropped, {"node_id": "main", "node_type": "menu"}))
    await store.end_call(dropped, "hangup", 4.0)
    through = await store.create_call("sip", None, None, None)
    for node in ("main", "intake"):
        await store.record_event(Event("ivr_node", through, {"node_id": node}))
    await store.end_call(through, "hangup", 30.0)
    await store.save_draft(through, "t", {"confidence": {}}, {}, [], False)

    now = datetime.now(UTC)
    hours = await reports.calls_per_hour(now - timedelta(hours=3), now + timedelta(hours=1))
    assert len(hours) in (4, 5) and sum(h["calls"] for h in hours) == 5
    assert await reports.ivr_drop_off(since) == [
        {"node": "main", "entries": 2, "hangups": 1, "drop_off": 0.5},
        {"node": "intake", "entries": 1, "hangups": 0, "drop_off": 0.0},
    ]
    by_category = await reports.drafts_by("category", since)
    assert by_category[0] == {"key": "城市管理", "count": 2}
    assert {"key": "未识别", "count": 2} in await reports.drafts_by("district", since)
    delays = await reports.dispatch_delays(since)
    assert delays["count"] == 3 and delays["median_s"] is not None
    assert sum(b["count"] for b in delays["buckets"]) == 3
    rates = {r["district"]: r for r in await reports.rates_by_district(since)}
    assert rates["朝阳区"]["response_rate"] == 1.0
    assert rates["朝阳区"]["resolution_rate"] == 0.5
    assert rates["朝阳区"]["satisfaction_rate"] == 0.5
    assert rates["未识别"]["satisfaction_rate"] is None


async def test_live_calls_and_export(store: Store) -> None:
    reports = Reports(store.engine)
    live = await store.create_call("sip", "13900000000", None, None)
    await store.add_utterance(live, StoredUtterance(0, 0.0, 1.0, "你好", 0.9, []))
    await store.record_event(Event("ivr_node", live, {"node_id": "intake"}))
    await _call_with_draft(store, "海淀区", "交通管理")
    calls = await reports.live_calls()
    assert [(c["id"], c["ivr_node"]) for c in calls] == [(live, "intake")]
    assert calls[0]["utterances"][0]["text"] == "你好"

    assert await reports.export_rows() == []  # nothing dispatched yet
    rows = await reports.export_rows(status=None)
    assert len(rows) == 1 and list(rows[0]) == list(EXPORT_COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert parsed[0]["district"] == "海淀区" and parsed[0]["urgent"] == "false"
    assert json.loads(to_json(rows))[0]["category"] == "交通管理"
