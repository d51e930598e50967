"""Run a menu without a phone: scripted keys and speech in, the path taken out.

How it works. The simulator is one more transport of the
:class:`~voice_gateway.calls.machine.CallMachine`, like a file call or crash recovery, and
the simplest: the machine is pure, so a plain loop drives it on a virtual clock, with no
runner, storage or media. The loop plays the part of the caller and of the line at once:
it remembers the prompts queued (:class:`~voice_gateway.calls.machine.Play`), the IVR's
timer (its seconds and generation) and a transfer under way (:class:`~voice_gateway.calls.
machine.Refer`), and answers each in turn.

The caller listens to every prompt to the end, then gives the next input (the syntax of
:mod:`ivr.simulator`: keys, ``<silence>``, ``<hangup>`` or speech). Each input is one turn:
after it the caller waits, silent, until the IVR answers (with a prompt, or when its
end-of-turn or inter-digit timer runs out). When the inputs run out the caller stays
silent, so the call goes on as the menu decides for silence until it ends. An agent
answers a transfer after 5 s (or never: ``transfer_ok``). Time is simulated: a prompt
lasts 0.5 s plus a quarter second per character, a key half a second, speech 0.3 s to
start then 0.2 s per character plus 0.7 s; ``at`` values in the output are seconds since
the call started.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from ivr import Menu
from ivr.errors import MenuRuntimeError
from ivr.simulator import HANGUP, SILENCE, SimulatedCall, is_keypad
from voice_gateway.calls import machine as m

_MAX_EVENTS = 2000
AGENTS = "sip:agents@simulator.invalid"  # every transfer target: the agents always exist


def simulate(menu: Menu, inputs: list[str], now: datetime,
             caller_number: str | None = "13800138000") -> list[dict[str, Any]]:
    """The path a caller with these inputs takes: one dict per node with ``node``,
    ``type``, ``inputs``, ``actions``, ``exit``, ``key``, ``entered_at``, ``left_at``."""
    return run_call(menu, inputs, now, caller_number).path


def run_call(menu: Menu, inputs: list[str], now: datetime,
             caller_number: str | None = "13800138000", *,
             transfer_ok: bool = True) -> SimulatedCall:
    """Simulate one call; ``transfer_ok`` says whether agents answer transfers. Raises
    :class:`~ivr.errors.MenuRuntimeError` for a menu the runtime cannot run."""
    caller = _ScriptedCaller(menu, caller_number, transfer_ok)
    caller.run(now, deque(inputs))
    if caller.machine.ivr_failed:
        node = caller.machine.trace[-1]["node"] if caller.machine.trace else menu.start
        raise MenuRuntimeError(f"menu '{menu.id}' failed at node '{node}'")
    return SimulatedCall(path=caller.machine.trace, log=caller.machine.ivr_log)


class _ScriptedCaller:
    """A call machine, the caller's script and the line's bookkeeping (see the module
    docstring)."""

    def __init__(self, menu: Menu, caller_number: str | None, transfer_ok: bool) -> None:
        self.machine = m.CallMachine(m.CallPlan(caller_number, menu,
                                                transfer_target=lambda _target: AGENTS))
        self.transfer_ok = transfer_ok
        self.clock = 0.0
        self.playing: deque[m.Play] = deque()
        self.timer: m.StartTimer | None = None
        self.transferring = False

    def run(self, now: datetime, inputs: deque[str]) -> None:
        for event in (m.Offered(), m.CallStored(True), m.Answered(now)):
            self.post(event)
        for _ in range(_MAX_EVENTS):
            if self.over:
                break
            if self.playing:
                play = self.playing.popleft()
                self.clock += 0.5 + 0.25 * len(play.text)
                self.post(m.PromptDone(play.seq, at=self.clock))
            elif self.transferring:
                self.transferring = False
                self.clock += 5.0
                self.machine.label_input("transfer result")
                self.post(m.TransferUpdate(200 if self.transfer_ok else None, done=True,
                                           ok=self.transfer_ok, at=self.clock))
            elif inputs:
                self.give(inputs.popleft())
                if not self.playing and not self.transferring:
                    # One input is one turn: the caller now waits for the IVR to answer,
                    # which it does when its timer runs out (end of turn, inter-digit).
                    self.expire()
            elif self.timer is not None:
                self.expire()
            else:
                break

    @property
    def over(self) -> bool:
        """The menu has ended (its hang-up, a transfer, the caller's) or cannot go on."""
        mc = self.machine
        return mc.phase != "live" or mc.ivr is None or mc.ivr_failed or mc.ivr.ended

    def give(self, text: str) -> None:
        if text in SILENCE:
            self.expire()
        elif text == HANGUP:
            self.clock += 1.0
            self.post(m.HungUp("caller-hangup", at=self.clock))
        elif is_keypad(text):
            for digit in text:
                self.clock += 0.5
                self.post(m.Dtmf(digit, "script", at=self.clock))
        else:
            self.clock += 0.3
            self.post(m.SpeechBegan(at=self.clock))
            self.clock += 0.2 * len(text) + 0.7
            self.post(m.ScriptedSpeech(text, 0.9, at=self.clock))

    def expire(self) -> None:
        """Let the IVR's timer run out."""
        if self.timer is None:
            return
        timer, self.timer = self.timer, None
        self.clock += timer.seconds
        self.post(m.TimerFired(m.IVR_TIMER, timer.gen, at=self.clock))

    def post(self, event: m.Event) -> None:
        for action in self.machine.handle(event):
            match action:
                case m.Play():
                    self.playing.append(action)
                case m.StopPlayback():
                    self.playing.clear()
                case m.StartTimer(name=m.IVR_TIMER):
                    self.timer = action
                case m.CancelTimer(name=m.IVR_TIMER):
                    self.timer = None
                case m.Refer():
                    self.transferring = True
                case m.AbandonTransfer():
                    self.transferring = False
                case _:
                    pass  # storage, answer, BYE, media: nothing to simulate
