"""Delayed offer against the real sipp: an INVITE without SDP gets our offer in the 200,
and the answer comes in the ACK (Cisco CUBE/CUCM's default; it got 488 before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import Settings
from tests.conftest import CALLS_DIR, SHARED
from tests.sipp.harness import call_audio, run_sipp, running_gateway, sip_settings, wait_for_drafts

pytestmark = [pytest.mark.slow]

D10 = next(
    case for line in (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    if line.strip() and (case := json.loads(line))["id"] == "D10"
)  # fmt: skip


async def test_delayed_offer_call_with_audio_is_drafted(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_delayed_offer.xml", settings.sip.port, tmp_path,
                             inf=[[D10["caller_number"]]], values=audio)  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        assert len(drafts) == 1
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.source == "sip" and call.end_reason == "remote-bye"
    assert call.caller_number == D10["caller_number"]
    # The RTP endpoint took the address and codec from the ACK's answer: the caller was
    # heard and transcribed.
    assert call.utterances and call.utterances[0].text
    assert drafts[0]["phone"] == D10["expect"]["phone"]
    assert gateway.calls == {}


async def test_an_ack_without_an_answer_is_hung_up(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_delayed_offer_no_answer.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr  # our BYE came
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "no_sdp_answer"
    assert call.utterances == []
    assert gateway.calls == {}
