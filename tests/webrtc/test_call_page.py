"""The citizen's call page in a real browser: Debian's chromium (Playwright, no download)
with a fake microphone playing a dev call. It opens /call, dials, hears the greeting with
its caption, is heard (caption), presses # on the page's keypad, hears the next prompt,
sends a key with the browser's RTCDTMFSender (RFC 4733); an agent sees it live, marked
WebRTC; it hangs up; the call is stored with its transcript, keys and recording, and
drafted. Screenshots go to artifacts/webrtc/ (git-ignored)."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import pytest

from asr.audio import load_audio
from config import Settings
from console import CONSOLE
from ivr.loader import load_catalogue
from storage import Event
from tests.conftest import CALLS_DIR, REPO
from tests.console.conftest import PASSWORD
from tests.sipp.harness import SHARED_PROMPTS, wait_for_drafts
from tests.webrtc.support import fake_services, services_of, wait_until, webrtc_settings
from voice_gateway.app import SERVICES, init_app
from voice_gateway.services import Services
from voice_gateway.webrtc.whip import WEBRTC

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "webrtc"
WAV = CALLS_DIR / "D15.pcm8k.wav"
TEXTS = load_catalogue()

playwright_api = pytest.importorskip("playwright.async_api")
if not CHROMIUM.exists() or not WAV.exists():
    pytest.skip("needs /usr/bin/chromium and the shared call recordings",
                allow_module_level=True)


CAPTURE_PCS = """
window.__pcs = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const pc = new Native(...args);
  window.__pcs.push(pc);
  return pc;
};
window.RTCPeerConnection.prototype = Native.prototype;
"""


AUDIO_ENERGY = """async () => {
  let energy = 0;
  (await window.__pcs[0].getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") energy = r.totalAudioEnergy || 0;
  });
  return energy;
}"""


async def heard_sound(page: Any, above: float = 0.0, within: float = 20.0) -> None:
    """Until chromium has played sound, not silence, from the gateway (its stats): its
    audio energy grows past ``above``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while await page.evaluate(AUDIO_ENERGY) < above + 0.01:
        assert loop.time() < deadline, "no sound reached the browser"
        await asyncio.sleep(0.2)


def drain(bus: asyncio.Queue[Event], into: list[Event]) -> list[Event]:
    while not bus.empty():
        into.append(bus.get_nowait())
    return into


def wav_48k(src: Path, out: Path) -> Path:
    """The dev call as chromium's fake microphone wants it: 48 kHz 16-bit WAV."""
    audio = load_audio(src).resampled(48000)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(audio.pcm)
    return out


async def test_a_call_from_the_page_is_captioned_keyed_and_drafted(
        aiohttp_client: Any, settings: Settings, tmp_path: Path) -> None:
    http = await aiohttp_client(init_app(webrtc_settings(settings, ivr=True), fake_services))
    services: Services = http.server.app[SERVICES]
    await wait_until(lambda: (SHARED_PROMPTS / "main_menu.wav").is_file(), 120)
    mic = wav_48k(WAV, tmp_path / "mic.wav")
    expect = playwright_api.expect
    base = str(http.make_url("")).rstrip("/")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--autoplay-policy=no-user-gesture-required", "--mute-audio",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}%noloop"]
    seen: list[Event] = []
    async with services.bus.subscribe() as bus, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                locale="zh-CN", has_touch=True)
            # The page's peer connection, for the browser's own RTCDTMFSender (RFC 4733).
            await context.add_init_script(CAPTURE_PCS)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/call")
            dial = page.get_by_role("button", name="拨打12345")
            box = await dial.bounding_box()
            assert box is not None and box["height"] >= 44
            await dial.click()
            captions = page.locator("#captions")
            await expect(captions).to_contain_text(TEXTS["welcome"], timeout=20_000)
            # The greeting is heard: chromium decodes sound (not silence) from the gateway.
            await heard_sound(page)
            await expect(page.locator("#timer")).to_be_visible()
            # The caller speaks at once (over the greeting: barge-in), and is captioned.
            await expect(page.locator("#captions li.heard").first).to_be_visible(
                timeout=30_000)
            prompts = page.locator("#captions li.prompt")
            before = await prompts.count()
            key = page.locator('#keypad button[data-key="#"]')  # "说完后请按井号键"
            key_box = await key.bounding_box()
            assert key_box is not None and min(key_box["width"], key_box["height"]) >= 44
            energy = await page.evaluate(AUDIO_ENERGY)
            await key.click()
            await expect(page.locator("#typed")).to_have_text("#")
            await page.evaluate("window.__pcs[0].getSenders()[0].dtmf.insertDTMF('5', 120)")
            await wait_until(lambda: any(e.kind == "dtmf" and e.payload["via"] == "rfc4733"
                                         for e in drain(bus, seen)), 20)
            await expect(prompts).not_to_have_count(before, timeout=20_000)  # the next one
            await heard_sound(page, above=energy)  # heard too, after the quiet between
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "call-page.png"), full_page=True)
            # An agent sees it among the live calls, marked as a browser call.
            await http.server.app[CONSOLE].accounts.add_user("alice", PASSWORD, "agent")
            agent = await (await browser.new_context(locale="zh-CN")).new_page()
            resp = await agent.request.post(base + "/api/login", data={
                "username": "alice", "password": PASSWORD})
            assert resp.ok
            await agent.goto(base + "/calls")
            await expect(agent.locator(".call-card .tag.channel")).to_have_text("WebRTC 网页")
            await page.get_by_role("button", name="挂断").click()
            await expect(page.locator("#status")).to_contain_text("您已挂断")
            drafts = await wait_for_drafts(services, 1, within=30)
            await agent.goto(base + "/queue")  # and its draft, marked the same
            await expect(agent.locator(f'tr[data-id="{drafts[0]["id"]}"] .tag.channel')
                         ).to_have_text("WebRTC 网页")
            assert errors == []
        finally:
            await browser.close()
        drain(bus, seen)
    call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.source == "webrtc"
    assert call.end_reason == "whip_delete"
    assert call.utterances and any(u.text for u in call.utterances)
    assert [(e.payload["digit"], e.payload["via"]) for e in seen if e.kind == "dtmf"] == [
        ("#", "datachannel"), ("5", "rfc4733")]
    assert call.recording_path is not None
    assert load_audio(Path(call.recording_path)).duration > 3.0


async def test_a_denied_microphone_is_explained_and_nothing_is_called(
        aiohttp_client: Any, settings: Settings) -> None:
    http = await aiohttp_client(init_app(webrtc_settings(settings), fake_services))
    expect = playwright_api.expect
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--use-fake-device-for-media-stream"]  # a microphone, but no one to allow it
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            await page.goto(str(http.make_url("/call")))
            await page.get_by_role("button", name="拨打12345").click()
            status = page.locator("#status.error")
            await expect(status).to_contain_text("拒绝了麦克风权限")
            await expect(page.get_by_role("button", name="拨打12345")).to_be_enabled()
        finally:
            await browser.close()
    assert http.server.app[WEBRTC].calls == {}
    assert await services_of(http).store.list_drafts() == []
