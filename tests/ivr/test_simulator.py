"""The simulator on the shipped default menu: the paths the issue asks for."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr import default_menu
from voice_gateway.calls.simulate import run_call, simulate

MENU = default_menu()
DAY = datetime(2025, 6, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NIGHT = datetime(2025, 6, 3, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def nodes(path: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(r["node"], r["exit"], r["key"]) for r in path]


def submitted(path: list[dict[str, Any]]) -> dict[str, Any]:
    subs = [a["fields"] for r in path for a in r["actions"] if a["action"] == "SubmitIntake"]
    assert len(subs) == 1, subs
    fields: dict[str, Any] = subs[0]
    return fields


def played(path: list[dict[str, Any]]) -> list[str]:
    return [a["prompt_id"] for r in path for a in r["actions"] if a["action"] == "PlayPrompt"]


FULL = ["楼上漏水三天了", "我姓张", "13912345678#", "1", "朝阳区望京街道"]


@pytest.mark.parametrize(("key", "label"), [("1", "咨询"), ("2", "投诉举报"), ("3", "求助"),
                                            ("4", "建议表扬")])
def test_dtmf_choice_to_intake(key: str, label: str) -> None:
    path = simulate(MENU, [key, *FULL], DAY)
    assert nodes(path) == [("welcome", "done", None), ("main", "key", key),
                           ("intake", "done", None), ("goodbye", "end", None)]
    fields = submitted(path)
    assert fields["menu_choices"] == [label]
    assert fields["keypad_phone"] == "13912345678"
    assert fields["transcript"] == "楼上漏水三天了，我姓张，朝阳区望京街道"


def test_spoken_choice() -> None:
    path = simulate(MENU, ["我要投诉", *FULL], DAY)
    assert nodes(path)[1] == ("main", "speech", "2")
    assert submitted(path)["menu_choices"] == ["投诉举报"]


def test_spoken_choice_with_a_homophone() -> None:
    path = simulate(MENU, ["我想资讯一下", *FULL], DAY)
    assert nodes(path)[1] == ("main", "speech", "1")


def test_speech_matching_nothing_goes_to_intake_with_the_utterance_kept() -> None:
    path = simulate(MENU, ["我家门口的下水道堵了好几天了", "我姓李", "#", "海淀区"], DAY)
    assert nodes(path)[1] == ("main", "no_match", None)
    assert path[2]["node"] == "intake"
    fields = submitted(path)
    assert fields["utterances"][0]["text"] == "我家门口的下水道堵了好几天了"
    assert fields["utterances"][0]["node_id"] == "main"
    assert fields["transcript"].startswith("我家门口的下水道堵了好几天了")
    assert "intake_problem_continue" in played(path)


def test_silence_retries_then_intake_and_nobody_is_hung_up_on() -> None:
    path = simulate(MENU, [], DAY)
    assert nodes(path)[1] == ("main", "timeout", None)
    main = path[1]
    assert [a["reason"] for a in main["actions"] if a["action"] == "InputFailed"] == [
        "timeout"] * 3
    assert path[2]["node"] == "intake"
    # Every intake question is retried and then skipped; the call ends with thanks.
    assert path[-1]["node"] == "goodbye"
    assert "intake_done" in played(path)
    assert submitted(path)["complete"] is True


def test_invalid_keys_retry_then_intake() -> None:
    path = simulate(MENU, ["9", "8", "7"], DAY)
    assert nodes(path)[1] == ("main", "invalid", None)
    assert played(path)[:5] == ["welcome", "main_menu", "invalid_input", "main_menu",
                                "invalid_input"]
    assert path[2]["node"] == "intake"


def test_keyed_phone_with_hash() -> None:
    fields = submitted(simulate(MENU, ["2", *FULL], DAY))
    assert (fields["keypad_phone"], fields["phone_source"]) == ("13912345678", "keypad")


def test_hash_alone_is_the_caller_id() -> None:
    path = simulate(MENU, ["2", "路灯不亮", "王", "#", "西城区"], DAY,
                    caller_number="13600136000")
    fields = submitted(path)
    assert (fields["keypad_phone"], fields["phone_source"]) == ("13600136000", "caller_id")
    assert "intake_phone_readback" not in played(path)


def test_two_re_enters_then_confirmation() -> None:
    path = simulate(MENU, ["2", "路灯不亮", "王", "13912345678#", "2", "13812345678#", "1",
                           "西城区"], DAY)
    assert played(path).count("intake_phone") == 2
    assert played(path).count("intake_phone_confirm") == 2
    assert submitted(path)["keypad_phone"] == "13812345678"


def test_agent_during_hours_is_queued() -> None:
    path = simulate(MENU, ["0"], DAY)
    assert nodes(path) == [("welcome", "done", None), ("main", "key", "0"),
                           ("agent_hours", "open", None), ("agents", "transferred", None)]
    transfer = [a for a in path[-1]["actions"] if a["action"] == "Transfer"]
    assert transfer == [{"action": "Transfer", "node_id": "agents", "target": "agents",
                         "mode": "queue"}]


def test_agent_at_night_is_closed_and_goes_to_intake() -> None:
    path = simulate(MENU, ["转人工", *FULL], NIGHT)
    assert nodes(path)[:4] == [("welcome", "done", None), ("main", "speech", "0"),
                               ("agent_hours", "closed", None), ("agent_closed", "done", None)]
    assert path[4]["node"] == "intake"


def test_agents_busy_fall_back_to_intake() -> None:
    call = run_call(MENU, ["0", *FULL], DAY, transfer_ok=False)
    assert [r["node"] for r in call.path] == ["welcome", "main", "agent_hours", "agents",
                                             "agent_busy", "intake", "goodbye"]


def test_key_during_the_welcome_is_not_lost() -> None:
    # A caller who knows the menu presses 2 at once: the welcome stops, the menu gets the 2.
    from ivr.events import CallStarted, Dtmf
    from ivr.runtime import new_call, step

    state, _ = step(new_call(MENU), CallStarted(DAY))
    state, _ = step(state, Dtmf("2"))
    assert state.node_id == "intake"


def test_hangup_input_ends_the_call() -> None:
    path = simulate(MENU, ["2", "路灯不亮", "<hangup>"], DAY)
    assert nodes(path)[-1] == ("intake", "hangup", None)
    assert submitted(path)["complete"] is False


def test_records_carry_times() -> None:
    path = simulate(MENU, ["1", *FULL], DAY)
    assert path[0]["entered_at"] == 0.0
    for record in path[:-1]:
        assert record["left_at"] >= record["entered_at"]


def test_keys_after_the_menu_ended_are_not_its_inputs() -> None:
    # "12" on the small menu: 1 goes to the hang-up node, whose IVR never hears the 2.
    from .support import small

    path = simulate(small(), ["12"], DAY)
    assert [(r["node"], r["inputs"]) for r in path] == [("main", ["dtmf 1"]), ("bye", [])]


def test_a_menu_the_runtime_cannot_run_raises() -> None:
    from ivr import parse_menu
    from ivr.errors import MenuRuntimeError

    always = {"daily": ["00:00-24:00"]}
    menu = parse_menu({"id": "loop", "start": "a", "nodes": {
        "a": {"type": "hours", "weekly": always, "open": "b", "closed": "b"},
        "b": {"type": "hours", "weekly": always, "open": "a", "closed": "a"}}})
    with pytest.raises(MenuRuntimeError, match="menu 'loop'"):
        simulate(menu, [], DAY)
