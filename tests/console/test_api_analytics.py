"""Admin analytics over small fixture datasets: 每月一题 candidates and marking, 未诉先办
alerts (stored, pushed to admins' websockets, sent to a webhook), repeat-complaint hot
spots, and the monthly report as JSON, CSV and printable HTML."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config import Settings, load_settings
from console import CONSOLE
from storage.analytics import AnalyticsStore
from storage.db import WriteTransactions
from storage.models import DraftRow
from tests.conftest import MODEL_DIR
from tests.console.conftest import PASSWORD, login
from voice_gateway.app import SERVICES, init_app
from voice_gateway.services import Services, open_services

_ids = itertools.count(1)


@dataclasses.dataclass
class Order:
    at: datetime
    subcategory: str
    transcript: str = ""
    street: str | None = "双井街道"
    district: str | None = "朝阳区"
    status: str = "new"
    satisfaction: str | None = None
    escalate: bool = False
    related: tuple[str, ...] = ()
    phone: str = "13811112222"
    dispatched_at: datetime | None = None
    responded: bool = False
    resolved: bool = False


async def seed(services: Services, orders: list[Order]) -> list[str]:
    ids = []
    async with WriteTransactions(services.store.engine)() as s:
        for o in orders:
            draft_id = f"d{next(_ids):05d}"
            ids.append(draft_id)
            fields: dict[str, Any] = {"id": draft_id, "phone": o.phone, "district": o.district,
                      "street": o.street, "category": "城乡建设", "subcategory": o.subcategory,
                      "summary": o.transcript[:20], "confidence": {}}
            s.add(DraftRow(
                id=draft_id, call_id=None, created_at=o.at, updated_at=o.at, status=o.status,
                transcript=o.transcript, fields=fields, evidence={}, phone=o.phone,
                district=o.district, street=o.street, category="城乡建设", urgent=False,
                related=list(o.related), escalate=o.escalate, satisfaction=o.satisfaction,
                dispatched_at=o.dispatched_at,
                responded_at=o.dispatched_at if o.responded else None,
                resolved_at=o.dispatched_at if o.resolved else None))
    return ids


@contextlib.asynccontextmanager
async def _no_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, with_asr=False) as services:
        yield services


@pytest.fixture
async def webhook(aiohttp_server: Any) -> tuple[TestServer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    return await aiohttp_server(app), received


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path, webhook: Any) -> Any:
    server, _received = webhook
    settings = load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(tmp_path / "data"),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR),
        "VOICE_INTAKE_SIP_ENABLED": "false",
        "VOICE_INTAKE_ANALYTICS_ALERT_WEBHOOK": str(server.make_url("/hook")),
    })
    c = await aiohttp_client(init_app(settings, _no_asr))
    accounts = c.server.app[CONSOLE].accounts
    for name, role in (("alice", "agent"), ("root", "admin")):
        await accounts.add_user(name, PASSWORD, role)
    return c


def services(client: Any) -> Services:
    s: Services = client.server.app[SERVICES]
    return s


OCT = datetime(2026, 10, 12, 2, tzinfo=UTC)  # 10:00 in Beijing
SEP = datetime(2026, 9, 14, 2, tzinfo=UTC)


async def test_topics_rank_candidates_and_marking_tags_their_orders(client: Any) -> None:
    water = [Order(OCT + timedelta(hours=i), "供水", "九龙花园小区停水了一整天")
             for i in range(4)]
    water += [Order(OCT, "供水", "小区又停水了", related=("x",)),
              Order(OCT, "供水", "停水好几次了", satisfaction="dissatisfied")]
    ids = await seed(services(client), [
        *water,
        *(Order(OCT + timedelta(days=i), "供水", "水压太低楼上用不了水压低") for i in range(3)),
        *(Order(OCT, "噪音", "工地晚上施工噪音扰民", street="劲松街道") for _ in range(2)),
        Order(OCT, "供水", "停水", status="rejected"),  # not an order
        *(Order(SEP, "供水", "停水") for _ in range(2)),
    ])
    water_ids = set(ids[:6])
    await login(client, "alice")
    assert (await client.get("/api/analytics/topics?month=2026-10")).status == 403
    await login(client, "root")
    assert (await client.get("/api/analytics/topics?month=2026-13")).status == 400
    resp = await client.get("/api/analytics/topics?month=2026-10")
    assert resp.status == 200
    body = await resp.json()
    first = body["candidates"][0]
    assert (first["subcategory"], first["street"], first["phrase"]) == ("供水", "双井街道", "停水")
    assert set(first["order_ids"]) == water_ids
    assert (first["volume"], first["repeat_calls"], first["dissatisfied"], first["previous"]) == (
        6, 1, 1, 2)
    assert [t["orders"] for t in first["trend"]] == [2, 6]
    assert body["marked"] is None
    token = await login(client, "root")
    headers = {"X-CSRF-Token": token}
    resp = await client.post("/api/analytics/topics", json={"month": "2026-10", "key": "nope"},
                             headers=headers)
    assert resp.status == 404
    resp = await client.post("/api/analytics/topics",
                             json={"month": "2026-10", "key": first["key"]}, headers=headers)
    assert resp.status == 201, await resp.text()
    body = await (await client.get("/api/analytics/topics?month=2026-10")).json()
    assert body["marked"]["key"] == first["key"] and body["marked"]["by"] == "root"
    tags = await AnalyticsStore(services(client).store).tags(ids)
    assert set(tags) == water_ids
    assert all(t == ["每月一题:2026-10"] for t in tags.values())


async def test_planted_spike_is_alerted_pushed_to_admins_and_sent_to_the_webhook(
    client: Any, webhook: Any
) -> None:
    _server, received = webhook
    now = datetime.now(UTC)
    background = [Order(now - timedelta(days=d, hours=2), "噪音", street="劲松街道")
                  for d in range(1, 28)]
    planted = await seed(services(client), [
        *background, *(Order(now - timedelta(minutes=m), "供水", "小区停水了")
                       for m in (3, 9, 17, 30, 44))])
    spike_ids = set(planted[-5:])
    token = await login(client, "alice")
    agent_ws = await client.ws_connect("/api/ws", headers={"Origin": _origin(client)})
    assert (await agent_ws.receive_json())["type"] == "hello"
    token = await login(client, "root")
    admin_ws = await client.ws_connect("/api/ws", headers={"Origin": _origin(client)})
    assert (await admin_ws.receive_json())["type"] == "hello"
    resp = await client.post("/api/analytics/alerts/check", headers={"X-CSRF-Token": token})
    assert resp.status == 200 and (await resp.json()) == {"raised": 1}
    pushed = await asyncio.wait_for(admin_ws.receive_json(), 10)
    assert pushed["type"] == "alert" and pushed["alert"]["subcategory"] == "供水"
    alerts = (await (await client.get("/api/analytics/alerts")).json())["alerts"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["window"], alert["level"], alert["place_label"], alert["count"]) == (
        "hour", "street", "朝阳区双井街道", 5)
    assert set(alert["order_ids"]) == spike_ids and "供水" in alert["text"]
    assert len(received) == 1 and received[0]["type"] == "spike_alert"
    assert received[0]["count"] == 5 and "13811112222" not in str(received[0])
    # Checked again: the same spike is not raised twice.
    resp = await client.post("/api/analytics/alerts/check", headers={"X-CSRF-Token": token})
    assert (await resp.json()) == {"raised": 0}
    # The agent's websocket never got the alert.
    with pytest.raises(TimeoutError):
        while True:
            msg = await asyncio.wait_for(agent_ws.receive_json(), 0.5)
            assert msg.get("type") != "alert"
    await agent_ws.close()
    await admin_ws.close()


def _origin(client: Any) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_hotspots_list_streets_by_escalated_orders_per_week(client: Any) -> None:
    now = datetime.now(UTC)
    ids = await seed(services(client), [
        *(Order(now - timedelta(days=7 * w + 1), "噪音", street="劲松街道", escalate=True)
          for w in (0, 0, 1, 3)),
        Order(now - timedelta(days=2), "供水", escalate=True),
        Order(now - timedelta(days=2), "供水"),  # not escalated
    ])
    await login(client, "root")
    body = await (await client.get("/api/analytics/hotspots?weeks=8")).json()
    assert len(body["weeks"]) == 8
    streets = [(s["street"], s["escalated"]) for s in body["streets"]]
    assert streets == [("劲松街道", 4), ("双井街道", 1)]
    top = body["streets"][0]
    assert sum(w["orders"] for w in top["weeks"]) == 4
    assert set(top["order_ids"]) == set(ids[:4])


async def test_monthly_report_as_json_csv_and_printable_html(client: Any) -> None:
    dispatched = OCT + timedelta(hours=1)
    await seed(services(client), [
        Order(OCT, "供水", "停水", status="dispatched", dispatched_at=dispatched,
              responded=True, resolved=True, satisfaction="satisfied"),
        Order(OCT, "供水", "停水", status="dispatched", dispatched_at=dispatched,
              responded=True, satisfaction="dissatisfied"),
        Order(OCT, "供水", "停水", status="dispatched", dispatched_at=dispatched),
        Order(OCT, "噪音", "噪音", street="<script>x</script>", district="海淀区"),
        Order(SEP, "噪音", "噪音", district="海淀区"),  # another month
    ])
    await login(client, "root")
    report = await (await client.get("/api/analytics/report?month=2026-10")).json()
    assert report["orders"] == 4
    chaoyang = next(d for d in report["districts"] if d["district"] == "朝阳区")
    assert (chaoyang["dispatched"], chaoyang["responded"], chaoyang["resolved"]) == (3, 2, 1)
    assert chaoyang["callbacks_reached"] == 2
    assert chaoyang["response_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert chaoyang["satisfaction_rate"] == 0.5
    assert report["topics"][0]["subcategory"] == "供水"
    resp = await client.get("/api/analytics/report?month=2026-10&format=csv")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    text = (await resp.read()).decode("utf-8-sig")
    assert "区,工单数,派单数,响应率,解决率,满意率,回访数,回访率" in text
    assert "朝阳区,3,3,66.7%,33.3%,50.0%,2,66.7%" in text
    resp = await client.get("/api/analytics/report?month=2026-10&format=html")
    page = await resp.text()
    assert resp.status == 200 and "<h1>12345 月度报告 2026-10</h1>" in page
    assert "<script>x" not in page
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert (await client.get("/api/analytics/report?format=pdf")).status == 400
