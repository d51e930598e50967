"""Per-node analytics from the action logs of N simulated calls."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ivr import analytics, default_menu
from ivr.events import Action, action_from_dict, action_to_dict
from voice_gateway.calls.simulate import run_call

MENU = default_menu()
DAY = datetime(2025, 6, 3, 10, 0)
FULL = ["楼上漏水", "我姓张", "13912345678#", "1", "朝阳区"]
SCRIPTS = [
    ["1", *FULL],
    ["2", *FULL],
    ["2", *FULL],
    ["我要投诉", *FULL],
    ["9", "2", *FULL],  # one invalid key first
    ["", "3", *FULL],  # one timeout first
    ["<hangup>"],  # drops off at the main menu
    ["2", "楼上漏水", "<hangup>"],  # drops off in the intake
    ["路灯坏了", "我姓李", "#", "海淀区"],  # speech matching nothing
    [],  # silence all the way
]


@pytest.fixture(scope="module")
def logs() -> list[list[Action]]:
    return [run_call(MENU, script, DAY).log for script in SCRIPTS]


def test_counts_after_n_calls(logs: list[list[Action]]) -> None:
    stats = analytics(logs)
    main = stats["main"]
    assert main.entries == 10
    assert dict(main.exits) == {"1": 1, "2": 5, "3": 1, "no_match": 1, "timeout": 1,
                                "hangup": 1}
    assert main.timeouts == 1 + 3  # one retried, one silent call's three
    assert main.invalid_inputs == 1
    assert main.hangups == 1
    assert stats["welcome"].entries == 10
    assert stats["intake"].entries == 9
    assert stats["intake"].hangups == 1
    assert stats["goodbye"].entries == 8
    assert main.drop_off == pytest.approx(0.1)


def test_average_time_spent(logs: list[list[Action]]) -> None:
    stats = analytics(logs)
    welcome = stats["welcome"]
    assert welcome.timed_visits == 10
    # The simulator plays a prompt for 0.5 s + 0.25 s per character.
    seconds = 0.5 + 0.25 * len(MENU.prompts["welcome"])
    assert welcome.average_time_s == pytest.approx(seconds)
    assert stats["main"].average_time_s is not None and stats["main"].average_time_s > 0


def test_analytics_from_stored_json(logs: list[list[Action]]) -> None:
    stored = [[json.loads(json.dumps(action_to_dict(a), ensure_ascii=False)) for a in log]
              for log in logs]
    assert {k: v.as_dict() for k, v in analytics(stored).items()} == {
        k: v.as_dict() for k, v in analytics(logs).items()
    }


def test_every_action_round_trips_through_json(logs: list[list[Action]]) -> None:
    for log in logs:
        for action in log:
            data = json.loads(json.dumps(action_to_dict(action)))
            assert action_from_dict(data) == action


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown IVR action"):
        action_from_dict({"action": "Dance"})
