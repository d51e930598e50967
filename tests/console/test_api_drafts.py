"""The draft workflow over HTTP: queue, live push, claim, edit, dispatch, merge, reject."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.console.conftest import D01, URGENT, login, new_draft, services_of

DRAFT_KEYS = {"id", "name", "surname", "phone", "district", "street", "address", "category",
              "subcategory", "appeal_type", "urgent", "summary", "dispatch_to", "due_at",
              "confidence", "call_id", "created_at", "status"}


def _hdr(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


async def test_drafts_list_has_the_cli_keys(app_client: Any) -> None:
    await login(app_client, "alice")
    draft = await new_draft(app_client)
    resp = await app_client.get("/api/drafts")
    listed = await resp.json()
    assert [d["id"] for d in listed] == [draft["id"]]
    assert set(listed[0]) == DRAFT_KEYS
    assert listed[0] == (await services_of(app_client).store.list_drafts())[0]


async def test_queue_filters_and_puts_urgent_first(app_client: Any) -> None:
    await login(app_client, "alice")
    ordinary = await new_draft(app_client)
    urgent = await new_draft(app_client, URGENT, "15910203040")
    assert urgent["urgent"] is True
    items = await (await app_client.get("/api/queue")).json()
    assert [i["draft"]["id"] for i in items] == [urgent["id"], ordinary["id"]]
    assert items[0]["workflow"]["claimed_by"] is None
    by_district = await (await app_client.get("/api/queue?district=朝阳区")).json()
    assert [i["draft"]["id"] for i in by_district] == [ordinary["id"]]
    by_category = await (await app_client.get("/api/queue", params={
        "category": ordinary["category"]})).json()
    assert ordinary["id"] in [i["draft"]["id"] for i in by_category]
    assert (await app_client.get("/api/queue?status=dispatched")).status == 200
    assert (await app_client.get("/api/queue?status=bogus")).status == 400


async def test_websocket_pushes_each_new_draft(app_client: Any) -> None:
    await login(app_client, "alice")
    ws = await app_client.ws_connect("/api/ws")
    hello = await ws.receive_json()
    assert hello["type"] == "hello"
    draft = await new_draft(app_client)
    calls = []
    while (msg := await asyncio.wait_for(ws.receive_json(), 5))["type"] == "call":
        calls.append(msg["event"])
    assert calls == ["call_started", "call_ended"]
    assert msg["type"] == "draft" and msg["event"] == "draft_created"
    assert msg["draft"]["id"] == draft["id"] and msg["draft"]["phone"] == "13811223344"
    await ws.close()


async def test_claim_locks_a_draft_against_a_second_agent(app_client: Any, aiohttp_client: Any
                                                          ) -> None:
    draft = await new_draft(app_client)
    did = draft["id"]
    alice = await login(app_client, "alice")
    other = await aiohttp_client(app_client.server)  # a second browser
    bob = await login(other, "bob")
    assert (await app_client.post(f"/api/drafts/{did}/claim", json={},
                                  headers=_hdr(alice))).status == 200
    resp = await other.post(f"/api/drafts/{did}/claim", json={}, headers=_hdr(bob))
    assert resp.status == 409 and "alice" in (await resp.json())["error"]
    resp = await other.patch(f"/api/drafts/{did}", json={"fields": {"phone": "13800000000"}},
                             headers=_hdr(bob))
    assert resp.status == 409
    queue = await (await other.get("/api/queue")).json()
    assert queue[0]["workflow"]["claimed_by"] == "alice"
    assert (await app_client.post(f"/api/drafts/{did}/release", json={},
                                  headers=_hdr(alice))).status == 200
    assert (await other.post(f"/api/drafts/{did}/claim", json={},
                             headers=_hdr(bob))).status == 200


async def test_correct_phone_dispatch_and_audit(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    draft = await new_draft(app_client)
    did = draft["id"]
    await app_client.post(f"/api/drafts/{did}/claim", json={}, headers=_hdr(csrf))
    bad = await app_client.patch(f"/api/drafts/{did}", json={"fields": {"phone": "12ab"}},
                                 headers=_hdr(csrf))
    assert bad.status == 400 and (await bad.json())["field"] == "phone"
    assert (await app_client.patch(f"/api/drafts/{did}", json={"fields": {"nope": 1}},
                                   headers=_hdr(csrf))).status == 400
    resp = await app_client.patch(f"/api/drafts/{did}", json={"fields": {"phone": "13811223345"}},
                                  headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["phone"] == "13811223345"
    resp = await app_client.post(f"/api/drafts/{did}/dispatch",
                                 json={"unit": "朝阳区双井街道办事处"}, headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["status"] == "dispatched"
    detail = await (await app_client.get(f"/api/drafts/{did}")).json()
    assert detail["workflow"]["dispatched_to"] == "朝阳区双井街道办事处"
    audit = [(a["username"], a["action"], a["before"], a["after"]) for a in detail["audit"]]
    assert audit[0] == ("alice", "edit", {"phone": "13811223344"}, {"phone": "13811223345"})
    assert audit[1][:2] == ("alice", "dispatch")
    assert all(a["at"] for a in detail["audit"])
    assert detail["evidence"]["phone"] is not None and detail["transcript"] == D01
    again = await app_client.post(f"/api/drafts/{did}/dispatch", json={}, headers=_hdr(csrf))
    assert again.status == 409
    follow = await app_client.post(f"/api/drafts/{did}/follow-up", json={
        "responded": True, "resolved": True, "satisfaction": "satisfied"}, headers=_hdr(csrf))
    assert follow.status == 200 and (await follow.json())["satisfaction"] == "satisfied"


async def test_merge_into_earlier_order_and_reject(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    first = await new_draft(app_client)
    repeat = await new_draft(app_client)  # same phone and street: linked as a repeat
    prank = await new_draft(app_client, "喂喂喂", None)
    detail = await (await app_client.get(f"/api/drafts/{repeat['id']}")).json()
    assert first["id"] in detail["workflow"]["related"]
    for d in (repeat, prank):
        await app_client.post(f"/api/drafts/{d['id']}/claim", json={}, headers=_hdr(csrf))
    resp = await app_client.post(f"/api/drafts/{repeat['id']}/merge", json={"into": first["id"]},
                                 headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["status"] == "merged"
    bad = await app_client.post(f"/api/drafts/{prank['id']}/reject", json={"reason": "x"},
                                headers=_hdr(csrf))
    assert bad.status == 400
    resp = await app_client.post(f"/api/drafts/{prank['id']}/reject", json={"reason": "silent"},
                                 headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["status"] == "rejected"
    queue = await (await app_client.get("/api/queue")).json()
    assert [i["draft"]["id"] for i in queue] == [first["id"]]


def _wav(path: Path, seconds: float, rate: int = 8000) -> None:
    n = int(seconds * rate)
    data = struct.pack(f"<{n}h", *([1000, -1000] * (n // 2)))
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
              + b"data" + struct.pack("<I", len(data)))
    path.write_bytes(header + data)


async def test_recording_is_served_with_range_support(app_client: Any, tmp_path: Path) -> None:
    await login(app_client, "alice")
    rec = tmp_path / "call.wav"
    _wav(rec, 2.0)
    _wav(rec.with_suffix(".out.wav"), 1.0)
    services = services_of(app_client)
    call_id = await services.store.create_call("sip", "13811223344", str(rec), "fake:none")
    await services.store.end_call(call_id, "hangup", 2.0)
    draft = await services.store.save_draft(call_id, "t", {"confidence": {}}, {}, [], False)
    url = f"/api/drafts/{draft['id']}/recording"
    full = await app_client.get(url)
    assert full.status == 200 and full.headers["Content-Type"] == "audio/wav"
    assert full.headers.get("Accept-Ranges") == "bytes"
    part = await app_client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(await part.read()) == 100
    assert part.headers["Content-Range"] == f"bytes 0-99/{rec.stat().st_size}"
    system = await app_client.get(url + "?side=system")
    assert len(await system.read()) == rec.with_suffix(".out.wav").stat().st_size
    no_rec = await new_draft(app_client)
    assert (await app_client.get(f"/api/drafts/{no_rec['id']}/recording")).status == 404


async def test_dashboard_and_export(app_client: Any) -> None:
    csrf = await login(app_client, "root")
    draft = await new_draft(app_client)
    await app_client.post(f"/api/drafts/{draft['id']}/claim", json={}, headers=_hdr(csrf))
    await app_client.post(f"/api/drafts/{draft['id']}/dispatch", json={}, headers=_hdr(csrf))
    dash = await (await app_client.get("/api/dashboard?hours=24")).json()
    assert sum(h["calls"] for h in dash["calls_per_hour"]) == 1
    assert dash["drafts_by_district"] == [{"key": "朝阳区", "count": 1}]
    assert dash["dispatch_delay"]["count"] == 1
    assert dash["rates"][0]["district"] == "朝阳区" and dash["rates"][0]["orders"] == 1
    csv_resp = await app_client.get("/api/export?format=csv")
    text = (await csv_resp.read()).decode("utf-8-sig")
    assert "attachment" in csv_resp.headers["Content-Disposition"]
    assert text.splitlines()[0].startswith("id,call_id,created_at,status")
    assert draft["id"] in text
    rows = await (await app_client.get("/api/export?format=json")).json()
    assert rows[0]["id"] == draft["id"] and rows[0]["status"] == "dispatched"


def test_cli_users_add_and_export(cli_env: dict[str, str]) -> None:
    cli = [str(Path(sys.executable).with_name("voice-intake"))]
    ok = subprocess.run([*cli, "users", "add", "carol", "--role", "agent"], input="long password\n",
                        env=cli_env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    dup = subprocess.run([*cli, "users", "add", "carol", "--role", "agent"],
                         input="long password\n", env=cli_env, capture_output=True, text=True,
                         timeout=120)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    listed = subprocess.run([*cli, "users", "list"], env=cli_env, capture_output=True, text=True,
                            timeout=120)
    assert listed.stdout.split() == ["carol", "agent"]
    out = subprocess.run([*cli, "export", "--format", "json", "--status", "all"], env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout) == []
