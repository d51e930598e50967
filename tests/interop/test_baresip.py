"""Debian's baresip 1.0 calling the real gateway on loopback (tests/interop/baresip.py).

A dev call's audio is played into the call; keys are pressed while it flows (RFC 4733
events beside the audio), one key is held down for seconds, the call is put on hold and
resumed (re-INVITEs), and a PCMA-only offer is heard in PCMA.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from asr.audio import load_audio
from asr.engines.base import EngineSpec
from config import Settings
from tests.conftest import CALLS_DIR, SHARED
from tests.interop.baresip import Baresip, running_baresip, write_wav
from tests.interop.peers import require_binary
from tests.sipp.harness import running_gateway, sip_settings, wait_for_drafts
from voice_gateway.calls.runner import CallRunner
from voice_gateway.calls.sip_gateway import SipCallTransport, SipGateway

D10 = next(
    case for line in (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    if line.strip() and (case := json.loads(line))["id"] == "D10"
)  # fmt: skip


@pytest.fixture(autouse=True)
def _baresip() -> None:
    require_binary("/usr/bin/baresip")


def dev_call_wav(tmp_path: Path) -> tuple[Path, float]:
    """D10's audio as the 16-bit WAV baresip's aufile plays, and its length. Silence
    follows, longer than any call here: baresip hangs up when its source runs out."""
    audio = load_audio(CALLS_DIR / "D10.ulaw.wav")
    assert audio.sample_rate == 8000
    silence = b"\x00\x00" * 8000 * 20
    return write_wav(tmp_path / "D10.wav", audio.pcm + silence), audio.duration


def record_media(gateway: SipGateway) -> list[Any]:
    """Each call's transport as it ends (negotiated media, RTP counters)."""
    seen: list[Any] = []
    done = gateway._call_done

    def recorded(runner: CallRunner) -> None:
        assert isinstance(runner.transport, SipCallTransport)
        seen.append(runner.transport)
        done(runner)

    gateway._call_done = recorded  # type: ignore[method-assign]
    return seen


async def held_key(phone: Baresip, key: str, seconds: float) -> None:
    """Hold ``key`` down on baresip's console for ``seconds``, then release it."""
    phone.key(key)
    await asyncio.sleep(seconds)
    # Pressed, and still down: baresip has not sent the event's end packets yet.
    log = phone.log.read_text(errors="replace")
    assert f"send DTMF digit: '{key}'" in log
    assert f"send DTMF digit end: '{key}'" not in log
    phone.key("\x04")  # KEYCODE_REL


@pytest.mark.slow
async def test_call_with_speech_keys_a_held_key_and_hold(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    wav, audio_s = dev_call_wav(tmp_path)
    loop = asyncio.get_running_loop()
    async with running_gateway(settings) as (services, gateway):
        media = record_media(gateway)
        async with services.bus.subscribe() as events, running_baresip(tmp_path, wav) as phone:
            await phone.command("dial", f"sip:12345@127.0.0.1:{settings.sip.port}")
            answered = (await phone.event("CALL_ESTABLISHED"))["at"]
            await asyncio.sleep(2.0)
            await phone.command("sndcode", "1")  # keys while the speech flows
            await asyncio.sleep(1.5)
            await phone.command("sndcode", "2")
            await asyncio.sleep(1.0)
            await held_key(phone, "5", 2.5)  # a key held down for 2.5 s
            await asyncio.sleep(1.0)
            await phone.command("hold")
            await asyncio.sleep(1.5)
            await phone.command("resume")
            await asyncio.sleep(max(1.5, audio_s - (loop.time() - answered) + 1.0))
            await phone.command("hangup")
            call_s = (await phone.event("CALL_CLOSED"))["at"] - answered
            # The INVITE's answer, then the hold's and the resume's (re-INVITEs).
            answers = [e for e in phone.seen if e["type"] == "CALL_REMOTE_SDP"]
            drafts = await wait_for_drafts(services, 1)
            keys = []
            while not events.empty():
                event = events.get_nowait()
                if event.kind == "dtmf":
                    keys.append(event.payload["digit"])
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "remote-bye"
    assert call.caller_number == "13900000031"
    assert [e["param"] for e in answers] == ["answer"] * 3
    # Each press is one key, the held one too; no event packet became audio.
    assert keys == ["1", "2", "5"]
    (transport,) = media
    assert transport.rtp.stats.rtp_accepted > 0
    assert transport.rtp.stats.foreign_source == 0
    # The speech under the keys was heard.
    assert call.utterances and any(u.text for u in call.utterances)
    # The recording runs from the answer to the hang-up: the held key and the hold did not
    # stretch or shorten it (each event packet used to add 20 ms).
    assert call.recording_path is not None
    caller_side = load_audio(Path(call.recording_path))
    system_side = load_audio(Path(call.recording_path).with_suffix(".out.wav"))
    assert caller_side.duration == pytest.approx(call_s, abs=0.5)
    assert system_side.duration == pytest.approx(caller_side.duration, abs=0.5)


async def test_a_pcma_only_offer_is_heard_in_pcma(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    wav, _ = dev_call_wav(tmp_path)
    async with running_gateway(settings, spec=EngineSpec("fake"), workers=1) as (
        services,
        gateway,
    ):
        media = record_media(gateway)
        async with running_baresip(tmp_path, wav, codecs="PCMA") as phone:
            await phone.command("dial", f"sip:12345@127.0.0.1:{settings.sip.port}")
            await phone.event("CALL_ESTABLISHED")
            await asyncio.sleep(2.0)
            await phone.command("hangup")
            await phone.event("CALL_CLOSED")
        await wait_for_drafts(services, 1)
    (transport,) = media
    assert transport.media.codec == "PCMA"
    stats = transport.rtp.stats
    assert stats.rtp_accepted > 0 and stats.unexpected_payload_type == 0
