"""The gateway against the real sipp on loopback (Debian package sip-tester)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from asr.audio import load_audio
from asr.g711 import pcm_to_ulaw
from config import Settings
from storage import Event
from tests.conftest import CALLS_DIR, SHARED
from tests.sipp.harness import (
    SIPP,
    call_audio,
    run_sipp,
    running_gateway,
    sip_settings,
    wait_for_drafts,
)
from tests.sipp.pcap import write_held_key_pcap

pytestmark = [pytest.mark.slow]

EXPECTED = {
    (case := json.loads(line))["id"]: case
    for line in (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    if line.strip()
}


def test_sipp_is_installed() -> None:
    assert SIPP is not None, "scripts/test installs sip-tester; sipp must be on PATH"


async def test_full_call_with_audio_dtmf_and_bye_is_drafted(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    ms = int(audio["AUDIO_MS"])
    caller = EXPECTED["D10"]["caller_number"]
    async with running_gateway(settings) as (services, gateway):
        async with services.bus.subscribe() as events:
            run = await run_sipp("uac_call.xml", settings.sip.port, tmp_path,
                                 inf=[[caller]], values=audio)
            assert run.returncode == 0, run.errors or run.stderr
            drafts = await wait_for_drafts(services, 1)
            seen: list[Event] = []
            while not events.empty():
                seen.append(events.get_nowait())
        assert len(drafts) == 1
        draft = drafts[0]
        call = await services.store.get_call(draft["call_id"])
    assert draft["phone"] == EXPECTED["D10"]["expect"]["phone"]
    assert draft["district"] == "海淀区"
    assert call is not None and call.source == "sip" and call.caller_number == caller
    assert call.end_reason == "remote-bye"
    assert [e.payload["digit"] for e in seen if e.kind == "dtmf"] == ["1", "#"]
    assert call.utterances and call.utterances[0].text
    # The caller's side: all the audio sipp sent, within the jitter buffer's last frames.
    assert call.recording_path is not None
    recorded = load_audio(Path(call.recording_path))
    assert recorded.sample_rate == 8000
    # The caller's timeline, as long as the call: the audio, then two keys 600 ms apart
    # (their events take no audio slots, the time between them is silence).
    assert recorded.duration == pytest.approx(ms / 1000 + 1.2, abs=0.5)
    assert Path(call.recording_path).with_suffix(".out.wav").is_file()
    assert gateway.calls == {}


async def test_a_key_held_with_no_end_packet_ends_after_max_key_s(
    settings: Settings, tmp_path: Path
) -> None:
    """#14 item 2 with sipp: a key whose RFC 4733 packets never carry the end bit (8 s of
    them, audio muted) counts once, ends after ``sip.dtmf_max_key_s``, and takes no audio
    slots: the recording is as long as the call, and the speech before it is heard."""
    settings = sip_settings(settings, dtmf_max_key_s=5.0)
    speech = pcm_to_ulaw(load_audio(CALLS_DIR / "D10.ulaw.wav").pcm)
    pcap = tmp_path / "held.pcap"
    seconds = write_held_key_pcap(pcap, speech, "5", 8.0, b"\xff" * 8000)
    values = {"AUDIO_PCAP": str(pcap), "AUDIO_MS": str(int(seconds * 1000))}
    async with running_gateway(settings) as (services, _):
        async with services.bus.subscribe() as events:
            run = await run_sipp("uac_call.xml", settings.sip.port, tmp_path,
                                 inf=[["13800001111"]], values=values)
            assert run.returncode == 0, run.errors or run.stderr
            (draft,) = await wait_for_drafts(services, 1)
            seen: list[Event] = []
            while not events.empty():
                seen.append(events.get_nowait())
        call = await services.store.get_call(draft["call_id"])
    assert [e.payload["digit"] for e in seen if e.kind == "dtmf"] == ["5", "1", "#"]
    assert call is not None and call.end_reason == "remote-bye"
    assert call.utterances and any(u.text for u in call.utterances)
    assert call.recording_path is not None
    recorded = load_audio(Path(call.recording_path))
    assert recorded.duration == pytest.approx(seconds + 1.2, abs=0.5)


async def test_cancel_before_answer_gets_487_and_no_draft(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings, answer_delay_ms=3000)
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_cancel.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr
        await asyncio.sleep(0.2)
        assert gateway.calls == {}
        assert await services.store.list_drafts() == []


async def test_codec_mismatch_gets_488(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_codec_mismatch.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr
        assert gateway.calls == {}
        assert await services.store.list_drafts() == []


async def test_silent_caller_is_hung_up_after_rtp_timeout(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings, rtp_timeout_s=2.0)
    async with running_gateway(settings) as (services, _gateway):
        run = await run_sipp("uac_silent.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "rtp_timeout"  # we hung up: BYE sent
    assert call.utterances == []
    assert drafts[0]["phone"] == "13900000002"  # nothing said: the caller ID


TORTURE = [
    # (name, datagram, expected status line prefix or None for "dropped")
    ("content-length larger than body",
     b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
     b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: t1\r\n"
     b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 9999\r\n\r\nshort", b"SIP/2.0 400"),
    ("missing Call-ID",
     b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK2\r\n"
     b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\n"
     b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", b"SIP/2.0 400"),
    ("non-numeric CSeq",
     b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK3\r\n"
     b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: t3\r\n"
     b"CSeq: one OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", b"SIP/2.0 400"),
    ("CSeq method does not match",
     b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK4\r\n"
     b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: t4\r\n"
     b"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", b"SIP/2.0 400"),
    ("INVITE with garbage SDP",
     b"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK5\r\n"
     b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: t5\r\n"
     b"CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5999>\r\nMax-Forwards: 70\r\n"
     b"Content-Type: application/sdp\r\nContent-Length: 11\r\n\r\nnot an sdp!", b"SIP/2.0 400"),
    ("binary garbage", bytes(range(256)) * 2, None),
]


async def test_malformed_messages_get_400_and_service_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    async with running_gateway(settings) as (_services, gateway):
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            for name, datagram, expected in TORTURE:
                # rport: answer our port, not the Via's 5999 (RFC 3581)
                datagram = datagram.replace(b";branch=", b";rport;branch=", 1)
                await loop.sock_sendto(sock, datagram, ("127.0.0.1", settings.sip.port))
                if expected is None:
                    with pytest.raises(TimeoutError):
                        await asyncio.wait_for(loop.sock_recv(sock, 65535), 0.5)
                    continue
                reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)
                while reply.startswith(b"SIP/2.0 100"):
                    reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)
                assert reply.startswith(expected), (name, reply[:80])
        assert gateway.calls == {}
        # Still serving: a well-formed call goes through afterwards.
        run = await run_sipp("uac_codec_mismatch.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr


async def test_thirty_concurrent_calls_all_drafted(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    # sipp plays one pcap per scenario: every caller says D15's words (a short call: 喂 你好
    # 我想问一下 … 算了 没事; thirty decodes of a long appeal only made the test slow),
    # from its own number.
    audio = call_audio(CALLS_DIR / "D15.ulaw.wav", tmp_path)
    rows = [[f"1390000{n:04d}"] for n in range(30)]
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_call.xml", settings.sip.port, tmp_path, calls=30,
                             concurrency=30, rate=30, inf=rows, timeout_s=180, values=audio)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 30, within=300)
        assert len(drafts) == 30
        assert gateway.completed == 30 and gateway.calls == {}
        calls = [await services.store.get_call(d["call_id"]) for d in drafts]
    assert all(c is not None and c.source == "sip" and c.utterances for c in calls)
    assert sorted(c.caller_number or "" for c in calls if c) == sorted(r[0] for r in rows)


async def test_source_outside_allowlist_gets_403(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings, allowed_networks=("192.0.2.0/24",))
    async with running_gateway(settings, with_asr=False) as (_services, gateway):
        run = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path,
                             values={"STATUS": "403"})
        assert run.returncode == 0, run.errors or run.stderr
        assert gateway.refused == 1 and gateway.calls == {}


async def test_over_max_calls_gets_503(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings, max_calls=0)
    async with running_gateway(settings, with_asr=False) as (_services, gateway):
        run = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path,
                             values={"STATUS": "503"})
        assert run.returncode == 0, run.errors or run.stderr
        assert gateway.refused == 1


async def test_per_source_rate_limit_gets_403(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings, rate_limit_per_s=0.001, rate_limit_burst=1)
    async with running_gateway(settings, with_asr=False) as (_services, gateway):
        # The first INVITE takes the only token (and is answered 488 for its codec).
        first = await run_sipp("uac_codec_mismatch.xml", settings.sip.port, tmp_path)
        assert first.returncode == 0, first.errors or first.stderr
        second = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path,
                                values={"STATUS": "403"})
        assert second.returncode == 0, second.errors or second.stderr
        assert gateway.refused == 1


async def test_digest_authentication(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings, auth_username="trunk1", auth_password="s3cret")
    async with running_gateway(settings) as (services, _gateway):
        wrong = await run_sipp("uac_auth.xml", settings.sip.port, tmp_path,
                               extra=("-au", "trunk1", "-ap", "wrong"), timeout_s=10)
        assert wrong.returncode != 0  # challenged again instead of answered
        run = await run_sipp("uac_auth.xml", settings.sip.port, tmp_path,
                             extra=("-au", "trunk1", "-ap", "s3cret"))
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
    assert len(drafts) == 1 and drafts[0]["phone"] == "13900000005"


async def test_hold_unhold_info_dtmf_and_options_in_dialog(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    async with (
        running_gateway(settings) as (services, _gateway),
        services.bus.subscribe() as events,
    ):
        run = await run_sipp("uac_indialog.xml", settings.sip.port, tmp_path)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        digits = []
        while not events.empty():
            ev = events.get_nowait()
            if ev.kind == "dtmf":
                digits.append((ev.payload["digit"], ev.payload["via"]))
    assert digits == [("5", "info")]
    assert len(drafts) == 1


async def test_caller_navigates_default_menu_by_dtmf_to_intake(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    caller = EXPECTED["D10"]["caller_number"]
    async with (
        running_gateway(settings) as (services, gateway),
        services.bus.subscribe() as events,
    ):
        assert gateway.menu is not None and gateway._rendering is not None
        await gateway._rendering  # prompts spoken by espeak-ng, so callers hear them
        run = await run_sipp("uac_menu.xml", settings.sip.port, tmp_path, inf=[[caller]],
                             values=audio)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        seen = []
        while not events.empty():
            seen.append(events.get_nowait())
        call = await services.store.get_call(drafts[0]["call_id"])
    entered = [e.payload["node_id"] for e in seen if e.kind == "ivr_node"]
    exits = [(e.payload["node_id"], e.payload["reason"], e.payload["key"])
             for e in seen if e.kind == "ivr_exit"]
    assert entered[:3] == ["welcome", "main", "intake"]
    assert ("main", "key", "2") in exits
    # The appeal itself comes from speech (Whisper base on 8 kHz TTS: wording varies); the
    # keyed choice is what the IVR is tested on here.
    assert drafts[0]["phone"] == EXPECTED["D10"]["expect"]["phone"], call and [
        u.text for u in call.utterances]
    # The caller heard the prompts: the system's side of the recording is not silent.
    assert call is not None and call.recording_path is not None
    out = load_audio(Path(call.recording_path).with_suffix(".out.wav"))
    assert out.duration > 1.0 and max(out.pcm) > 0


async def test_new_calls_use_the_published_menu_version(
    settings: Settings, tmp_path: Path
) -> None:
    from ivr import default_menu
    from ivr.serialize import menu_to_data
    from storage.menus import DEFAULT_MENU_ID, MenuVersions

    settings = sip_settings(settings)
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    async with (
        running_gateway(settings) as (services, _gateway),
        services.bus.subscribe() as events,
    ):
        versions = MenuVersions(services.store.engine)
        saved = await versions.save_draft(DEFAULT_MENU_ID, menu_to_data(default_menu()), "admin")
        await versions.publish(DEFAULT_MENU_ID, saved.version.version, "admin")
        run = await run_sipp("uac_menu.xml", settings.sip.port, tmp_path, inf=[["13900000009"]],
                             values=audio)
        assert run.returncode == 0, run.errors or run.stderr
        await wait_for_drafts(services, 1)
        seen = []
        while not events.empty():
            seen.append(events.get_nowait())
    versions_used = {e.payload["menu_version"] for e in seen if e.kind == "ivr_node"}
    assert versions_used == {saved.version.version}


async def test_call_over_tcp(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    async with running_gateway(settings) as (services, gateway):
        run = await run_sipp("uac_indialog.xml", settings.sip.port, tmp_path, transport="t1")
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        assert gateway.calls == {}
    assert len(drafts) == 1 and drafts[0]["phone"] == "13900000006"


async def test_caller_asking_for_an_agent_is_transferred_by_refer(
    settings: Settings, tmp_path: Path
) -> None:
    import dataclasses

    from ivr import default_menu
    from ivr.serialize import menu_to_data

    # The default menu, with agents on duty around the clock so the test does not depend
    # on the hour it runs at.
    data = menu_to_data(default_menu())
    hours = next(n for n in data["nodes"].values() if n["type"] == "hours")
    hours["weekly"] = {"daily": ["00:00-24:00"]}
    menu_file = tmp_path / "menu.json"
    menu_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    settings = sip_settings(settings)
    settings = dataclasses.replace(settings, ivr=dataclasses.replace(
        settings.ivr, menu=str(menu_file), agent_uri="sip:agents@127.0.0.1:5999"))
    # sipp sends no RTP while it waits for the REFER (a real caller's phone keeps sending).
    settings = dataclasses.replace(settings, sip=dataclasses.replace(settings.sip,
                                                                     rtp_timeout_s=60.0))
    async with (
        running_gateway(settings) as (services, _gateway),
        services.bus.subscribe() as events,
    ):
        run = await run_sipp("uac_transfer.xml", settings.sip.port, tmp_path,
                             inf=[["13900000010"]])
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
        seen = []
        while not events.empty():
            seen.append(events.get_nowait())
    transfers = [e.payload for e in seen if e.kind == "transfer"]
    assert transfers[0]["target"] == "sip:agents@127.0.0.1:5999"
    assert [(t["status"], t["done"]) for t in transfers[1:]] == [(202, False), (200, True)]
    exits = [(e.payload["node_id"], e.payload["reason"]) for e in seen if e.kind == "ivr_exit"]
    assert ("main", "key") in exits and ("agents", "transferred") in exits
    assert call is not None and call.end_reason == "transferred"
    assert drafts[0]["phone"] == "13900000010"  # the caller ID, for the agent's work order


async def test_a_call_storage_cannot_take_is_refused_with_503_not_answered(
    settings: Settings, tmp_path: Path
) -> None:
    """A call is stored before it is answered: with the database unable to take it (an
    overloaded pool, a database down), the trunk gets 503 and can route the call
    elsewhere, rather than a 200 for a call that would be lost."""
    from sqlalchemy.exc import OperationalError

    from asr.engines.base import EngineSpec

    settings = sip_settings(settings)
    async with running_gateway(settings, spec=EngineSpec("fake"), workers=1) as (
        services, gateway,
    ):
        async def unavailable(*args: object, **kwargs: object) -> str:
            raise OperationalError("INSERT INTO calls", {}, Exception("database is locked"))

        services.store.create_call = unavailable  # type: ignore[method-assign]
        run = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path,
                             values={"STATUS": "503"})
        assert run.returncode == 0, run.errors or run.stderr
        assert gateway.refused == 1 and gateway.calls == {}
        assert await services.store.list_drafts() == []
