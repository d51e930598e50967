"""Media against the real sipp (issue #14): RTP from another address than the signalling,
and a codec changed by re-INVITE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asr.audio import load_audio
from asr.g711 import pcm_to_alaw
from config import Settings
from tests.conftest import CALLS_DIR, SHARED
from tests.sipp.harness import call_audio, run_sipp, running_gateway, sip_settings, wait_for_drafts
from tests.sipp.pcap import write_rtp_pcap
from voice_gateway.calls.runner import CallRunner
from voice_gateway.calls.sip_gateway import SipCallTransport, SipGateway
from voice_gateway.rtp import EndpointStats
from voice_gateway.sip.sdp import AudioPolicy, SessionDescription, answer_offer

EXPECTED = {
    (case := json.loads(line))["id"]: case
    for line in (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    if line.strip()
}


def record_rtp(gateway: SipGateway) -> list[tuple[EndpointStats, Any]]:
    """Each call's RTP counters and where it sent its media, as the call ends."""
    seen: list[tuple[EndpointStats, Any]] = []
    done = gateway._call_done

    def recorded(runner: CallRunner) -> None:
        transport = runner.transport
        assert isinstance(transport, SipCallTransport)
        seen.append((transport.rtp.stats, transport.rtp.remote_address))
        done(runner)

    gateway._call_done = recorded  # type: ignore[method-assign]
    return seen


@pytest.mark.slow
async def test_rtp_from_another_address_than_the_invite_is_transcribed(
    settings: Settings, tmp_path: Path
) -> None:
    # An SBC signalling from 127.0.0.1 with its media on 127.0.0.2 (its SDP says so): every
    # such call was silent ("0 RTP packets, 600 garbage datagrams dropped", empty draft).
    settings = sip_settings(settings)
    assert settings.sip.rtp_source == "sdp"
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    caller = EXPECTED["D10"]["caller_number"]
    async with running_gateway(settings) as (services, gateway):
        rtp = record_rtp(gateway)
        run = await run_sipp(
            "uac_call.xml",
            settings.sip.port,
            tmp_path,
            inf=[[caller]],
            values=audio,
            media_ip="127.0.0.2",
        )
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
        started = await services.store.call_events(drafts[0]["call_id"], ("media_started",))
    # The machine hears when media starts, and from where (the call's media address).
    assert len(started) == 1 and started[0].payload["source"].startswith("127.0.0.2:")
    assert 0 <= started[0].payload["after_s"] < 5
    assert len(rtp) == 1
    stats, sent_to = rtp[0]
    assert stats.rtp_accepted > 0 and stats.foreign_source == 0
    assert sent_to is not None and sent_to[0] == "127.0.0.2"
    # Media kept alive from the answer to the BYE: 50 packets a second (half of that at
    # least, whatever the load on the machine), prompts or not.
    assert stats.packets_sent >= 25 * int(audio["AUDIO_MS"]) / 1000
    assert call is not None and call.utterances and any(u.text for u in call.utterances)
    assert drafts[0]["phone"] == EXPECTED["D10"]["expect"]["phone"]
    # Both sides of the recording run from the answer to the hang-up, on one clock: the
    # system's side counts the silence it sent, not only its prompts.
    assert call.recording_path is not None
    caller_side = load_audio(Path(call.recording_path))
    system_side = load_audio(Path(call.recording_path).with_suffix(".out.wav"))
    assert system_side.duration == pytest.approx(caller_side.duration, abs=0.5)


@pytest.mark.slow
async def test_a_reinvite_to_pcma_is_heard_in_pcma(settings: Settings, tmp_path: Path) -> None:
    # PCMU first; a re-INVITE offering PCMA before PCMU keeps PCMU; one offering only PCMA
    # (telephone-event on 96) moves the call. The endpoint used to keep payload type 0 and
    # drop every PCMA packet as unexpected.
    settings = sip_settings(settings)
    audio = load_audio(CALLS_DIR / "D10.ulaw.wav")
    pcap = tmp_path / "D10.pcma.pcap"
    ms = int(write_rtp_pcap(pcap, pcm_to_alaw(audio.pcm), payload_type=8) * 1000)
    async with running_gateway(settings) as (services, gateway):
        rtp = record_rtp(gateway)
        run = await run_sipp(
            "uac_codec_change.xml",
            settings.sip.port,
            tmp_path,
            inf=[["13900000014"]],
            values={"AUDIO_PCAP": str(pcap), "AUDIO_MS": str(ms)},
        )
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
    stats, _ = rtp[0]
    assert stats.unexpected_payload_type == 0 and stats.rtp_accepted > 0
    assert call is not None and call.utterances and any(u.text for u in call.utterances)


OFFER = """v=0
o=caller 1 2 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=0 0
m=audio 30000 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
"""


def test_the_answer_prefers_the_current_codec() -> None:
    offer = SessionDescription.parse(OFFER)
    _, first = answer_offer(offer, AudioPolicy(), "127.0.0.1", 20000, session_id="1")
    assert first.codec == "PCMA"  # a new call: the offer's order
    _, kept = answer_offer(offer, AudioPolicy(), "127.0.0.1", 20000, session_id="1", prefer="PCMU")
    assert (kept.codec, kept.payload_type, kept.telephone_event_pt) == ("PCMU", 0, 101)
    _, absent = answer_offer(
        offer, AudioPolicy(codecs=("PCMA",)), "127.0.0.1", 20000, session_id="1", prefer="PCMU"
    )
    assert absent.codec == "PCMA"  # not offered (or not ours): the usual choice


@pytest.mark.slow
async def test_a_trunk_offering_comfort_noise_gets_it_between_prompts(
    settings: Settings, tmp_path: Path
) -> None:
    # RFC 3389: with CN in the offer, the keep-alive between prompts is a CN packet every
    # 200 ms rather than a silence frame every 20 ms (a tenth of the packets and syscalls).
    settings = sip_settings(settings)
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    async with running_gateway(settings) as (services, gateway):
        rtp = record_rtp(gateway)
        run = await run_sipp("uac_call_cn.xml", settings.sip.port, tmp_path,
                             inf=[[EXPECTED["D10"]["caller_number"]]], values=audio)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
    (stats, _), = rtp
    seconds = int(audio["AUDIO_MS"]) / 1000
    assert stats.rtp_accepted > 0 and stats.unexpected_payload_type == 0
    # Prompts at 50 packets a second, the rest at 5: well under the 50/s of silence frames.
    assert 0 < stats.packets_sent < 35 * seconds
    assert drafts[0]["phone"] == EXPECTED["D10"]["expect"]["phone"]
