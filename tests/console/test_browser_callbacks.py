"""回访 in chromium: the admin's dashboard lists callbacks with the attempt statistics and
cancels one; the agent's order page shows the callback's answers, 重办 and its recording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.callbacks import CallbackStore
from tests.console.conftest import new_draft, services_of
from tests.console.test_api_callbacks import _answered_callback
from tests.console.test_browser import (  # noqa: F401  (fixtures)
    _login_with_keyboard,
    _page,
    _shot,
    browser,
    playwright_api,
    server,
)


async def test_dashboard_queue_and_order_page(server: Any, browser: Any,  # noqa: F811
                                              tmp_path: Path) -> None:  # fmt: skip
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    services = services_of(server)
    answered, _ = await _answered_callback(server, tmp_path)
    queued = await new_draft(server, caller="13900003333")
    store = CallbackStore(services.store.engine, services.store.bus)
    await store.enqueue(str(queued["id"]), "13900003333", datetime.now(UTC))

    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/dashboard")
    await expect(page.locator("#cb-stats")).to_contain_text("已接通 1")
    await expect(page.locator("#cb-stats")).to_contain_text("待回访 1")
    rows = page.locator("#cb-body tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#cb-body")).to_contain_text("未解决，不满意")
    await page.locator('#cb-body button[data-action="cancel"]').click()
    await expect(page.locator("#cb-body")).to_contain_text("已取消")
    await _shot(page, "20-dashboard-callbacks")

    await page.goto(f"{base}/drafts/{answered}")
    box = page.locator("#callback-box")
    await expect(box).to_be_visible()
    await expect(box).to_contain_text("市民答复：未解决，不满意")
    await expect(page.locator("#cb-rework")).to_be_visible()
    await expect(page.locator("#cb-player")).to_have_attribute(
        "src", f"/api/drafts/{answered}/callback/recording")
    await _shot(page, "21-order-callback")
    assert page.errors == []
