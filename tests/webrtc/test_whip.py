"""WHIP (RFC 9725) against the real app on loopback, with an aiortc client as the browser:
a call's audio in, keys over the ``dtmf`` data channel, DELETE to hang up; the stored
call, utterances, keys, recordings and draft; the error codes and CORS."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCRtpSender

from config import Settings
from tests.conftest import CALLS_DIR
from tests.sipp.harness import wait_for_drafts
from tests.webrtc.support import (
    ORIGIN,
    WhipClient,
    fake_services,
    post_offer,
    services_of,
    wait_until,
    webrtc_settings,
)
from voice_gateway.app import init_app
from voice_gateway.webrtc.whip import WEBRTC

WAV = CALLS_DIR / "D15.pcm8k.wav"  # 5.9 s: the shortest dev call


@pytest.fixture
async def http(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(init_app(webrtc_settings(settings), fake_services))


async def test_a_whip_call_is_stored_transcribed_and_drafted_like_a_sip_call(
        http: Any) -> None:
    services = services_of(http)
    client = WhipClient.create(WAV)
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 201, await resp.text()
        assert resp.content_type == "application/sdp"
        location = resp.headers["Location"]
        assert location.startswith("/whip/")
        answer = await resp.text()
        assert "opus/48000" in answer.lower()  # the browser's codec, decoded by aiortc
        await client.answer(answer)
        await client.connected()
        client.dtmf.send("1")
        client.dtmf.send("3#")
        await client.audio_sent()
        await asyncio.sleep(1.0)  # the last frames, through the jitter buffer
        resp = await http.delete(location)
        assert resp.status == 200
        drafts = await wait_for_drafts(services, 1, within=30)
        assert (await http.delete(location)).status == 404  # the session is gone
    finally:
        await client.close()
    assert len(drafts) == 1
    call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.source == "webrtc" and call.caller_number is None
    assert call.end_reason == "whip_delete"
    assert call.utterances and all(u.text for u in call.utterances)
    started = await services.store.call_events(call.id, ("media_started",))
    assert [e.payload["source"] for e in started] == ["webrtc"]  # the machine heard it start
    assert call.recording_path is not None
    recording = Path(call.recording_path)
    with wave.open(str(recording)) as w:
        assert w.getframerate() == 16000
        seconds = w.getnframes() / w.getframerate()
    with wave.open(str(WAV)) as w:
        sent = w.getnframes() / w.getframerate()
    assert sent - 0.5 <= seconds <= sent + 3.0  # all of it, plus the wait before DELETE
    assert recording.with_suffix(".out.wav").is_file()


async def test_keys_over_the_dtmf_channel_are_the_call_s_keys(http: Any) -> None:
    services = services_of(http)
    client = WhipClient.create(None)
    async with services.bus.subscribe() as bus:
        try:
            resp = await post_offer(http, await client.offer())
            assert resp.status == 201, await resp.text()
            await client.answer(await resp.text())
            await client.connected()
            client.dtmf.send("1")
            client.dtmf.send("3#")
            client.dtmf.send("x")  # not a key: ignored
            seen: list[str] = []

            def keys() -> bool:
                while not bus.empty():
                    ev = bus.get_nowait()
                    if ev.kind == "dtmf":
                        assert ev.payload["via"] == "datachannel"
                        seen.append(ev.payload["digit"])
                return len(seen) >= 3

            await wait_until(keys, 10)
            assert (await http.delete(resp.headers["Location"])).status == 200
        finally:
            await client.close()
    assert seen == ["1", "3", "#"]
    await wait_for_drafts(services, 1, within=30)


async def test_bad_offers_get_400_415_and_422(http: Any) -> None:
    assert (await post_offer(http, "not an sdp at all")).status == 400
    resp = await http.post("/whip", data=b"v=0\r\n", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    client = WhipClient.create(None, audio=False)  # data channels only
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 422, await resp.text()
    finally:
        await client.close()
    assert http.server.app[WEBRTC].calls == {}


async def test_patch_is_405_and_unknown_sessions_are_404(http: Any) -> None:
    client = WhipClient.create(WAV)
    try:
        resp = await post_offer(http, await client.offer())
        location = resp.headers["Location"]
        resp = await http.patch(location, data=b"a=candidate:1 1 udp 1 127.0.0.1 9 typ host",
                                headers={"Content-Type": "application/trickle-ice-sdpfrag"})
        assert resp.status == 405 and "DELETE" in resp.headers["Allow"]
        assert (await http.delete("/whip/nosuchsession")).status == 404
        assert (await http.delete(location)).status == 200
    finally:
        await client.close()


async def test_refused_calls_get_503_with_retry_after(aiohttp_client: Any,
                                                      settings: Settings) -> None:
    http = await aiohttp_client(init_app(webrtc_settings(settings, max_calls=0),
                                         fake_services))
    client = WhipClient.create(WAV)
    try:
        resp = await post_offer(http, await client.offer())
    finally:
        await client.close()
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0


async def test_offers_past_the_per_address_rate_get_429(aiohttp_client: Any,
                                                        settings: Settings) -> None:
    http = await aiohttp_client(init_app(
        webrtc_settings(settings, rate_limit_per_s=0.01, rate_limit_burst=2), fake_services))
    statuses = [(await post_offer(http, "garbage")).status for _ in range(3)]
    assert statuses == [400, 400, 429]


async def test_cors_allows_configured_origins_only(http: Any) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    resp = await http.options("/whip", headers=preflight)
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "Location" in resp.headers["Access-Control-Expose-Headers"]
    evil = {**preflight, "Origin": "https://evil.example"}
    assert (await http.options("/whip", headers=evil)).status == 403
    resp = await post_offer(http, "garbage", Origin="https://evil.example")
    assert resp.status == 403
    resp = await post_offer(http, "garbage", Origin=ORIGIN)
    assert resp.status == 400
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    # The portal's page hangs up across origins too: DELETE's preflight and answer.
    delete = {**preflight, "Access-Control-Request-Method": "DELETE"}
    resp = await http.options("/whip/some-session", headers=delete)
    assert resp.status == 204 and "DELETE" in resp.headers["Access-Control-Allow-Methods"]
    resp = await http.delete("/whip/some-session", headers={"Origin": ORIGIN})
    assert resp.status == 404 and resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    resp = await http.delete("/whip/some-session", headers={"Origin": "https://evil.example"})
    assert resp.status == 403


async def test_a_browser_call_is_a_live_call_marked_webrtc(http: Any) -> None:
    from console import CONSOLE
    from tests.console.conftest import PASSWORD, login

    await http.server.app[CONSOLE].accounts.add_user("alice", PASSWORD, "agent")
    await login(http, "alice")
    client = WhipClient.create(None)
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 201
        await client.answer(await resp.text())
        await client.connected()
        live = await (await http.get("/api/calls/live")).json()
        assert [c["source"] for c in live] == ["webrtc"]
        assert (await http.delete(resp.headers["Location"])).status == 200
        drafts = await wait_for_drafts(services_of(http), 1, within=30)
    finally:
        await client.close()
    detail = await (await http.get(f"/api/drafts/{drafts[0]['id']}")).json()
    assert detail["call"]["source"] == "webrtc"
    queue = await (await http.get("/api/queue")).json()
    assert [item["workflow"]["channel"] for item in queue] == ["webrtc"]


async def test_pcmu_is_decoded_and_resampled_like_opus(http: Any) -> None:
    """A client that offers only G.711 μ-law (as some SIP-minded WebRTC stacks do)."""
    services = services_of(http)
    client = WhipClient.create(WAV)
    pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs
            if c.mimeType == "audio/PCMU"]
    client.pc.getTransceivers()[0].setCodecPreferences(pcmu)
    try:
        offer = await client.offer()
        assert "opus" not in offer.lower()
        resp = await post_offer(http, offer)
        assert resp.status == 201, await resp.text()
        answer = await resp.text()
        assert "PCMU/8000" in answer and "opus" not in answer.lower()
        await client.answer(answer)
        await client.connected()
        await client.audio_sent()
        await asyncio.sleep(1.0)
        assert (await http.delete(resp.headers["Location"])).status == 200
        drafts = await wait_for_drafts(services, 1, within=30)
    finally:
        await client.close()
    call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.utterances and call.recording_path is not None
    with wave.open(call.recording_path) as w:
        assert w.getframerate() == 16000
        assert w.getnframes() / 16000 > 5.0


async def test_a_silent_browser_is_hung_up_on_and_told(aiohttp_client: Any,
                                                       settings: Settings) -> None:
    """No audio for webrtc.media_timeout_s: the service ends the call, says so on the
    captions channel (the browser's BYE) and drafts it."""
    http = await aiohttp_client(init_app(webrtc_settings(settings, media_timeout_s=1.5),
                                         fake_services))
    services = services_of(http)
    client = WhipClient.create(None)
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 201
        await client.answer(await resp.text())
        await client.connected()
        client.pc.getSenders()[0].track.stop()  # the microphone goes away
        await wait_until(lambda: {"type": "ended"} in client.captions, 20)
        drafts = await wait_for_drafts(services, 1, within=30)
    finally:
        await client.close()
    call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "media_timeout"
    assert http.server.app[WEBRTC].calls == {}


async def test_a_call_storage_cannot_take_is_503_with_retry_after(http: Any) -> None:
    """As a SIP INVITE: the call is stored before it is answered, so a stalled database
    is a 503 the browser can retry, not a call that is never drafted; the peer connection
    is released."""
    services = services_of(http)

    async def stalled(*args: object, **kwargs: object) -> str:
        from storage import StorageStalled

        raise StorageStalled("not stored within the deadline")

    services.store.create_call = stalled  # type: ignore[method-assign]
    client = WhipClient.create(WAV)
    try:
        resp = await post_offer(http, await client.offer())
    finally:
        await client.close()
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0
    await wait_until(lambda: not http.server.app[WEBRTC].calls, 10)


async def test_the_page_s_own_origin_is_allowed_behind_a_tls_proxy(http: Any) -> None:
    """The page is served over https by a reverse proxy that speaks http to us: its
    Origin is https://<our host>, ours looks like http://<our host>; same host, allowed."""
    host = http.make_url("").host + ":" + str(http.make_url("").port)
    resp = await post_offer(http, "garbage", Origin=f"https://{host}")
    assert resp.status == 400  # past the origin check, refused as a bad offer
    resp = await post_offer(http, "garbage", Origin="https://elsewhere.example")
    assert resp.status == 403


async def test_shutdown_hangs_up_browser_calls_and_drafts_them(aiohttp_client: Any,
                                                              settings: Settings) -> None:
    from voice_gateway.services import open_services

    settings = webrtc_settings(settings)
    http = await aiohttp_client(init_app(settings, fake_services))
    client = WhipClient.create(WAV)
    try:
        resp = await post_offer(http, await client.offer())
        assert resp.status == 201
        await client.answer(await resp.text())
        await client.connected()
        calls = http.server.app[WEBRTC].calls
        await wait_until(lambda: any(r.transport.inbound.frames > 200  # 4 s into the call
                                     for r in calls.values()), 20)
        await http.close()  # the service stops
        assert {"type": "ended"} in client.captions
    finally:
        await client.close()
    async with open_services(settings, with_asr=False) as services:
        drafts = await services.store.list_drafts()
        assert len(drafts) == 1
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "shutdown" and call.utterances


async def test_the_call_page_may_be_framed_by_allowed_origins_only(http: Any) -> None:
    resp = await http.get("/call")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {ORIGIN}" in csp and "script-src 'self'" in csp
    assert resp.headers["Permissions-Policy"] == f'microphone=(self "{ORIGIN}")'
    page = await resp.text()
    assert "拨打12345" in page and "http://" not in page and "https://" not in page  # no CDN
    for asset in ("/call/static/call.js", "/call/static/call.css"):
        assert asset in page
        assert (await http.get(asset)).status == 200


async def test_call_page_loads_past_the_per_address_rate_get_429(
        aiohttp_client: Any, settings: Settings) -> None:
    http = await aiohttp_client(init_app(
        webrtc_settings(settings, rate_limit_per_s=0.01, rate_limit_burst=2), fake_services))
    statuses = [(await http.get("/call")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await post_offer(http, "garbage")).status == 400  # the offers' own allowance


async def test_webrtc_can_be_switched_off(aiohttp_client: Any, settings: Settings) -> None:
    http = await aiohttp_client(init_app(webrtc_settings(settings, enabled=False),
                                         fake_services))
    assert (await post_offer(http, "v=0")).status in (404, 405)
    assert (await http.get("/call")).status == 404
    assert WEBRTC not in http.server.app


async def test_an_offer_sent_in_pieces_is_read_whole_and_a_huge_one_is_413(
        http: Any) -> None:
    client = WhipClient.create(None)
    try:
        offer = (await client.offer()).encode()

        async def pieces() -> Any:
            for i in range(0, len(offer), 100):
                yield offer[i:i + 100]
                await asyncio.sleep(0.01)

        resp = await http.post("/whip", data=pieces(),
                               headers={"Content-Type": "application/sdp"})
        assert resp.status == 201, await resp.text()
        assert (await http.delete(resp.headers["Location"])).status == 200
    finally:
        await client.close()
    resp = await post_offer(http, "v=0\r\n" + "a=x\r\n" * 20_000)
    assert resp.status == 413
