"""纠错学习 in chromium (issue 15 item 6): the admin sees a correction agents made on three
drafts as a proposal with its count, what the drafter had said and example calls, approves
it, and the next draft of the running service uses it."""

from __future__ import annotations

from typing import Any

from storage import DraftWorkflow
from tests.console.conftest import new_draft, services_of
from tests.console.test_api_learning import HEARD
from tests.console.test_browser import (  # noqa: F401  (fixtures)
    _login_with_keyboard,
    _page,
    _shot,
    browser,
    playwright_api,
    server,
)


async def test_admin_approves_a_learnt_alias(server: Any, browser: Any) -> None:  # noqa: F811
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    store = services_of(server).store
    flow = DraftWorkflow(store.engine, store.bus)
    for _ in range(3):
        drafted = await new_draft(server, HEARD)
        await flow.claim(str(drafted["id"]), "alice")
        await flow.edit(str(drafted["id"]), "alice", {"surname": "王"})

    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/learning")
    row = page.locator("#learning-body tr", has_text="我姓汪")
    await expect(row).to_contain_text("姓氏")
    await expect(row).to_contain_text("汪")  # what the drafter had said
    await expect(row.locator("td").nth(5)).to_have_text("3")
    await expect(row.locator("a")).to_have_count(3)  # example calls, linked to their drafts
    await _shot(page, "30-learning-proposals")
    await row.get_by_role("button", name="批准").click()
    await expect(page.locator("#learning-msg")).to_contain_text("已批准")
    await expect(page.locator("#learning-body")).to_contain_text("暂无")  # none pending
    assert (await new_draft(server, HEARD))["surname"] == "王"

    await page.locator("#l-status").select_option("approved")
    await expect(page.locator("#learning-body")).to_contain_text("已批准（root")
    assert page.errors == []
