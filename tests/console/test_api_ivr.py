"""The admin's IVR API over the real app: roles, live validation, drafts, publish (refused on
errors), rollback, audit, prompt upload and playback, TTS rendering, simulator, analytics."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shutil
import struct
import wave
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from console import CONSOLE
from console.routes import API_ROUTES
from ivr import analytics, default_menu
from ivr.events import InputFailed, NodeEntered, NodeExited, action_to_dict
from ivr.serialize import menu_to_data
from storage import Event
from tests.console.conftest import login, services_of
from voice_gateway.calls.simulate import run_call

BEIJING_MONDAY = datetime.fromisoformat("2026-03-02T10:00:00+08:00")


def menu_text(data: dict[str, Any] | None = None) -> str:
    return json.dumps(data or menu_to_data(default_menu()), ensure_ascii=False, indent=2)


def with_trap() -> dict[str, Any]:
    data = menu_to_data(default_menu())
    data["nodes"]["main"]["options"][3]["next"] = "trap"
    data["nodes"]["trap"] = {"type": "play", "prompt": "welcome", "next": "trap"}
    return data


async def admin(client: Any) -> dict[str, str]:
    return {"X-CSRF-Token": await login(client, "root")}


async def test_ivr_routes_are_admin_only(app_client: Any) -> None:
    ivr_routes = [r for r in API_ROUTES if r.path.startswith("/api/ivr")]
    assert len(ivr_routes) == 12 and all(r.role == "admin" for r in ivr_routes)
    for r in ivr_routes:
        path = (r.path.replace("{id}", "default").replace("{version}", "1")
                .replace("{prompt}", "welcome"))
        resp = await app_client.request(r.method, path, json={})
        assert resp.status == 401, (r.method, path)
    csrf = await login(app_client, "alice")
    for r in ivr_routes:
        path = (r.path.replace("{id}", "default").replace("{version}", "1")
                .replace("{prompt}", "welcome"))
        resp = await app_client.request(r.method, path, json={}, headers={"X-CSRF-Token": csrf})
        assert resp.status == 403, (r.method, path)
        assert (await resp.json())["error"] == "requires role admin"
    for page in ("/ivr/editor", "/ivr/prompts", "/ivr/simulator", "/ivr/analytics"):
        assert (await app_client.get(page, allow_redirects=False)).status == 403


async def test_state_changes_need_csrf(app_client: Any) -> None:
    await login(app_client, "root")
    resp = await app_client.post("/api/ivr/menus/default/drafts", json={"text": menu_text()})
    assert resp.status == 403 and (await resp.json())["error"] == "CSRF check failed"


async def test_live_validation_names_nodes(app_client: Any) -> None:
    headers = await admin(app_client)

    async def check(text: str) -> dict[str, Any]:
        resp = await app_client.post("/api/ivr/validate", json={"text": text}, headers=headers)
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    ok = await check(menu_text())
    assert ok["valid"] and ok["stage"] == "ok" and ok["errors"] == []
    assert "main" in ok["menu"]["nodes"]

    syntax = await check('{\n  "id": "m",\n  "start" "a"\n}')
    assert not syntax["valid"] and syntax["stage"] == "syntax"
    assert syntax["errors"][0]["line"] == 3

    schema = await check('{"id": "m", "start": "a", "nodes": {"a": {"type": "hangup", '
                         '"nxt": "b"}}}')
    assert schema["stage"] == "schema" and schema["errors"][0]["node"] == "a"
    assert "nxt" in schema["errors"][0]["message"]

    graph = await check(menu_text(with_trap()))
    assert graph["stage"] == "graph" and not graph["valid"]
    assert ("trap", "loop_no_exit") in {(e["node"], e["code"]) for e in graph["errors"]}
    assert any(e["text"].startswith("node 'trap':") for e in graph["errors"])

    resp = await app_client.post("/api/ivr/validate", json={"text": 5}, headers=headers)
    assert resp.status == 400


async def test_drafts_publish_rollback_and_audit(app_client: Any) -> None:
    headers = await admin(app_client)
    overview = await (await app_client.get("/api/ivr/menus/default")).json()
    assert overview["working"]["source"] == "file" and overview["versions"] == []
    assert overview["working"]["data"]["id"] == "default-12345"

    bad = await app_client.post("/api/ivr/menus/default/drafts", json={"text": "{oops"},
                                headers=headers)
    assert bad.status == 422 and (await bad.json())["errors"][0]["code"] == "syntax"

    saved = await app_client.post("/api/ivr/menus/default/drafts",
                                  json={"text": menu_text(with_trap()), "comment": "试一下"},
                                  headers=headers)
    assert saved.status == 201
    body = await saved.json()
    assert body["version"]["version"] == 1 and body["version"]["status"] == "draft"
    assert any(p["node"] == "trap" for p in body["problems"])

    refused = await app_client.post("/api/ivr/menus/default/versions/1/publish", json={},
                                    headers=headers)
    assert refused.status == 422
    assert any(e["node"] == "trap" for e in (await refused.json())["errors"])

    for _ in range(2):
        resp = await app_client.post("/api/ivr/menus/default/drafts",
                                     json={"text": menu_text()}, headers=headers)
        assert resp.status == 201
    for version in (2, 3):
        resp = await app_client.post(f"/api/ivr/menus/default/versions/{version}/publish",
                                     json={"comment": f"上线 {version}"}, headers=headers)
        assert resp.status == 200, await resp.text()
    again = await app_client.post("/api/ivr/menus/default/versions/3/publish", json={},
                                  headers=headers)
    assert again.status == 409
    missing = await app_client.post("/api/ivr/menus/default/versions/9/publish", json={},
                                    headers=headers)
    assert missing.status == 404
    back = await app_client.post("/api/ivr/menus/default/versions/2/rollback",
                                 json={"comment": "回滚"}, headers=headers)
    assert back.status == 200 and (await back.json())["version"]["status"] == "published"

    overview = await (await app_client.get("/api/ivr/menus/default")).json()
    assert overview["published_version"] == 2
    assert [(v["version"], v["status"]) for v in overview["versions"]] == [
        (3, "retired"), (2, "published"), (1, "draft")]
    assert overview["working"]["version"] == 3  # the editor opens the newest version
    assert [(a["username"], a["action"]) for a in overview["audit"]] == [
        ("root", "menu_rollback"), ("root", "menu_publish"), ("root", "menu_publish"),
        ("root", "menu_save"), ("root", "menu_save"), ("root", "menu_save")]
    assert overview["audit"][0]["before"] == {"menu_id": "default", "published": 3}
    assert overview["audit"][0]["after"]["published"] == 2

    one = await (await app_client.get("/api/ivr/menus/default/versions/1")).json()
    assert "trap" in one["data"]["nodes"] and one["comment"] == "试一下"


def _tone_wav(seconds: float = 0.4, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buf.getvalue()


def _form(data: bytes, filename: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
async def test_prompt_upload_listing_playback_and_broken_file(app_client: Any) -> None:
    headers = await admin(app_client)
    listing = await (await app_client.get("/api/ivr/menus/default/prompts")).json()
    assert "welcome" in listing["missing"]
    welcome = next(p for p in listing["prompts"] if p["id"] == "welcome")
    assert welcome["used_by"] == ["welcome"] and not welcome["has_audio"] and welcome["text"]

    resp = await app_client.post("/api/ivr/prompts/welcome/audio",
                                 data=_form(_tone_wav(), "welcome.wav"), headers=headers)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["prompt"] == "welcome" and 0.35 <= body["seconds"] <= 0.45
    stored = app_client.server.app[CONSOLE].settings.prompt_dir / "welcome.wav"
    # Stored as WAVE_FORMAT_MULAW (7), mono, 8 kHz: ready for RTP.
    assert struct.unpack("<HHI", stored.read_bytes()[20:28]) == (7, 1, 8000)

    listing = await (await app_client.get("/api/ivr/menus/default/prompts")).json()
    assert "welcome" not in listing["missing"]
    play = await app_client.get("/api/ivr/prompts/welcome/audio")
    assert play.status == 200 and play.content_type == "audio/wav"
    with wave.open(io.BytesIO(await play.read())) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        assert 0.35 <= w.getnframes() / 8000 <= 0.45

    broken = await app_client.post("/api/ivr/prompts/main_menu/audio",
                                   data=_form(b"this is not audio at all", "menu.mp3"),
                                   headers=headers)
    assert broken.status == 422
    message = (await broken.json())["error"]
    assert "menu.mp3" in message and "not a readable audio file" in message
    empty = await app_client.post("/api/ivr/prompts/main_menu/audio",
                                  data=_form(b"", "empty.wav"), headers=headers)
    assert empty.status == 422 and "empty" in (await empty.json())["error"]
    bad_id = await app_client.post("/api/ivr/prompts/..%2Fx/audio",
                                   data=_form(_tone_wav(), "x.wav"), headers=headers)
    assert bad_id.status in (400, 404)
    assert (await app_client.get("/api/ivr/prompts/main_menu/audio")).status == 404

    overview = await (await app_client.get("/api/ivr/menus/default")).json()
    assert [(a["action"], a["after"]["prompt"]) for a in overview["audit"]] == [
        ("prompt_upload", "welcome")]


async def test_render_failure_is_readable(app_client: Any) -> None:
    headers = await admin(app_client)
    console = app_client.server.app[CONSOLE]
    ivr = dataclasses.replace(console.settings.ivr, tts_command=("no-such-tts", "{text}"))
    console.settings = dataclasses.replace(console.settings, ivr=ivr)
    resp = await app_client.post("/api/ivr/menus/default/prompts/render", json={},
                                 headers=headers)
    assert resp.status == 422
    assert "no-such-tts" in (await resp.json())["error"]


async def test_simulator_runs_editor_text_and_stored_versions(app_client: Any) -> None:
    headers = await admin(app_client)
    resp = await app_client.post("/api/ivr/simulate", headers=headers, json={
        "text": menu_text(), "inputs": ["1", "我家楼下噪音太大"], "at": BEIJING_MONDAY.isoformat()})
    assert resp.status == 200, await resp.text()
    path = (await resp.json())["path"]
    assert [p["node"] for p in path] == ["welcome", "main", "intake", "goodbye"]
    assert path[1]["key"] == "1" and "speech 我家楼下噪音太大" in path[2]["inputs"]

    refused = await app_client.post("/api/ivr/simulate", headers=headers,
                                    json={"text": menu_text(with_trap()), "inputs": ["4"]})
    assert refused.status == 422
    assert any(e["node"] == "trap" for e in (await refused.json())["errors"])

    await app_client.post("/api/ivr/menus/default/drafts", json={"text": menu_text()},
                          headers=headers)
    stored = await app_client.post("/api/ivr/simulate", headers=headers, json={
        "menu_id": "default", "version": 1, "inputs": ["0"], "at": BEIJING_MONDAY.isoformat()})
    body = await stored.json()
    assert body["menu"]["version"] == 1
    assert [p["node"] for p in body["path"]][:4] == ["welcome", "main", "agent_hours", "agents"]
    bad = await app_client.post("/api/ivr/simulate", headers=headers,
                                json={"text": menu_text(), "inputs": "1"})
    assert bad.status == 400


SCRIPTS = [["1"], ["2"], ["我要投诉"], ["<hangup>"], ["", "<hangup>"], ["9", "9", "9"],
           ["0"], ["1"], ["", "", ""], ["3", "<hangup>"]]


async def _store_simulated_calls(client: Any, version: int | None, scripts: list[list[str]],
                                 prefix: str) -> list[list[Any]]:
    store = services_of(client).store
    menu = default_menu()
    logs = []
    kinds = {NodeEntered: "ivr_node", NodeExited: "ivr_exit", InputFailed: "ivr_input"}
    for i, inputs in enumerate(scripts):
        call = run_call(menu, inputs, BEIJING_MONDAY, transfer_ok=False)
        logs.append(call.log)
        for action in call.log:
            kind = kinds.get(type(action))
            if kind is not None:
                await store.record_event(Event(kind, f"{prefix}{i}", {
                    **action_to_dict(action), "menu": menu.id, "menu_version": version}))
    return logs


async def test_analytics_counts_after_simulated_calls(app_client: Any) -> None:
    await admin(app_client)
    logs_v1 = await _store_simulated_calls(app_client, 1, SCRIPTS, "a")
    logs_file = await _store_simulated_calls(app_client, None, SCRIPTS[:3], "b")

    body = await (await app_client.get("/api/ivr/analytics")).json()
    assert body["calls"] == len(SCRIPTS) + 3
    assert body["versions"] == [{"menu": "default-12345", "menu_version": None, "calls": 3},
                                {"menu": "default-12345", "menu_version": 1,
                                 "calls": len(SCRIPTS)}]
    nodes = {n["node"]: n for n in body["nodes"]}
    expected = analytics(logs_v1 + logs_file)
    assert {k: {**v.as_dict(), "node": k} for k, v in expected.items()} == nodes

    v1 = {n["node"]: n for n in (await (await app_client.get(
        "/api/ivr/analytics?version=1")).json())["nodes"]}
    main = v1["main"]
    assert main["entries"] == len(SCRIPTS)
    # Keys 1, 2, 0, 3; "我要投诉" is option 2 spoken; 9 9 9 is invalid three times.
    assert main["exits"] == {"1": 2, "2": 2, "0": 1, "3": 1, "hangup": 2, "invalid": 1,
                             "timeout": 1}
    assert (main["invalid_inputs"], main["timeouts"], main["hangups"]) == (3, 4, 2)
    assert main["drop_off"] == 0.2
    assert main["average_time_s"] is not None and main["average_time_s"] > 0
    assert v1["intake"]["entries"] == 8 and v1["intake"]["hangups"] == 1
    assert v1["agents"]["exits"] == {"transfer_failed": 1}

    only_file = await (await app_client.get("/api/ivr/analytics?version=file")).json()
    assert only_file["calls"] == 3
    tomorrow = (datetime.now() + timedelta(days=2)).date().isoformat()
    future = await (await app_client.get(
        f"/api/ivr/analytics?from={tomorrow}&to={tomorrow}")).json()
    assert future["calls"] == 0 and future["nodes"] == []
    bad = await app_client.get("/api/ivr/analytics?version=x")
    assert bad.status == 400
