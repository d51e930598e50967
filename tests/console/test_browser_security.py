"""Issue 17 in a real browser: a crafted ``next`` does not take the agent off-site (row 3);
an agent sees a live call's transcript only after opening it (item 9)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from storage import StoredUtterance
from tests.console.conftest import PASSWORD, services_of
from tests.console.test_browser import ARGS, CHROMIUM, playwright_api


@pytest.mark.parametrize("crafted", ["/%5C127.0.0.2:28999/phish", "/%09/127.0.0.2:28999/phish",
                                     "/%2F127.0.0.2:28999/phish"])
async def test_login_through_a_crafted_next_stays_on_site(app_client: Any, crafted: str) -> None:
    base = str(app_client.make_url("/")).rstrip("/")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/login?next={crafted}")
            await page.wait_for_load_state("load")
            await page.fill("#username", "alice")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(lambda url: "/login" not in url)
            assert urlsplit(page.url).netloc == urlsplit(base).netloc, page.url
            assert urlsplit(page.url).path == "/queue"
        finally:
            await browser.close()


async def test_an_agent_opens_a_live_transcript_on_purpose(app_client: Any) -> None:
    expect = playwright_api.expect
    base = str(app_client.make_url("/")).rstrip("/")
    services = services_of(app_client)
    live = await services.store.create_call("sip", "13900001111", None, "fake:none")
    await services.store.add_utterance(live, StoredUtterance(0, 0.0, 1.0, "你好我要反映噪音", 0.9,
                                                             []))
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/login?next=/calls")
            await page.wait_for_load_state("load")
            await page.fill("#username", "alice")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{base}/calls")
            card = page.locator(f'article[data-id="{live}"]')
            button = card.locator("button.open-transcript")
            await expect(button).to_be_visible()
            await expect(card).not_to_contain_text("你好我要反映噪音")
            await page.locator("#live-state.on").wait_for()
            await services.store.add_utterance(live, StoredUtterance(1, 1.0, 2.0, "第二句还没打开",
                                                                     0.9, []))
            await button.click()
            await expect(card).to_contain_text("你好我要反映噪音")
            await expect(card).to_contain_text("第二句还没打开")  # fetched on opening
            await services.store.add_utterance(live, StoredUtterance(2, 2.0, 3.0, "打开后的第三句",
                                                                     0.9, []))
            await expect(card).to_contain_text("打开后的第三句")  # pushed once opened
            assert errors == []
        finally:
            await browser.close()


async def test_an_admin_manages_accounts_in_the_console(app_client: Any) -> None:
    expect = playwright_api.expect
    base = str(app_client.make_url("/")).rstrip("/")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("dialog", lambda dialog: dialog.accept("a-fresh-passphrase-4-b0b"))
            await page.goto(f"{base}/login?next=/users")
            await page.wait_for_load_state("load")
            await page.fill("#username", "root")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{base}/users")
            bob = page.locator('tr[data-user="bob"]')
            await expect(bob).to_contain_text("正常")
            await bob.get_by_role("button", name="停用").click()
            await expect(bob).to_contain_text("已停用")
            await bob.get_by_role("button", name="启用").click()
            await expect(bob).to_contain_text("正常")
            await bob.get_by_role("button", name="重置密码").click()
            await expect(page.locator("#users-msg")).to_contain_text("已重置 bob 的密码")
            await page.fill("#u-name", "carol")
            await page.fill("#u-pass", "a-long-new-passphrase")
            await page.get_by_role("button", name="新增账号").click()
            await expect(page.locator('tr[data-user="carol"]')).to_contain_text("坐席")
            assert errors == []
        finally:
            await browser.close()
    resp = await app_client.post("/api/login", json={"username": "bob",
                                                     "password": "a-fresh-passphrase-4-b0b"})
    assert resp.status == 200
