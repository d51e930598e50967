"""Business hours and holiday closures; the time is always passed in."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr import parse_menu, validate
from ivr.events import CallStarted, NodeExited, PromptFinished
from ivr.hours import is_open
from ivr.model import HoursNode
from ivr.runtime import new_call, step

from .support import SMALL

CN = ZoneInfo("Asia/Shanghai")

HOURS: dict[str, Any] = {
    "type": "hours",
    "weekly": {"mon-fri": ["08:30-12:00", "13:30-17:30"], "sat": ["09:00-12:00"]},
    "closed_dates": ["2025-10-01", "2025-10-02"],
    "open_dates": {"2025-09-28": ["08:30-17:30"]},  # a Sunday worked for the holiday (调休)
    "open": "main",
    "closed": "bye",
}


def menu_with_hours() -> Any:
    data = copy.deepcopy(SMALL)
    data["start"] = "hours"
    data["nodes"]["hours"] = HOURS
    return parse_menu(data)


def node() -> HoursNode:
    n = menu_with_hours().nodes["hours"]
    assert isinstance(n, HoursNode)
    return n


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2025, 6, 3, 9, 0), True),  # Tuesday morning
    (datetime(2025, 6, 3, 12, 30), False),  # lunch break
    (datetime(2025, 6, 3, 17, 30), False),  # closing time is exclusive
    (datetime(2025, 6, 3, 17, 29), True),
    (datetime(2025, 6, 7, 10, 0), True),  # Saturday morning
    (datetime(2025, 6, 8, 10, 0), False),  # Sunday
    (datetime(2025, 10, 1, 10, 0), False),  # National Day: closed though a Wednesday
    (datetime(2025, 9, 28, 10, 0), True),  # make-up working Sunday
    (datetime(2025, 6, 3, 1, 0, tzinfo=UTC), True),  # 09:00 in Beijing
    (datetime(2025, 6, 3, 10, 0, tzinfo=UTC), False),  # 18:00 in Beijing
])
def test_is_open(when: datetime, expected: bool) -> None:
    assert is_open(node(), when) is expected


def test_hours_node_routes_open_and_closed() -> None:
    menu = menu_with_hours()
    assert validate(menu) == []
    _, actions = step(new_call(menu), CallStarted(datetime(2025, 6, 3, 9, 0, tzinfo=CN)))
    assert NodeExited("hours", "open", None, 0.0) in actions
    _, actions = step(new_call(menu), CallStarted(datetime(2025, 10, 1, 9, 0, tzinfo=CN)))
    assert NodeExited("hours", "closed", None, 0.0) in actions


def test_hours_checked_later_in_the_call_use_elapsed_time() -> None:
    # Start at 17:29:50 in a play node; the hours node is reached 20 s later: closed.
    data = copy.deepcopy(SMALL)
    data["start"] = "hello"
    data["nodes"]["hello"] = {"type": "play", "prompt": "hello", "next": "hours"}
    data["nodes"]["hours"] = HOURS
    menu = parse_menu(data)
    start = datetime(2025, 6, 3, 17, 29, 50, tzinfo=CN)
    state, _ = step(new_call(menu), CallStarted(start, at=100.0))
    _, actions = step(state, PromptFinished("hello", at=120.0))
    assert NodeExited("hours", "closed", None, 120.0) in actions
    state, _ = step(new_call(menu), CallStarted(start, at=100.0))
    _, actions = step(state, PromptFinished("hello", at=105.0))
    assert NodeExited("hours", "open", None, 105.0) in actions
    assert start + timedelta(seconds=5) < start + timedelta(seconds=20)


def test_runtime_never_reads_the_clock() -> None:
    import ivr.hours
    import ivr.runtime
    import ivr.state

    for module in (ivr.runtime, ivr.state, ivr.hours):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        assert "datetime.now" not in source and "time.time" not in source
