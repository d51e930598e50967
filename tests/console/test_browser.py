"""The console in a real browser: Debian's chromium driven by Playwright (no download).

An agent logs in from the keyboard, sees a new draft arrive live while a call from a file
goes through the real pipeline (fake ASR engine), opens it, plays the recording, corrects
the phone number and dispatches. An admin's dashboard and the live-calls page are rendered
too. Screenshots go to artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from console import CONSOLE
from storage import DraftWorkflow, Event, StoredUtterance
from storage.nodes import Nodes
from tests.conftest import CALLS_DIR, REPO, required
from tests.console.conftest import D01, PASSWORD, services_of
from voice_gateway.app import init_app
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.calls.file_call import call_from_file
from voice_gateway.services import Services, open_services

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "console"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
D01_WAV = CALLS_DIR / "D01.pcm8k.wav"

playwright_api = pytest.importorskip("playwright.async_api")
if not CHROMIUM.exists() or not D01_WAV.exists():
    if required("CHROMIUM") and not CHROMIUM.exists():
        raise RuntimeError("chromium is required (VOICE_INTAKE_REQUIRE_CHROMIUM=1): "
                           "apt-get install chromium")
    pytest.skip("needs /usr/bin/chromium and the shared call recordings",
                allow_module_level=True)

SCRIPTED = EngineSpec(kind="fake", options=(("script", D01),))


@contextlib.asynccontextmanager
async def _scripted_services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=SCRIPTED, workers=1) as services:
        yield services


@pytest.fixture
async def server(aiohttp_client: Any, console_settings: Settings) -> Any:
    client = await aiohttp_client(init_app(console_settings, _scripted_services))
    accounts = client.server.app[CONSOLE].accounts
    await accounts.add_user("alice", PASSWORD, "agent")
    await accounts.add_user("root", PASSWORD, "admin")
    return client


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _page(browser: Any) -> Any:
    context = await browser.new_context(viewport={"width": 1366, "height": 768},
                                        locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return page


async def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def _login_with_keyboard(page: Any, base: str, username: str, path: str) -> None:
    await page.goto(base + path)
    await page.wait_for_url(lambda url: "/login?next=" in url)
    # Typing before login.js has run would submit the bare form; wait for the page's
    # scripts and for the autofocus to land on the username field.
    await page.wait_for_load_state("load")
    await page.locator("#username:focus").wait_for()
    await page.keyboard.type(username)  # the username field has focus
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(base + path)
    await page.locator("#live-state.on").wait_for()


async def test_agent_reviews_a_live_draft_and_dispatches(server: Any, browser: Any) -> None:
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    page = await _page(browser)
    await page.goto(base + "/login")
    await _shot(page, "01-login")
    await _login_with_keyboard(page, base, "alice", "/queue")
    await expect(page.locator("#queue-empty")).to_be_visible()

    services = services_of(server)
    outcome = await call_from_file(services, D01_WAV, "13811223344")
    draft_id = outcome.draft["id"]
    row = page.locator(f'tr[data-id="{draft_id}"]')
    await expect(row).to_be_visible()  # pushed over the websocket, no reload
    await expect(row).to_contain_text("朝阳区 双井街道")
    await _shot(page, "02-queue-live-draft")

    await row.get_by_role("link").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/drafts/{draft_id}")
    await expect(page.locator("#claim-state")).to_contain_text("您已认领")
    await expect(page.locator("#field-phone")).to_have_value("13811223344")
    await expect(page.locator(".field.low").first).to_be_visible()  # low confidence marked

    await page.locator("#utterances li button").first.click()  # seek and play
    await page.wait_for_function(
        "() => { const a = document.getElementById('player');"
        " return a.currentTime > 0 && !a.paused; }")
    await expect(page.locator("#utterances li.playing")).to_have_count(1)
    await _shot(page, "03-review-playing")

    await page.locator("#field-phone").fill("13811223345")
    await page.locator("#field-phone").focus()
    await expect(page.locator("#transcript mark")).to_have_count(1)  # evidence span shown
    await page.get_by_role("button", name="批准并派单").click()
    await expect(page.locator("#review-status")).to_have_text("已派单")
    await expect(page.locator("#claim-state")).to_contain_text("已派往")
    responded = page.get_by_label("已响应")  # the work order's follow-up
    # The dispatch's own push may re-render the form just after it shows (late on a
    # loaded machine): check until it stays checked.
    for _ in range(20):
        with contextlib.suppress(playwright_api.Error):
            await responded.check(timeout=1000)
        await page.wait_for_timeout(100)
        if await responded.is_checked():
            break
    await expect(responded).to_be_checked()
    await page.get_by_label("满意度").select_option("satisfied")
    await page.get_by_role("button", name="保存回访").click()
    await expect(page.locator("#review-message")).to_have_text("已保存回访")
    await page.locator("#audit-box summary").click()
    await expect(page.locator("#audit")).to_contain_text("13811223345")
    await _shot(page, "04-review-dispatched")
    assert page.errors == []

    detail = await server.server.app[CONSOLE].workflow.detail(draft_id)
    assert detail.draft["status"] == "dispatched" and detail.draft["phone"] == "13811223345"
    assert [(a.username, a.action) for a in detail.audit] == [
        ("alice", "edit"), ("alice", "dispatch"), ("alice", "follow_up")]
    assert detail.audit[0].before == {"phone": "13811223344"}
    assert detail.workflow["satisfaction"] == "satisfied" and detail.workflow["responded_at"]


async def _word_timed_draft(services: Services) -> str:
    """A drafted call with word timings (as Whisper gives them) over the D01 recording."""
    store = services.store
    call_id = await store.create_call("sip", "13811223344", str(D01_WAV), "whisper:base")
    tokens = D01.split()
    start, step = 0.7, (18.5 - 0.7) / len(tokens)
    half = len(tokens) // 2
    for seq, part in enumerate((tokens[:half], tokens[half:])):
        words = [[w, round(start + (i + seq * half) * step, 2),
                  round(start + (i + seq * half + 1) * step, 2), 0.9] for i, w in enumerate(part)]
        await store.add_utterance(call_id, StoredUtterance(
            seq, words[0][1], words[-1][2], "".join(part), 0.9, words))
    await store.end_call(call_id, "hangup", 19.9)
    draft = await draft_and_store(services, call_id, D01, "13811223344")
    return str(draft["id"])


async def _released(flow: DraftWorkflow, draft_id: str) -> None:
    """Until nobody holds the draft's claim (a page left releases it by a request)."""
    for _ in range(100):
        found = await flow.draft(draft_id)
        if found is not None and found[1]["claimed_by"] is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the claim was not released")


async def test_word_highlight_live_calls_and_dashboard(server: Any, browser: Any) -> None:
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    services = services_of(server)
    draft_id = await _word_timed_draft(services)
    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/dashboard")

    # Live calls: a call in progress at the intake node, its transcript streaming in.
    live = await services.store.create_call("sip", "13900001111", None, "whisper:base")
    await services.store.record_event(Event("ivr_node", live, {"node_id": "main"}))
    await page.goto(base + "/calls")
    card = page.locator(f'article[data-id="{live}"]')
    await expect(card).to_contain_text("导航节点：main")
    await services.store.record_event(Event("ivr_node", live, {"node_id": "intake"}))
    await services.store.add_utterance(live, StoredUtterance(0, 0.4, 2.5, "你好我要反映噪音问题",
                                                             0.9, []))
    await expect(card).to_contain_text("导航节点：intake")
    await expect(card).to_contain_text("你好我要反映噪音问题")
    await _shot(page, "05-live-calls")

    # Review with word timings: words light up as the recording plays.
    await page.goto(f"{base}/drafts/{draft_id}")
    await page.locator("#utterances li button").nth(1).click()
    await expect(page.locator("#utterances .w.on")).to_have_count(1)
    await _shot(page, "06-review-word-highlight")

    # The dashboard, after this draft is dispatched and followed up.
    flow: DraftWorkflow = server.server.app[CONSOLE].workflow
    await page.goto(base + "/queue")  # leaving the review page releases the claim
    await _released(flow, draft_id)  # (its request may land late on a loaded machine)
    await flow.claim(draft_id, "root")
    await flow.dispatch(draft_id, "root", None)
    await flow.follow_up(draft_id, "root", responded=True, satisfaction="satisfied")
    await services.store.end_call(live, "hangup", 30.0)
    # A node of the cluster whose heartbeat stopped a minute past cluster.dead_after_s.
    silent_since = datetime.now(UTC) - timedelta(
        seconds=services.settings.cluster.dead_after_s + 60)
    await Nodes(services.store.engine).beat("node-9", None, "running", 1, now=silent_since)
    await page.goto(base + "/dashboard")
    await expect(page.locator("#rates-body")).to_contain_text("朝阳区")
    await expect(page.locator("#dash-nodes li.silent")).to_contain_text("node-9 停止上报")
    ivr_chart = page.locator("#chart-ivr svg")
    await expect(ivr_chart).to_have_attribute("aria-label", re.compile("^语音导航节点：main"))
    await _shot(page, "07-dashboard")
    assert page.errors == []
