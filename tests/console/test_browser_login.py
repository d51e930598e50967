"""Issue 17 row 3 in a real browser: a crafted ``next`` does not take the agent off-site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.console.conftest import PASSWORD
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
