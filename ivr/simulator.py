"""Run a menu without a phone: scripted keys and speech in, the path taken out.

The simulated caller listens to every prompt to the end, then gives the next input. An
input made only of ``0-9 * #`` is keyed (``"13800138000#"`` is twelve key presses); ``""``
or ``"<silence>"`` lets the waiting timer expire; ``"<hangup>"`` hangs up; anything else is
an utterance (ASR text). Each input is one turn: after it the caller waits, silent, until
the IVR answers (with a prompt, or when its end-of-turn or inter-digit timer runs out).
When the inputs run out the caller stays silent, so the call
goes on as the menu decides for silence until it ends. Time is simulated: a prompt lasts
a quarter second per character, a key half a second; ``at`` values in the output are
seconds since the call started.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.events import (
    Action,
    CallStarted,
    CancelTimer,
    Dtmf,
    Event,
    HangUp,
    Hangup,
    NodeEntered,
    NodeExited,
    PlayPrompt,
    PromptFinished,
    SpeechStarted,
    StartTimer,
    StopPrompt,
    Timeout,
    Transfer,
    TransferResult,
    Utterance,
    action_to_dict,
)
from ivr.model import Menu
from ivr.runtime import new_call, step

KEYPAD = re.compile(r"^[0-9*#]+$")
SILENCE = ("", "<silence>")
HANGUP = "<hangup>"
_MAX_EVENTS = 2000


@dataclass
class SimulatedCall:
    """One simulated call: ``path`` has one record per node visited, ``log`` every action
    in order (what :func:`ivr.analytics.analytics` takes)."""

    path: list[dict[str, Any]] = field(default_factory=list)
    log: list[Action] = field(default_factory=list)


def is_keypad(text: str) -> bool:
    """True when a scripted input is key presses rather than speech."""
    return bool(KEYPAD.match(text))


def simulate(menu: Menu, inputs: list[str], now: datetime,
             caller_number: str | None = "13800138000") -> list[dict[str, Any]]:
    """The path a caller with these inputs takes: one dict per node with ``node``,
    ``type``, ``inputs``, ``actions``, ``exit``, ``key``, ``entered_at``, ``left_at``."""
    return run_call(menu, inputs, now, caller_number).path


def run_call(menu: Menu, inputs: list[str], now: datetime,
             caller_number: str | None = "13800138000", *,
             transfer_ok: bool = True) -> SimulatedCall:
    """Simulate one call; ``transfer_ok`` says whether agents answer transfers."""
    return _Caller(menu, list(inputs), transfer_ok).run(now, caller_number)


class _Caller:
    """A scripted caller plus the session's bookkeeping (prompt queue, timers)."""

    def __init__(self, menu: Menu, inputs: list[str], transfer_ok: bool) -> None:
        self.state = new_call(menu)
        self.inputs = inputs
        self.transfer_ok = transfer_ok
        self.call = SimulatedCall()
        self.clock = 0.0
        self.playing: list[PlayPrompt] = []
        self.timers: dict[str, float] = {}
        self.transferring = False
        self.hung_up = False

    def run(self, now: datetime, caller_number: str | None) -> SimulatedCall:
        self.feed(CallStarted(now, caller_number, at=0.0), None)
        for _ in range(_MAX_EVENTS):
            if self.state.ended or self.hung_up:
                break
            if self.playing:
                prompt = self.playing.pop(0)
                self.clock += 0.5 + 0.25 * len(prompt.text)
                self.feed(PromptFinished(prompt.prompt_id, at=self.clock), None)
            elif self.transferring:
                self.transferring = False
                self.clock += 5.0
                self.feed(TransferResult(self.transfer_ok, at=self.clock), "transfer result")
            elif self.inputs:
                self.give(self.inputs.pop(0))
                if not self.playing and not self.transferring:
                    # One input is one turn: the caller now waits for the IVR to answer,
                    # which it does when its timer runs out (end of turn, inter-digit).
                    self.expire()
            elif self.timers:
                self.expire()
            else:
                break
        return self.call

    def give(self, text: str) -> None:
        if text in SILENCE:
            self.expire()
        elif text == HANGUP:
            self.clock += 1.0
            self.feed(Hangup(at=self.clock), "hangup")
        elif is_keypad(text):
            for digit in text:
                self.clock += 0.5
                self.feed(Dtmf(digit, at=self.clock), f"dtmf {digit}")
        else:
            self.clock += 0.3
            self.feed(SpeechStarted(at=self.clock), None)
            self.clock += 0.2 * len(text) + 0.7
            self.feed(Utterance(text, 0.9, at=self.clock), f"speech {text}")

    def expire(self) -> None:
        if not self.timers:
            return
        timer_id, seconds = next(iter(self.timers.items()))
        self.clock += seconds
        self.feed(Timeout(timer_id, at=self.clock), "silence")

    def feed(self, event: Event, label: str | None) -> None:
        if label is not None and self.call.path:
            self.call.path[-1]["inputs"].append(label)
        self.state, actions = step(self.state, event)
        for action in actions:
            self.perform(action)

    def perform(self, action: Action) -> None:
        self.call.log.append(action)
        path = self.call.path
        match action:
            case NodeEntered():
                path.append({"node": action.node_id, "type": action.node_type,
                             "entered_at": round(action.at, 2), "inputs": [], "actions": [],
                             "exit": None, "key": None, "left_at": None})
                return
            case NodeExited():
                path[-1].update(exit=action.reason, key=action.key, left_at=round(action.at, 2))
                return
            case PlayPrompt():
                self.playing.append(action)
            case StopPrompt():
                self.playing.clear()
            case StartTimer():
                self.timers = {action.timer_id: action.seconds}  # one timer at a time
            case Transfer():
                self.transferring = True
            case HangUp():
                self.hung_up = True
            case CancelTimer():
                self.timers.pop(action.timer_id, None)
            case _:
                pass
        if path:
            path[-1]["actions"].append(action_to_dict(action))
