"""What a simulated caller is told to do, and what a simulated call gives back.

The simulator itself drives the call machine, as every other kind of call does
(:mod:`voice_gateway.calls.simulate`); a file call takes the same scripted inputs. Those
are: an input made only of ``0-9 * #`` is keyed (``"13800138000#"`` is twelve key
presses); ``""`` or ``"<silence>"`` lets the waiting timer expire; ``"<hangup>"`` hangs
up; anything else is an utterance (ASR text). Each input is one turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.events import Action
from ivr.model import Menu

KEYPAD = re.compile(r"^[0-9*#]+$")
SILENCE = ("", "<silence>")
HANGUP = "<hangup>"

Simulate = Callable[[Menu, list[str], datetime, str | None], list[dict[str, Any]]]
"""``simulate(menu, inputs, now, caller_number) -> path``: one dict per node visited with
``node``, ``type``, ``inputs``, ``actions``, ``exit``, ``key``, ``entered_at``,
``left_at``. Handed to the console and the CLI by the composition root."""


@dataclass
class SimulatedCall:
    """One simulated call: ``path`` has one record per node visited, ``log`` every action
    in order (what :func:`ivr.analytics.analytics` takes)."""

    path: list[dict[str, Any]] = field(default_factory=list)
    log: list[Action] = field(default_factory=list)


def is_keypad(text: str) -> bool:
    """True when a scripted input is key presses rather than speech."""
    return bool(KEYPAD.match(text))
