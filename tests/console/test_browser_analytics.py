"""The analytics page in a real browser (Debian's chromium via Playwright) on synthetic
orders: an admin marks the month's topic, raises a 未诉先办 alert that a dashboard open in
another tab receives live, sees the repeat-complaint hot spots and opens the printable
monthly report. Screenshots go to artifacts/console/."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config import Settings
from console import CONSOLE
from tests.console.conftest import PASSWORD
from tests.console.test_api_analytics import Order, seed
from tests.console.test_browser import _login_with_keyboard, _page, _shot, browser  # noqa: F401
from voice_gateway.app import SERVICES, init_app
from voice_gateway.services import Services, open_services


@contextlib.asynccontextmanager
async def _no_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, with_asr=False) as services:
        yield services


@pytest.fixture
async def server(aiohttp_client: Any, console_settings: Settings) -> Any:
    client = await aiohttp_client(init_app(console_settings, _no_asr))
    await client.server.app[CONSOLE].accounts.add_user("root", PASSWORD, "admin")
    now = datetime.now(UTC)
    early = now - timedelta(days=2) if now.day > 2 else now - timedelta(hours=3)
    await seed(client.server.app[SERVICES], [
        *(Order(early - timedelta(minutes=i), "供水", "九龙花园小区停水了", street="劲松街道",
                related=("x",) if i == 0 else ()) for i in range(4)),
        *(Order(now - timedelta(minutes=m), "供水", "小区停水了")
          for m in (3, 9, 17, 30, 44)),
        *(Order(now - timedelta(days=7 * w + 1), "噪音", "工地噪音", street="潘家园街道",
                escalate=True) for w in (0, 1, 1)),
    ])
    return client


async def test_admin_marks_the_topic_raises_an_alert_and_prints_the_report(
    server: Any, browser: Any  # noqa: F811
) -> None:
    base = str(server.make_url("")).rstrip("/")
    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/analytics")
    rows = page.locator("#topics-body tr[data-key]")
    await rows.first.wait_for()
    assert "供水" in await rows.first.inner_text()
    assert "停水" in await page.locator("#topics-body").inner_text()
    hot = page.locator("#hot-body tr")
    await hot.first.wait_for()
    assert "潘家园街道" in await hot.first.inner_text()
    # A dashboard in another tab gets the alert pushed as it is raised.
    dashboard = await _page(browser)
    await dashboard.context.add_cookies(await page.context.cookies())
    await dashboard.goto(base + "/dashboard")
    await dashboard.locator("#live-state.on").wait_for()
    await dashboard.locator("#dash-alerts li.muted").wait_for()
    await page.get_by_role("button", name="立即检查").click()
    alert = page.locator("#alerts-list li.alert-item")
    await alert.first.wait_for()
    assert "未诉先办" in await alert.first.inner_text()
    pushed = dashboard.locator("#dash-alerts li.alert-item")
    await pushed.first.wait_for()
    assert "双井街道" in await pushed.first.inner_text()
    await _shot(dashboard, "08-dashboard-alert")
    # Mark the first candidate as the month's topic.
    await rows.first.get_by_role("button", name="设为每月一题").click()
    await page.get_by_text("本月每月一题").wait_for()
    assert await rows.first.get_by_role("button").is_disabled()
    await _shot(page, "09-analytics")
    report = await _page(browser)
    await report.context.add_cookies(await page.context.cookies())
    href = await page.locator("#report-html").get_attribute("href")
    await report.goto(base + href)
    heading = await report.locator("h1").inner_text()
    assert heading.startswith("12345 月度报告")
    assert "每月一题" in await report.locator("body").inner_text()
    await _shot(report, "10-monthly-report")
    assert page.errors == [] and dashboard.errors == [] and report.errors == []
