"""Issue 17 item 9: recordings and transcripts by role, and the audit of who opened them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from console import CONSOLE
from storage import StoredUtterance
from tests.console.conftest import login, new_draft, services_of
from tests.console.test_api_drafts import _wav


async def _recorded_draft(client: Any, tmp_path: Path) -> dict[str, Any]:
    rec = tmp_path / "call.wav"
    _wav(rec, 1.0)
    _wav(rec.with_suffix(".out.wav"), 1.0)
    services = services_of(client)
    call_id = await services.store.create_call("sip", "13811223344", str(rec), "fake:none")
    await services.store.end_call(call_id, "hangup", 1.0)
    draft: dict[str, Any] = await services.store.save_draft(
        call_id, "t", {"confidence": {}}, {}, [], False)
    return draft


async def test_recording_and_transcript_openings_are_audited(
    app_client: Any, aiohttp_client: Any, tmp_path: Path,
) -> None:
    draft = await _recorded_draft(app_client, tmp_path)
    url = f"/api/drafts/{draft['id']}/recording"
    await login(app_client, "alice")
    assert (await app_client.get(f"/api/drafts/{draft['id']}")).status == 200
    for rng in ("bytes=0-", "bytes=0-99", "bytes=100-"):  # a browser's player: one opening
        assert (await app_client.get(url, headers={"Range": rng})).status == 206
    assert (await app_client.get(url + "?side=system")).status == 200
    assert (await app_client.get("/api/audit/access")).status == 403  # admins only

    admin = await aiohttp_client(app_client.server)
    await login(admin, "root")
    entries = await (await admin.get(f"/api/audit/access?draft={draft['id']}")).json()
    seen = sorted((e["username"], e["action"], e.get("detail", {}).get("side")) for e in entries)
    assert seen == [("alice", "recording_view", "caller"), ("alice", "recording_view", "system"),
                    ("alice", "transcript_view", None)]
    assert all(e["call_id"] == draft["call_id"] and e["at"] for e in entries)
    # Views are not changes: the draft's own history stays empty.
    detail = await (await admin.get(f"/api/drafts/{draft['id']}")).json()
    assert detail["audit"] == []


async def test_own_recordings_only_when_configured(app_client: Any, aiohttp_client: Any,
                                                   tmp_path: Path) -> None:
    console = app_client.server.app[CONSOLE]
    console.settings = dataclasses.replace(
        console.settings,
        console=dataclasses.replace(console.settings.console, recording_access="own"))
    draft = await _recorded_draft(app_client, tmp_path)
    url = f"/api/drafts/{draft['id']}/recording"
    csrf = await login(app_client, "alice")
    bob = await aiohttp_client(app_client.server)
    await login(bob, "bob")
    root = await aiohttp_client(app_client.server)
    await login(root, "root")
    assert (await app_client.get(url)).status == 403  # not alice's
    assert (await root.get(url)).status == 200  # admins open all
    resp = await app_client.post(f"/api/drafts/{draft['id']}/claim", json={},
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert (await app_client.get(url)).status == 200  # claimed by alice
    assert (await bob.get(url)).status == 403
    missing = await app_client.get("/api/drafts/nope/recording")
    assert missing.status == 404


async def _next_call_message(ws: Any, event: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        data: dict[str, Any] = json.loads(msg.data)
        if data.get("type") == "call" and data.get("event") == event:
            return data


async def test_live_transcripts_go_only_to_agents_who_opened_the_call(
    app_client: Any, aiohttp_client: Any,
) -> None:
    services = services_of(app_client)
    await new_draft(app_client)  # something in the store
    live = await services.store.create_call("sip", "13900001111", None, "fake:none")
    await services.store.add_utterance(live, StoredUtterance(0, 0.0, 1.0, "第一句", 0.9, []))
    await login(app_client, "alice")
    bob = await aiohttp_client(app_client.server)
    await login(bob, "bob")
    root = await aiohttp_client(app_client.server)
    await login(root, "root")

    calls = await (await app_client.get("/api/calls/live")).json()
    mine = next(c for c in calls if c["id"] == live)
    assert mine["transcript_hidden"] and "text" not in mine["utterances"][0]
    admin_view = await (await root.get("/api/calls/live")).json()
    assert next(c for c in admin_view if c["id"] == live)["utterances"][0]["text"] == "第一句"

    opened = await app_client.get(f"/api/calls/{live}/transcript")
    assert opened.status == 200 and (await opened.json())["utterances"][0]["text"] == "第一句"
    assert (await app_client.get("/api/calls/nope/transcript")).status == 404

    ws_alice = await app_client.ws_connect("/api/ws")
    ws_bob = await bob.ws_connect("/api/ws")
    ws_root = await root.ws_connect("/api/ws")
    for ws in (ws_alice, ws_bob, ws_root):
        assert json.loads((await ws.receive()).data)["type"] == "hello"
    await services.store.add_utterance(live, StoredUtterance(1, 1.0, 2.0, "第二句", 0.9, []))
    got_alice = await _next_call_message(ws_alice, "utterance")
    got_bob = await _next_call_message(ws_bob, "utterance")
    got_root = await _next_call_message(ws_root, "utterance")
    assert got_alice["utterance"]["text"] == "第二句"
    assert got_root["utterance"]["text"] == "第二句"
    assert "text" not in got_bob["utterance"] and got_bob["utterance"]["hidden"]
    for ws in (ws_alice, ws_bob, ws_root):
        await ws.close()

    entries = await (await root.get(f"/api/audit/access?call={live}")).json()
    assert [(e["username"], e["action"]) for e in entries] == [("alice", "live_transcript_view")]


async def test_a_large_websocket_message_closes_the_socket(app_client: Any) -> None:
    """Clients only send "ping": anything over 4 KB is refused (1009) before it is held."""
    await login(app_client, "alice")
    ws = await app_client.ws_connect("/api/ws")
    assert json.loads((await ws.receive()).data)["type"] == "hello"
    await ws.send_str("x" * 65536)
    while (await asyncio.wait_for(ws.receive(), 10)).type.name == "TEXT":
        pass
    assert ws.closed and ws.close_code == 1009
