"""Menu versions on SQLite and a real PostgreSQL: drafts, publish, rollback, audit, logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect

from ivr import default_menu, parse_menu
from ivr.analytics import analytics
from ivr.events import InputFailed, NodeEntered, NodeExited, action_to_dict
from ivr.loader import load_catalogue
from ivr.serialize import menu_to_data
from storage import Event, MenuVersions, Store
from storage.menus import MenuConflict, MenuInvalid, MenuVersionNotFound
from voice_gateway.calls.simulate import run_call

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 18:00 in Beijing: agents open


def default_data() -> dict[str, Any]:
    return menu_to_data(default_menu())


def with_dead_end(data: dict[str, Any]) -> dict[str, Any]:
    """The default menu with option 4 leading to a play node that loops on itself."""
    broken: dict[str, Any] = json.loads(json.dumps(data))
    broken["nodes"]["main"]["options"][3]["next"] = "trap"
    broken["nodes"]["trap"] = {"type": "play", "prompt": "welcome", "next": "trap"}
    return broken


async def test_table_created_by_migration_0003(store: Store) -> None:
    async with store.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("menu_versions")})
    assert {"menu_id", "version", "status", "data", "created_by", "created_at",
            "published_by", "published_at", "comment"} <= columns


async def test_save_publish_rollback_and_audit(store: Store) -> None:
    menus = MenuVersions(store.engine)
    assert await menus.published_menu() is None

    first = await menus.save_draft("default", json.dumps(default_data()), "root", "初始版本")
    assert first.problems == [] and first.version.version == 1
    assert first.version.status == "draft" and first.version.data["version"] == 1
    assert await menus.published_menu() is None  # a draft is not live

    published = await menus.publish("default", 1, "root")
    assert published.status == "published" and published.published_by == "root"
    current = await menus.published_menu("default")
    assert current is not None
    data, version = current
    assert version == 1
    assert parse_menu(data, load_catalogue()).version == 1  # calls log the version walked

    changed = default_data()
    changed["nodes"]["welcome"]["prompts"] = ["agent_busy"]
    second = await menus.save_draft("default", changed, "admin2")
    assert second.version.version == 2
    await menus.publish("default", 2, "admin2", "换欢迎语")
    statuses = {v.version: v.status for v in await menus.versions("default")}
    assert statuses == {1: "retired", 2: "published"}
    assert (await menus.published_menu())[1] == 2  # type: ignore[index]

    rolled = await menus.rollback("default", 1, "root", "回滚")
    assert rolled.status == "published"
    assert [(v.version, v.status) for v in await menus.versions("default")] == [
        (2, "retired"), (1, "published")]
    with pytest.raises(MenuConflict):
        await menus.rollback("default", 1, "root")  # already the current one
    with pytest.raises(MenuConflict):
        await menus.publish("default", 2, "root")  # retired: that is a rollback
    with pytest.raises(MenuVersionNotFound):
        await menus.publish("default", 9, "root")

    audit = await menus.audit("default")
    assert [(a.username, a.action) for a in audit] == [
        ("root", "menu_rollback"), ("admin2", "menu_publish"), ("admin2", "menu_save"),
        ("root", "menu_publish"), ("root", "menu_save")]
    assert audit[0].before == {"menu_id": "default", "published": 2}
    assert audit[0].after == {"menu_id": "default", "published": 1, "comment": "回滚"}
    assert audit[2].after["changed_nodes"] == ["welcome"]
    assert audit[2].before == {"menu_id": "default", "published": 1}
    assert audit[4].after["comment"] == "初始版本"
    assert await menus.audit("other") == []


async def test_slots_are_independent(store: Store) -> None:
    menus = MenuVersions(store.engine)
    await menus.save_draft("default", default_data(), "root")
    other = await menus.save_draft("holiday", default_data(), "root")
    assert other.version.version == 1
    await menus.publish("holiday", 1, "root")
    assert await menus.published_menu() is None
    assert (await menus.published_menu("holiday"))[1] == 1  # type: ignore[index]


@pytest.mark.parametrize(("text", "node", "code"), [
    ("{not json", None, "syntax"),
    ('{"id": "m", "start": "a", "nodes": {"a": {"type": "hangup"}, "a": {"type": "hangup"}}}',
     "a", "duplicate_id"),
    ('{"id": "m", "start": "a", "nodes": {"a": {"type": "hangup", "nxt": "b"}}}', "a", "schema"),
])
async def test_unparseable_menus_are_not_stored(store: Store, text: str, node: str | None,
                                                code: str) -> None:
    menus = MenuVersions(store.engine)
    with pytest.raises(MenuInvalid) as info:
        await menus.save_draft("default", text, "root")
    assert any(e.node == node and e.code == code for e in info.value.errors), info.value.errors
    assert await menus.versions("default") == []
    assert await menus.audit("default") == []


async def test_publish_refuses_a_menu_that_fails_validation(store: Store) -> None:
    menus = MenuVersions(store.engine)
    saved = await menus.save_draft("default", with_dead_end(default_data()), "root")
    assert saved.version.status == "draft"  # a draft may be unfinished …
    assert {(e.node, e.code) for e in saved.problems} >= {("trap", "loop_no_exit")}
    with pytest.raises(MenuInvalid) as info:  # … but it is not published
        await menus.publish("default", saved.version.version, "root")
    assert "node 'trap'" in str(info.value)
    assert await menus.published_menu() is None
    assert [a.action for a in await menus.audit("default")] == ["menu_save"]


async def test_ivr_logs_group_events_by_call_for_analytics(store: Store) -> None:
    menu = default_menu()
    scripts = [["1"], ["我要投诉"], ["<hangup>"], ["", "", "", "<hangup>"], ["9", "9", "9"]]
    logs = []
    for i, inputs in enumerate(scripts):
        call = run_call(menu, inputs, NOW)
        logs.append(call.log)
        call_id = f"call{i}"
        for action in call.log:
            if isinstance(action, NodeEntered | NodeExited | InputFailed):
                kind = {NodeEntered: "ivr_node", NodeExited: "ivr_exit",
                        InputFailed: "ivr_input"}[type(action)]
                await store.record_event(Event(kind, call_id, {
                    **action_to_dict(action), "menu": "default-12345", "menu_version": 3}))
    menus = MenuVersions(store.engine)
    stored = await menus.ivr_logs()
    assert [c.call_id for c in stored] == [f"call{i}" for i in range(len(scripts))]
    assert all(c.menu == "default-12345" and c.menu_version == 3 for c in stored)
    expected = {k: v.as_dict() for k, v in analytics(logs).items()}
    got = {k: v.as_dict() for k, v in analytics(c.actions for c in stored).items()}
    assert got == expected
    assert got["main"]["hangups"] == 1 and got["main"]["timeouts"] >= 2
    assert got["main"]["invalid_inputs"] >= 2 and got["main"]["exits"]["1"] == 1

    assert await menus.ivr_logs(version=4) == []
    assert len(await menus.ivr_logs(version=3, menu="default-12345")) == len(scripts)
    assert await menus.ivr_logs(since=datetime.now(UTC) + timedelta(hours=1)) == []
