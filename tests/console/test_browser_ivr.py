"""The admin's IVR pages in a real browser (Debian chromium via Playwright), at 1366×768.

The editor validates as the admin types and names the broken node; choosing an error puts
the cursor on that node; publish is refused until the menu validates; then a draft is saved,
published, and an earlier version rolled back to. The simulator, prompt upload and the
per-node analytics are rendered too. Screenshots go to artifacts/console/ivr-*.png.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from console import CONSOLE
from ivr import default_menu
from ivr.events import InputFailed, NodeEntered, NodeExited, action_to_dict
from ivr.serialize import menu_to_data
from storage import Event, MenuVersions
from tests.console.conftest import services_of
from tests.console.test_api_ivr import BEIJING_MONDAY, _tone_wav
from tests.console.test_browser import (  # fixtures and helpers of the console browser tests
    _login_with_keyboard,
    _page,
    _shot,
    browser,
    playwright_api,
    server,
)
from voice_gateway.calls.simulate import run_call

__all__ = ["browser", "server"]


async def _menu_text(page: Any) -> str:
    value: str = await page.locator("#menu-text").input_value()
    return value


async def test_editor_validates_live_and_publishes(server: Any, browser: Any,
                                                   tmp_path: Path) -> None:
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/ivr/editor")
    state = page.locator("#val-state")
    await expect(state).to_contain_text("通过校验")
    await expect(page.locator("#ed-source")).to_contain_text("配置文件")
    await expect(page.locator('nav[aria-label="主导航"] a[aria-current="page"]')).to_have_text(
        "语音导航")
    await _shot(page, "ivr-01-editor")

    # Break the menu: the intake goes to a node that does not exist.
    good = await _menu_text(page)
    data = json.loads(good)
    data["nodes"]["intake"]["next"] = "nowhere"
    await page.locator("#menu-text").fill(json.dumps(data, ensure_ascii=False, indent=2))
    error = page.locator("#val-errors button").filter(has_text="节点 intake")
    await expect(error.first).to_contain_text("目标节点不存在")
    await expect(state).to_contain_text("可保存草稿，不能发布")
    await error.first.focus()
    await page.keyboard.press("Enter")  # the error takes the cursor to the node
    selected = await page.evaluate(
        "() => { const t = document.getElementById('menu-text');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }")
    assert selected == '"intake"'
    await _shot(page, "ivr-02-editor-errors")

    await page.get_by_role("button", name="保存并发布").click()
    await expect(page.locator("#ed-message")).to_contain_text("不能发布")
    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.locator("#ed-message")).to_contain_text("已保存草稿 v1")
    await expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("草稿")

    # A syntax error is located by line.
    await page.locator("#menu-text").fill('{\n  "id": "x",\n  "start" "welcome"\n}')
    await expect(page.locator("#val-errors")).to_contain_text("第 3 行")

    # Fix it, save and publish from the keyboard.
    await page.locator("#menu-text").fill(good)
    await expect(state).to_contain_text("通过校验")
    await page.locator("#comment").fill("第一个正式版本")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.id") == "save"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # 保存并发布
    await expect(page.locator("#ed-message")).to_contain_text("已发布 v2")
    await page.locator("#menu-text").fill(good.replace('"barge_in": true', '"barge_in": false', 1))
    await expect(state).to_contain_text("通过校验")
    await page.get_by_role("button", name="保存并发布").click()
    await expect(page.locator("#ed-message")).to_contain_text("已发布 v3")
    await page.get_by_role("button", name="回滚到版本 2").click()
    await expect(page.locator("#ed-message")).to_contain_text("已回滚到 v2")
    await expect(page.locator('#versions tr[data-version="2"]')).to_contain_text("已发布")
    await expect(page.locator('#versions tr[data-version="3"]')).to_contain_text("已停用")
    await page.locator("#audit-box summary").click()
    await expect(page.locator("#audit")).to_contain_text("回滚")
    await expect(page.locator("#audit")).to_contain_text("v3 → v2")
    await _shot(page, "ivr-03-editor-published")
    assert page.errors == []

    menus = MenuVersions(services_of(server).store.engine)
    current = await menus.published_menu()
    assert current is not None and current[1] == 2
    assert [a.action for a in await menus.audit("default")][:3] == [
        "menu_rollback", "menu_publish", "menu_save"]


async def test_simulator_prompts_and_analytics_pages(server: Any, browser: Any,
                                                     tmp_path: Path) -> None:
    expect = playwright_api.expect
    base = str(server.make_url("")).rstrip("/")
    services = services_of(server)
    menus = MenuVersions(services.store.engine)
    saved = await menus.save_draft("default", menu_to_data(default_menu()), "root", "上线")
    await menus.publish("default", saved.version.version, "root")
    menu = default_menu()
    kinds = {NodeEntered: "ivr_node", NodeExited: "ivr_exit", InputFailed: "ivr_input"}
    for i, inputs in enumerate([["1"], ["2"], ["<hangup>"], ["9", "9", "9"], ["我要投诉"]]):
        for action in run_call(menu, inputs, BEIJING_MONDAY).log:
            if (kind := kinds.get(type(action))) is not None:
                await services.store.record_event(Event(kind, f"c{i}", {
                    **action_to_dict(action), "menu": menu.id, "menu_version": 1}))

    page = await _page(browser)
    await _login_with_keyboard(page, base, "root", "/ivr/simulator")
    await expect(page.locator("#sim-version")).to_have_value("1")
    await page.locator("#sim-inputs").fill("2\n我家楼下饭馆油烟太大")
    await page.get_by_role("button", name="运行模拟").click()
    await expect(page.locator("#sim-message")).to_contain_text(
        "welcome → main → intake → goodbye")
    await expect(page.locator("#sim-path")).to_contain_text("离开：按键 2")
    await expect(page.locator("#sim-path")).to_contain_text("说：我家楼下饭馆油烟太大")
    await _shot(page, "ivr-04-simulator")

    await page.goto(base + "/ivr/prompts")
    row = page.locator('tr[data-prompt="welcome"]')
    await expect(row).to_contain_text("缺少音频")
    wav = tmp_path / "welcome.wav"
    wav.write_bytes(_tone_wav(0.6))
    await page.locator("#upload-welcome").set_input_files(str(wav))
    await expect(page.locator("#pr-message")).to_contain_text("已更新提示音 welcome")
    await expect(row).to_contain_text("已有音频")
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio")
    await page.locator("#upload-main_menu").set_input_files(str(broken))
    await expect(page.locator("#pr-message")).to_contain_text("not a readable audio file")
    await row.get_by_role("button", name="播放 welcome").click()
    await page.wait_for_function(
        "() => { const a = document.getElementById('prompt-player');"
        " return a.currentTime > 0 || a.ended; }")
    await _shot(page, "ivr-05-prompts")

    await page.goto(base + "/ivr/analytics")
    await expect(page.locator("#an-count")).to_have_text("共 5 通来电")
    main_row = page.locator('#an-body tr[data-node="main"]')
    await expect(main_row).to_contain_text("按1 ×1")
    await expect(page.locator("#an-chart svg")).to_have_attribute(
        "aria-label", re.compile("main 进入5、挂机1"))
    await page.locator("#an-version").select_option("1")
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator("#an-count")).to_have_text("共 5 通来电")
    await _shot(page, "ivr-06-analytics")
    assert page.errors == []
    assert server.server.app[CONSOLE].settings.prompt_dir.joinpath("welcome.wav").is_file()
