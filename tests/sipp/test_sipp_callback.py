"""A 回访 survey call end to end: our INVITE through the gateway's core, sipp as the
citizen's phone answering and pressing keys from Debian's RFC 2833 pcaps, the same call
machine and runner as inbound calls walking the survey menu."""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from storage import DraftWorkflow, Reports
from storage.callbacks import CallbackStore
from tests.sipp.harness import free_port, running_gateway, sip_settings
from tests.sipp.pcap import write_dtmf_pcap
from tests.sipp.uas import sipp_uas
from tests.storage.test_store_backends import FIELDS
from voice_gateway.callbacks.dialer import Dialer
from voice_gateway.callbacks.service import call_now, callback_service
from voice_gateway.callbacks.survey import SurveyAnswers, load_survey_menu
from voice_gateway.services import Services
from voice_gateway.sip.uac import OutboundRoute

pytestmark = [pytest.mark.slow]

DTMF = "/usr/share/sip-tester/dtmf_2833_{}.pcap"


def keys(workdir: Path, *digits: str, first_ms: int = 1500) -> str:
    """sipp actions: each key 1.5 s after the previous one (the first after ``first_ms``),
    then straight to the BYE.
    Debian's pcap for the first key; a key repeated is written afresh (a new RTP
    timestamp), since the same pcap twice is one key retransmitted."""
    actions = []
    for n, digit in enumerate(digits):
        pcap = DTMF.format(digit)
        if digit in digits[:n]:
            pcap = str(workdir / f"key-{n}-{digit}.pcap")
            write_dtmf_pcap(Path(pcap), digit)
        actions.append(f'<pause milliseconds="{first_ms if n == 0 else 1500}"/>\n'
                       f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
    return "\n".join(actions)


def quiet_prompts(settings: Settings, tmp_path: Path, *, speak_summary: bool = False) -> Settings:
    """No prompt audio: prompts end at once, so keys 1.5 s apart meet the questions (and
    no TTS for the order's summary unless ``speak_summary``)."""
    ivr = dataclasses.replace(settings.ivr, prompt_dir=tmp_path / "prompts")
    if not speak_summary:
        ivr = dataclasses.replace(ivr, tts_command=())
    return dataclasses.replace(settings, ivr=ivr)


@pytest.mark.parametrize(("digits", "expected"), [
    (("1", "1"), SurveyAnswers(True, "satisfied")),
    (("2", "3"), SurveyAnswers(False, "dissatisfied")),
])  # fmt: skip
async def test_callback_answered_with_keys(settings: Settings, tmp_path: Path,
                                           digits: tuple[str, str],
                                           expected: SurveyAnswers) -> None:  # fmt: skip
    settings = quiet_prompts(sip_settings(settings), tmp_path)
    media = {"MEDIA": keys(tmp_path, *digits)}
    async with (running_gateway(settings) as (services, gateway),
                sipp_uas("uas_answer.xml", tmp_path, values=media) as uas):
        dialer = Dialer(gateway, load_survey_menu())
        route = OutboundRoute(proxy=("127.0.0.1", uas.port), caller_id="12345")
        result = await dialer.call(f"sip:13800000000@127.0.0.1:{uas.port}", route,
                                   order_id="order-1", caller_number="13800000000")
        run = await uas.result()
        assert result.outcome == "answered" and result.call_id is not None
        assert result.answers == expected
        events = await services.store.call_events(result.call_id, ("dtmf", "callback_answers"))
        call = await services.store.get_call(result.call_id)
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
    assert call is not None and call.source == "callback"
    kinds = [e.kind for e in events]
    assert "callback_answers" in kinds and kinds.count("dtmf") == 2
    stored = next(e for e in events if e.kind == "callback_answers")
    assert stored.payload["order_id"] == "order-1"
    assert stored.payload["resolved"] is expected.resolved


async def test_busy_callee_is_an_outcome_not_a_call(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    async with (running_gateway(settings) as (_services, gateway),
                sipp_uas("uas_busy.xml", tmp_path) as uas):
        dialer = Dialer(gateway, load_survey_menu())
        route = OutboundRoute(proxy=("127.0.0.1", uas.port))
        result = await dialer.call(f"sip:13800000000@127.0.0.1:{uas.port}", route,
                                   order_id="order-2")
        run = await uas.result()
    assert (result.outcome, result.status, result.retry_after) == ("busy", 486, 60)
    assert result.call_id is None
    assert run.returncode == 0, run.errors



async def _handled_order(services: Services, phone: str = "13800000000") -> str:
    """A dispatched work order that has been responded to: due for its callback."""
    store = services.store
    call_id = await store.create_call("file", phone, None, "fake:none")
    await store.end_call(call_id, "hangup", 3.0)
    draft = await store.save_draft(call_id, "电梯坏了", {**FIELDS, "phone": phone},
                                   {}, [], False)  # fmt: skip
    flow = DraftWorkflow(store.engine, store.bus)
    await flow.claim(str(draft["id"]), "agent")
    await flow.dispatch(str(draft["id"]), "agent", None)
    await flow.follow_up(str(draft["id"]), "agent", responded=True)
    return str(draft["id"])


async def test_done_when_resolved_order_called_back_and_rates_move(
        settings: Settings, tmp_path: Path) -> None:  # fmt: skip
    """The issue's 'done when': serve's scheduler calls a handled order back, sipp presses
    1 and 1, the order shows resolved + satisfied and the rates move."""
    media = {"MEDIA": keys(tmp_path, "1", "1")}
    async with sipp_uas("uas_answer.xml", tmp_path, values=media) as uas:
        callbacks = dataclasses.replace(
            settings.callbacks, enabled=True, trunk_host="127.0.0.1", trunk_port=uas.port,
            calling_hours="00:00-23:59", poll_interval_s=0.2)  # fmt: skip
        settings = quiet_prompts(sip_settings(settings), tmp_path)
        settings = dataclasses.replace(settings, callbacks=callbacks)
        async with running_gateway(settings) as (services, gateway):
            order = await _handled_order(services)
            since = datetime.now(UTC) - timedelta(days=1)
            [before] = await Reports(services.store.engine).rates_by_district(since)
            store = CallbackStore(services.store.engine, services.store.bus)
            async with callback_service(services, gateway) as scheduler:
                assert scheduler is not None
                row = await _settled(store, order)
            [after] = await Reports(services.store.engine).rates_by_district(since)
            found = await DraftWorkflow(services.store.engine, services.store.bus).draft(order)
        run = await uas.result()
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
    assert (row["status"], row["resolved"], row["satisfaction"]) == ("done", True, "satisfied")
    assert found is not None and found[1]["resolved_at"] and found[1]["satisfaction"] == "satisfied"
    assert (before["resolution_rate"], before["satisfaction_rate"]) != (1.0, 1.0)
    assert (after["resolution_rate"], after["satisfaction_rate"]) == (1.0, 1.0)


async def test_cli_call_now_reopens_an_unresolved_order(settings: Settings,
                                                       tmp_path: Path) -> None:  # fmt: skip
    media = {"MEDIA": keys(tmp_path, "2", "3")}
    async with sipp_uas("uas_answer.xml", tmp_path, values=media) as uas:
        settings = quiet_prompts(sip_settings(settings), tmp_path)
        async with running_gateway(settings) as (services, gateway):
            order = await _handled_order(services)
            result = await call_now(services, gateway, order,
                                    f"sip:13800000000@127.0.0.1:{uas.port}")
            queue = await DraftWorkflow(services.store.engine, services.store.bus).queue("new")
        run = await uas.result()
    assert run.returncode == 0, run.errors
    assert {k: result[k] for k in ("order_id", "outcome", "resolved", "satisfaction",
                                   "attempt")} == {
        "order_id": order, "outcome": "answered", "resolved": False,
        "satisfaction": "dissatisfied", "attempt": 1}
    assert result["call_id"]
    assert [d["id"] for d, w in queue] == [order]  # 重办: back in the agents' queue


async def _settled(store: CallbackStore, order: str, within: float = 60.0) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        row = await store.for_draft(order)
        if row is not None and row["status"] not in ("queued", "dialling"):
            return row
        assert loop.time() < deadline, row
        await asyncio.sleep(0.2)


async def test_callback_through_kamailio_as_the_authenticating_outbound_proxy(
        settings: Settings, tmp_path: Path) -> None:  # fmt: skip
    """deploy/kamailio/outbound.cfg as the trunk: it challenges our INVITE (407, qop auth),
    relays it to sipp-as-citizen and stays in the dialog; keys 1 and 1 come back."""
    from tests.interop.peers import render_kamailio, require_binary, running_kamailio

    require_binary("/usr/sbin/kamailio")
    kport = free_port()
    config = render_kamailio("outbound.cfg", {
        "PROXY_ADDR": "127.0.0.1", "PROXY_PORT": str(kport), "REALM": "trunk.example",
        "AUTH_USER": "hotline", "AUTH_PASSWORD": "s3cret-trunk"})  # fmt: skip
    media = {"MEDIA": keys(tmp_path, "1", "1")}
    settings = quiet_prompts(sip_settings(settings), tmp_path)
    async with (running_kamailio(config, tmp_path, kport) as kamailio,
                sipp_uas("uas_answer_rr.xml", tmp_path, values=media) as uas,
                running_gateway(settings) as (_services, gateway)):
        route = OutboundRoute(proxy=("127.0.0.1", kport), username="hotline",
                              password="s3cret-trunk", caller_id="12345")  # fmt: skip
        result = await Dialer(gateway, load_survey_menu()).call(
            f"sip:13800000000@127.0.0.1:{uas.port}", route, order_id="o-k")
        run = await uas.result()
        challenged = kamailio.lines("challenged")
        relayed = kamailio.lines("BYE ")
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
    assert result.outcome == "answered"
    assert result.answers == SurveyAnswers(True, "satisfied")
    assert len(challenged) == 1  # one 407, answered once
    assert relayed  # our BYE went along the route set, through the proxy


async def test_the_orders_summary_is_read_out_first(settings: Settings, tmp_path: Path) -> None:
    """The summary prompt, rendered for this call, plays before the first question: the
    call's outbound recording holds it, and keys after it are taken."""
    media = {"MEDIA": keys(tmp_path, "1", "2", first_ms=6000)}
    settings = quiet_prompts(sip_settings(settings), tmp_path, speak_summary=True)
    async with (sipp_uas("uas_answer.xml", tmp_path, values=media) as uas,
                running_gateway(settings) as (services, gateway)):
        order = await _handled_order(services)
        result = await call_now(services, gateway, order, f"sip:13800000000@127.0.0.1:{uas.port}")
        assert result["call_id"]
        events = await services.store.call_events(str(result["call_id"]), ("ivr_node",))
        call = await services.store.get_call(str(result["call_id"]))
        run = await uas.result()
    assert run.returncode == 0, run.errors
    assert (result["resolved"], result["satisfaction"]) == (True, "basic")
    assert [e.payload["node_id"] for e in events][:3] == ["intro", "summary", "resolved"]
    assert call is not None and call.recording_path
    sent = Path(call.recording_path).with_suffix(".out.wav")
    with wave.open(str(sent)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    first = array.array("h", frames[: rate * 2 * 5])  # the first 5 s we sent
    assert max(abs(v) for v in first) > 1000  # speech: the summary (no other prompt audio)


async def test_serve_runs_the_scheduler(aiohttp_client: Any, settings: Settings,
                                        tmp_path: Path) -> None:  # fmt: skip
    """The whole app as `serve` builds it (init_app, fake ASR), with callbacks.enabled: a
    handled order is queued and called back by the app's own scheduler."""
    from asr.engines.base import EngineSpec
    from voice_gateway.app import SERVICES, init_app
    from voice_gateway.services import open_services

    @contextlib.asynccontextmanager
    async def fake_asr(s: Settings) -> AsyncIterator[Services]:
        async with open_services(s, spec=EngineSpec(kind="fake"), workers=1) as services:
            yield services

    media = {"MEDIA": keys(tmp_path, "1", "3")}
    async with sipp_uas("uas_answer.xml", tmp_path, values=media) as uas:
        callbacks = dataclasses.replace(
            settings.callbacks, enabled=True, trunk_host="127.0.0.1", trunk_port=uas.port,
            calling_hours="00:00-23:59", poll_interval_s=0.2)  # fmt: skip
        settings = dataclasses.replace(quiet_prompts(sip_settings(settings), tmp_path),
                                       callbacks=callbacks)  # fmt: skip
        client = await aiohttp_client(init_app(settings, fake_asr))
        services = client.server.app[SERVICES]
        order = await _handled_order(services)
        row = await _settled(CallbackStore(services.store.engine, services.store.bus), order)
        run = await uas.result()
    assert run.returncode == 0, run.errors
    assert (row["status"], row["resolved"], row["satisfaction"]) == ("done", True,
                                                                     "dissatisfied")
    queue = await DraftWorkflow(services.store.engine, services.store.bus).queue("new")
    assert [d["id"] for d, _w in queue] == [order]  # 重办
