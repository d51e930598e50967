"""A browser call through the default menu: prompts reach the caller on the outbound track
with their captions, a key on the ``dtmf`` channel barges in, and what the caller says is
captioned back (fake ASR engine)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from asr.audio import load_audio
from config import Settings
from ivr.loader import load_catalogue
from tests.sipp.harness import SHARED_PROMPTS, wait_for_drafts
from tests.webrtc.support import (
    WhipClient,
    call_in,
    fake_services,
    post_offer,
    wait_until,
    webrtc_settings,
)
from voice_gateway.app import SERVICES, init_app
from voice_gateway.services import Services

TEXTS = load_catalogue()


def seconds(wav: Path) -> float:
    return load_audio(wav).duration


def prompts(client: WhipClient) -> list[str]:
    return [c["text"] for c in client.captions if c["type"] == "prompt"]


async def test_prompts_play_with_captions_and_a_key_barges_in(aiohttp_client: Any,
                                                              settings: Settings) -> None:
    http = await aiohttp_client(init_app(webrtc_settings(settings, ivr=True), fake_services))
    services: Services = http.server.app[SERVICES]
    await wait_until(lambda: (SHARED_PROMPTS / "main_menu.wav").is_file(), 120)
    client = WhipClient.create(None)
    try:
        resp = await call_in(http, client)
        await wait_until(lambda: TEXTS["main_menu"] in prompts(client), 30)
        at_menu = client.frames
        client.dtmf.send("2")  # 投诉举报, in the middle of the menu's prompt
        await wait_until(lambda: TEXTS["intake_problem"] in prompts(client), 30)
        menu_heard_s = (client.frames - at_menu) * 0.020
        assert (await http.delete(resp.headers["Location"])).status == 200
        drafts = await wait_for_drafts(services, 1, within=30)
    finally:
        await client.close()
    assert prompts(client)[:3] == [TEXTS["welcome"], TEXTS["main_menu"],
                                   TEXTS["intake_problem"]]
    # Barge-in: the menu's prompt stopped at the key, it was not played to its end.
    assert menu_heard_s < seconds(SHARED_PROMPTS / "main_menu.wav") - 1.0
    assert client.loud_frames > 50  # the greeting reached the caller as sound
    call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.recording_path is not None
    sent = Path(call.recording_path).with_suffix(".out.wav")
    assert seconds(sent) >= seconds(SHARED_PROMPTS / "welcome.wav")


async def test_a_send_only_caller_still_walks_the_menu(aiohttp_client: Any,
                                                       settings: Settings) -> None:
    """An offer that only sends (a WHIP ingest client): no prompt can be heard, yet the
    menu goes on (captions still come), it does not wait forever for a prompt to play."""
    from aiortc import AudioStreamTrack

    http = await aiohttp_client(init_app(webrtc_settings(settings, ivr=True), fake_services))
    await wait_until(lambda: (SHARED_PROMPTS / "main_menu.wav").is_file(), 120)
    client = WhipClient.create(None, audio=False)
    client.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 201, await resp.text()
        answer = await resp.text()
        assert "a=recvonly" in answer
        await client.answer(answer)
        await client.connected()
        await wait_until(lambda: TEXTS["main_menu"] in prompts(client), 40)
        assert (await http.delete(resp.headers["Location"])).status == 200
    finally:
        await client.close()


async def test_a_key_while_the_next_prompt_loads_stops_it_before_it_starts(
        aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The race CI once hit: the menu's prompt was still loading (in a thread) when the key
    # came. The stop found nothing playing, and the menu then played to its end.
    from voice_gateway.calls import prompts as prompts_module
    from voice_gateway.webrtc.whip import WEBRTC

    loading = threading.Event()
    release = threading.Event()
    real = prompts_module._load

    def slow_menu(path: Path) -> bytes:
        if path.stem == "main_menu":
            loading.set()
            release.wait(30)
        return real(path)

    monkeypatch.setattr(prompts_module, "_load", slow_menu)
    http = await aiohttp_client(init_app(webrtc_settings(settings, ivr=True), fake_services))
    services: Services = http.server.app[SERVICES]
    gateway = http.server.app[WEBRTC]
    await wait_until(lambda: (SHARED_PROMPTS / "main_menu.wav").is_file(), 120)
    client = WhipClient.create(None)
    try:
        resp = await call_in(http, client)
        await wait_until(loading.is_set, 30)  # the greeting is over, the menu loads
        client.dtmf.send("2")
        await wait_until(lambda: any(getattr(r.transport, "keys", 0)
                                     for r in gateway.calls.values()), 10)
        release.set()
        await wait_until(lambda: TEXTS["intake_problem"] in prompts(client), 30)
        assert (await http.delete(resp.headers["Location"])).status == 200
        await wait_for_drafts(services, 1, within=30)
    finally:
        release.set()
        await client.close()
    # The menu never started: no caption, and the intake question came next.
    assert prompts(client)[:2] == [TEXTS["welcome"], TEXTS["intake_problem"]]
    assert TEXTS["main_menu"] not in prompts(client)
