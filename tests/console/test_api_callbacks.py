"""回访 in the console: admins see the callback queue with its statistics and retry or
cancel one; agents see an order's callback result and open its recording."""

from __future__ import annotations

import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storage.callbacks import AttemptRecord, CallbackStore
from tests.console.conftest import login, new_draft, services_of


def _hdr(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


async def _answered_callback(client: Any, tmp: Path) -> tuple[str, str]:
    """An order with an answered callback (dissatisfied) and its recording."""
    services = services_of(client)
    draft = await new_draft(client)
    store = CallbackStore(services.store.engine, services.store.bus)
    now = datetime.now(UTC)
    cid = await store.enqueue(str(draft["id"]), "13811223344", now)
    assert cid is not None
    wav = tmp / "callback.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    call_id = await services.store.create_call("callback", "13811223344", str(wav), "fake")
    [job] = await store.claim("n", now, 1, timedelta(minutes=5))
    await store.finish_attempt(job, "n", AttemptRecord("answered", 200, call_id, False,
                                                       "dissatisfied", rework=True), now, None)
    return str(draft["id"]), cid


async def test_admin_sees_the_queue_and_stats_and_can_retry_or_cancel(app_client: Any,
                                                                       tmp_path: Path) -> None:
    services = services_of(app_client)
    await _answered_callback(app_client, tmp_path)
    draft = await new_draft(app_client, caller="13900001111")
    store = CallbackStore(services.store.engine, services.store.bus)
    cid = await store.enqueue(str(draft["id"]), "13900001111", datetime.now(UTC))
    await login(app_client, "alice")
    assert (await app_client.get("/api/callbacks")).status == 403  # admins only
    csrf = await login(app_client, "root")
    rows = await (await app_client.get("/api/callbacks")).json()
    assert {r["status"] for r in rows} == {"queued", "done"}
    assert all("number" not in r for r in rows)  # no phone numbers in the queue view
    stats = await (await app_client.get("/api/callbacks/stats")).json()
    assert (stats["reached"], stats["queued"]) == (1, 1)
    resp = await app_client.post(f"/api/callbacks/{cid}/cancel", headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    resp = await app_client.post(f"/api/callbacks/{cid}/retry", headers=_hdr(csrf))
    assert resp.status == 200 and (await resp.json())["status"] == "queued"
    resp = await app_client.post("/api/callbacks/nosuch/retry", headers=_hdr(csrf))
    assert resp.status == 404


async def test_agent_sees_the_result_and_hears_the_recording(app_client: Any,
                                                             tmp_path: Path) -> None:
    draft_id, _cid = await _answered_callback(app_client, tmp_path)
    await login(app_client, "alice")
    result = await (await app_client.get(f"/api/drafts/{draft_id}/callback")).json()
    assert (result["status"], result["resolved"], result["satisfaction"]) == (
        "done", False, "dissatisfied")
    assert result["recording"] == f"/api/drafts/{draft_id}/callback/recording"
    resp = await app_client.get(f"/api/drafts/{draft_id}/callback/recording")
    assert resp.status == 200 and (await resp.read())[:4] == b"RIFF"
    other = await new_draft(app_client, caller="13900002222")
    assert await (await app_client.get(f"/api/drafts/{other['id']}/callback")).json() is None
    assert (await app_client.get(f"/api/drafts/{other['id']}/callback/recording")).status == 404


async def test_do_not_call_asked_at_intake_is_shown(app_client: Any) -> None:
    """An order whose caller pressed 6 (如不需要回访) shows its refused callback to the
    agent and in the admin's queue and statistics."""
    from tests.console.conftest import D01
    from voice_gateway.callbacks.survey import DO_NOT_CALL_LABEL
    from voice_gateway.calls.drafting import draft_and_store

    services = services_of(app_client)
    call_id = await services.store.create_call("sip", "13811223344", None, "fake:none")
    await services.store.end_call(call_id, "hangup", 12.0)
    draft = await draft_and_store(services, call_id, D01, "13811223344",
                                  menu_choices=("投诉举报", DO_NOT_CALL_LABEL))  # fmt: skip
    await login(app_client, "alice")
    result = await (await app_client.get(f"/api/drafts/{draft['id']}/callback")).json()
    assert (result["status"], result["attempts"]) == ("refused", 0)
    await login(app_client, "root")
    rows = await (await app_client.get("/api/callbacks")).json()
    assert [(r["draft_id"], r["status"]) for r in rows] == [(draft["id"], "refused")]
    stats = await (await app_client.get("/api/callbacks/stats")).json()
    assert (stats["refused"], stats["queued"]) == (1, 0)
