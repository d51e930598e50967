"""A small menu for runtime tests, and helpers to drive a call."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ivr import Menu, new_call, parse_menu, step
from ivr.events import Action, CallStarted, Event
from ivr.state import CallState

NOW = datetime(2025, 6, 3, 10, 0)  # a Tuesday morning
PROMPTS = {"p_main": "请选择", "bad": "输入有误", "quiet": "没有听到", "bye": "再见",
           "hello": "您好", "p_code": "请输入编号", "p_xfer": "正在转接", "legal": "通话将被录音"}

SMALL: dict[str, Any] = {
    "id": "small",
    "start": "main",
    "prompts": PROMPTS,
    "defaults": {"timeout_s": 5, "retries": 1, "invalid_prompt": "bad", "timeout_prompt": "quiet"},
    "nodes": {
        "main": {
            "type": "menu", "prompt": "p_main",
            "options": [
                {"key": "1", "label": "咨询", "keywords": ["咨询"], "next": "bye"},
                {"key": "2", "keywords": ["转人工"], "next": "xfer"},
                {"key": "3", "next": "code"},
            ],
            "no_match": "bye", "on_fail": "bye",
        },
        "code": {"type": "collect", "prompt": "p_code", "variable": "code", "min_digits": 3,
                 "max_digits": 4, "next": "bye", "on_fail": "bye"},
        "xfer": {"type": "transfer", "prompt": "p_xfer", "target": "sip:agent@127.0.0.1",
                 "timeout_s": 30, "next": "bye"},
        "bye": {"type": "hangup", "prompt": "bye"},
    },
}


def small(**changes: Any) -> Menu:
    """The small menu, with top-level or ``nodes`` entries replaced."""
    data = copy.deepcopy(SMALL)
    for key, value in changes.items():
        if key in data["nodes"] or key.startswith("node_"):
            data["nodes"][key.removeprefix("node_")] = value
        else:
            data[key] = value
    return parse_menu(data)


def drive(menu: Menu, events: Iterable[Event], caller: str | None = "13800138000",
          now: datetime = NOW) -> tuple[CallState, list[Action]]:
    """Start a call and feed events; return the state and the actions of the LAST event."""
    state, actions = step(new_call(menu), CallStarted(now, caller))
    for event in events:
        state, actions = step(state, event)
    return state, actions


def drive_all(menu: Menu, events: Iterable[Event], caller: str | None = "13800138000",
              now: datetime = NOW) -> tuple[CallState, list[Action]]:
    """Like :func:`drive` but return every action of the call."""
    state, log = step(new_call(menu), CallStarted(now, caller))
    for event in events:
        state, actions = step(state, event)
        log.extend(actions)
    return state, log


def of_type(actions: Iterable[Action], kind: type[Any]) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]
