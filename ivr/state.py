"""The state of one call in the IVR, and the small moves every node handler is built from.

A :class:`CallState` is immutable; handlers return a new one and append actions to an
``out`` list. A node is always in one of two phases: ``prompt`` (prompts queued, waiting for
:class:`PromptFinished` of the last one, no timer yet) or ``wait`` (a timer runs, waiting
for input). Leaving a node is never done by a handler directly: it sets ``goto`` and the
runtime's loop (:func:`ivr.runtime.step`) exits the node and enters the next one, so that
every exit and entry is logged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from ivr.events import (
    Action,
    CancelTimer,
    Event,
    ExitReason,
    FailReason,
    InputFailed,
    IntakeFields,
    KeptUtterance,
    PlayPrompt,
    RecordUtterance,
    StartTimer,
    StopPrompt,
    SubmitIntake,
    Utterance,
)
from ivr.model import Menu, Node

Phase = Literal["idle", "prompt", "wait", "ended"]
PhoneSource = Literal["keypad", "caller_id", "speech"]


@dataclass(frozen=True)
class Goto:
    """Leave the current node for ``target``; ``typeahead`` is an input that arrived during
    a prompt of the old node and is handed to the new one (a key pressed in the welcome)."""

    target: str
    reason: ExitReason
    key: str | None = None
    typeahead: Event | None = None


@dataclass(frozen=True)
class IntakeProgress:
    """Where the intake dialogue is. ``step`` is one of the node's ``ask`` steps, or
    ``confirm`` (number read back, waiting for 1/2) or ``done`` (submitted, thanking)."""

    index: int = 0
    step: str = ""
    heard_in_step: bool = False
    candidate: str = ""
    candidate_source: PhoneSource | None = None
    keypad_phone: str | None = None
    phone_source: PhoneSource | None = None
    unconfirmed_phone: str | None = None
    reentries: int = 0


@dataclass(frozen=True)
class CallState:
    """Everything the runtime knows about one call. The menu is held by the state, so a call
    keeps the menu version it started with whatever is published meanwhile."""

    menu: Menu
    node_id: str = ""
    phase: Phase = "idle"
    ended: bool = False
    # Queued prompts (id, interruptible), the playing one first.
    prompts: tuple[tuple[str, bool], ...] = ()
    timer: str | None = None
    timer_seq: int = 0
    attempts: int = 0  # timeouts + invalid inputs in this node (or intake step)
    digits: str = ""
    wall_start: datetime | None = None
    at_start: float = 0.0
    at: float = 0.0  # ``at`` of the event being handled
    caller_number: str | None = None
    kept: tuple[KeptUtterance, ...] = ()
    choices: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    heard: frozenset[str] = frozenset()
    intake: IntakeProgress | None = None
    submitted: bool = False
    goto: Goto | None = None

    @property
    def node(self) -> Node:
        return self.menu.nodes[self.node_id]

    @property
    def interruptible(self) -> bool:
        """Whether the prompt playing now may be cut by a key or speech (barge-in)."""
        return bool(self.prompts) and self.prompts[0][1]


Out = list[Action]


def play(state: CallState, out: Out, prompt_ids: list[str] | tuple[str, ...],
         interruptible: bool | None = None) -> CallState:
    """Queue prompts (after any still playing) and wait for them before starting a timer.
    ``interruptible`` defaults to the node's ``barge_in``."""
    if not prompt_ids:
        return state
    if interruptible is None:
        interruptible = state.node.barge_in
    for pid in prompt_ids:
        out.append(PlayPrompt(pid, interruptible, state.menu.prompts.get(pid, "")))
    queued = tuple((pid, interruptible) for pid in prompt_ids)
    return replace(state, prompts=state.prompts + queued, phase="prompt")


def stop(state: CallState, out: Out) -> CallState:
    if state.prompts:
        out.append(StopPrompt())
    return replace(state, prompts=(), phase="wait" if state.phase == "prompt" else state.phase)


def start_timer(state: CallState, out: Out, seconds: float) -> CallState:
    state = cancel_timer(state, out)
    seq = state.timer_seq + 1
    timer = f"{state.node_id}/{seq}"
    out.append(StartTimer(timer, seconds))
    return replace(state, timer=timer, timer_seq=seq, phase="wait")


def cancel_timer(state: CallState, out: Out) -> CallState:
    if state.timer is not None:
        out.append(CancelTimer(state.timer))
    return replace(state, timer=None)


def fail(state: CallState, out: Out, reason: FailReason) -> tuple[CallState, bool]:
    """Count a timeout or invalid input; True when the node's retries are used up."""
    out.append(InputFailed(state.node_id, reason, state.at))
    state = replace(state, attempts=state.attempts + 1)
    return state, state.attempts > state.node.retries


def retry_prompts(state: CallState, reason: FailReason) -> list[str]:
    node = state.node
    first = node.invalid_prompt if reason == "invalid" else node.timeout_prompt
    return ([first] if first else []) + list(node.prompts)


def keep(state: CallState, out: Out, field: str, event: Utterance) -> CallState:
    """Keep an utterance for the draft (nothing the caller says is thrown away)."""
    out.append(RecordUtterance(state.node_id, field, event.text, event.confidence))
    kept = KeptUtterance(state.node_id, field, event.text, event.confidence)
    return replace(state, kept=(*state.kept, kept))


def goto(state: CallState, target: str, reason: ExitReason, key: str | None = None,
         typeahead: Event | None = None) -> CallState:
    return replace(state, goto=Goto(target, reason, key, typeahead))


def submit(state: CallState, out: Out, *, complete: bool, always: bool = False) -> CallState:
    """Hand what was gathered to the drafter, once. The end of an intake dialogue always
    submits (``always``); other ends of a call (hang-up, transfer, a hangup node) only when
    the caller said or keyed something worth drafting."""
    p = state.intake or IntakeProgress()
    if state.submitted or (not always and not state.kept and p.keypad_phone is None):
        return state
    fields = IntakeFields(
        utterances=state.kept,
        transcript="，".join(u.text.strip() for u in state.kept if u.text.strip()),
        keypad_phone=p.keypad_phone,
        phone_source=p.phone_source,
        unconfirmed_phone=p.unconfirmed_phone,
        caller_number=state.caller_number,
        menu_choices=state.choices,
        variables=state.variables,
        complete=complete,
    )
    out.append(SubmitIntake(state.node_id, fields))
    return replace(state, submitted=True)
