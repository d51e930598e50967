"""The IVR runtime: a pure state machine, ``step(state, event) -> (state, actions)``.

How it works. :data:`TRANSITIONS` maps (node type, event type) to a handler; ``"*"`` rows
apply to every node type that has no row of its own. An event with no row is not legal
in that node and is ignored: the state comes back unchanged with no actions (a key
pressed while a call is being transferred, a late timer). Handlers never enter nodes
themselves: they set ``state.goto`` and :func:`step` follows it, logging
:class:`NodeExited`/:class:`NodeEntered` for every move, so analytics need nothing but the
action log. Nothing here reads a clock: wall time comes from :class:`CallStarted` and
elapsed time from each event's ``at``.

Barge-in: while an interruptible prompt plays, :class:`SpeechStarted` or a key stops it
(:class:`StopPrompt`). While a prompt that may not be cut plays, keys are ignored and
speech is kept for the draft but not acted on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from ivr import intake
from ivr.errors import MenuRuntimeError
from ivr.events import (
    Action,
    CallStarted,
    CollectDigits,
    DigitsCollected,
    Dtmf,
    Event,
    ExitReason,
    FailReason,
    FieldsHeard,
    HangUp,
    Hangup,
    NodeEntered,
    NodeExited,
    PromptFinished,
    SpeechStarted,
    Timeout,
    Transfer,
    TransferResult,
    Utterance,
)
from ivr.hours import is_open
from ivr.model import CollectNode, HoursNode, Menu, MenuNode, Option, PlayNode, TransferNode
from ivr.speech import match_option, spoken_digits
from ivr.state import (
    CallState,
    Out,
    cancel_timer,
    fail,
    goto,
    keep,
    play,
    retry_prompts,
    start_timer,
    stop,
    submit,
)

Handler = Callable[[CallState, Any, Out], CallState]
_MAX_MOVES = 64  # node changes within one event; only an invalid menu gets near it


def new_call(menu: Menu) -> CallState:
    """The state of a call that has not started yet; feed it :class:`CallStarted`."""
    return CallState(menu=menu)


def step(state: CallState, event: Event) -> tuple[CallState, list[Action]]:
    """Apply one event; return the new state and the actions the session must perform,
    in order."""
    if state.ended:
        return state, []
    out: list[Action] = []
    current = replace(state, at=event.at)
    if isinstance(event, CallStarted):
        if state.phase != "idle":
            return state, []
        current = replace(current, wall_start=event.now, at_start=event.at,
                          caller_number=event.caller_number)
        new = goto(current, state.menu.start, "done")
    else:
        if state.phase == "idle":
            return state, []
        handler = _handler(state.node.type, type(event))
        if handler is None:
            return state, []
        new = handler(current, event, out)
        if new is current and not out:
            return state, []
    return _follow(new, out), out


def _handler(node_type: str, event_type: type[Any]) -> Handler | None:
    return TRANSITIONS.get((node_type, event_type)) or TRANSITIONS.get(("*", event_type))


def _follow(state: CallState, out: Out) -> CallState:
    moves = 0
    while state.goto is not None and not state.ended:
        moves += 1
        if moves > _MAX_MOVES:
            raise MenuRuntimeError(f"node '{state.node_id}': routing loops without input")
        move, state = state.goto, replace(state, goto=None)
        if state.node_id:
            state = cancel_timer(stop(state, out), out)
            out.append(NodeExited(state.node_id, move.reason, move.key, state.at))
        state = replace(state, node_id=move.target, phase="wait", attempts=0, digits="",
                        prompts=())
        out.append(NodeEntered(move.target, state.node.type, state.at))
        state = _ENTER[state.node.type](state, out, move.typeahead)
    return state


# ---------------------------------------------------------------------------- generic rows


def _accepts_input(handler: Handler) -> Handler:
    """Common to every key/speech handler: a prompt that may not be cut ignores keys and
    only keeps speech; otherwise the input stops the no-input timer."""

    def handle(state: CallState, event: Any, out: Out) -> CallState:
        if state.prompts and not state.interruptible:
            if isinstance(event, Utterance) and event.text.strip():
                return keep(state, out, _speech_field(state), event)
            return state
        return handler(cancel_timer(state, out), event, out)

    return handle


def _speech_field(state: CallState) -> str:
    if state.node.type == "intake" and state.intake is not None:
        step_name = state.intake.step
        return {"done": "problem", "confirm": "phone"}.get(step_name, step_name)
    return "menu"


def _speech_started(state: CallState, event: SpeechStarted, out: Out) -> CallState:
    if state.prompts and not state.interruptible:
        return state
    state = stop(state, out)
    # Do not time the caller out while they talk: wait for the transcript instead.
    return start_timer(state, out, state.node.speech_timeout_s)


def _prompt_finished(state: CallState, event: PromptFinished, out: Out) -> CallState:
    if not state.prompts or state.prompts[0][0] != event.prompt_id:
        return state  # a stopped or unknown prompt
    state = replace(state, prompts=state.prompts[1:])
    if state.prompts:
        return state
    return _PROMPTS_DONE[state.node.type](state, out)


def _timeout(state: CallState, event: Timeout, out: Out) -> CallState:
    if event.timer_id != state.timer:
        return state  # stale: cancelled or replaced meanwhile
    return _ON_TIMEOUT[state.node.type](replace(state, timer=None), out)


def _hangup(state: CallState, event: Hangup, out: Out) -> CallState:
    state = cancel_timer(state, out)
    out.append(NodeExited(state.node_id, "hangup", None, state.at))
    state = submit(state, out, complete=False)
    return replace(state, ended=True, phase="ended", prompts=())


def _fields_heard(state: CallState, event: FieldsHeard, out: Out) -> CallState:
    return replace(state, heard=state.heard | event.fields)


# ---------------------------------------------------------------------------- play


def _enter_play(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    node = state.node
    assert isinstance(node, PlayNode)
    if typeahead is not None and node.barge_in:
        return goto(state, node.next, "done", typeahead=typeahead)  # the caller is ahead
    state = _keep_typeahead(state, out, typeahead)
    state = play(state, out, node.prompts)
    return state if state.prompts else goto(state, node.next, "done")


def _play_input(state: CallState, event: Dtmf | Utterance, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, PlayNode)
    if isinstance(event, Utterance) and not event.text.strip():
        return goto(state, node.next, "done")
    if isinstance(event, Dtmf):
        return goto(state, node.next, "key", event.digit, typeahead=event)
    return goto(state, node.next, "speech", typeahead=event)


def _play_done(state: CallState, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, PlayNode)
    return goto(state, node.next, "done")


# ---------------------------------------------------------------------------- menu


def _enter_prompting(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    node = state.node
    if isinstance(node, CollectNode):
        out.append(CollectDigits(node.id, node.min_digits, node.max_digits, node.terminator))
    if typeahead is not None:
        handler = _handler(node.type, type(typeahead))
        return handler(state, typeahead, out) if handler else state
    return play(state, out, node.prompts)


def _menu_dtmf(state: CallState, event: Dtmf, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, MenuNode)
    state = stop(state, out)
    for option in node.options:
        if option.key == event.digit:
            return _choose(state, option, "key", event.digit)
    return _retry_or_fail(state, out, "invalid")


def _menu_utterance(state: CallState, event: Utterance, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, MenuNode)
    if not event.text.strip() and not event.alternatives:
        return state if state.prompts else _retry_or_fail(state, out, "timeout")
    state = stop(state, out)
    if event.text.strip():  # (a reading under the grammar alone is not the caller's words)
        state = keep(state, out, "menu", event)
    choice = match_option(node.options, event.text)
    if choice is None or event.confidence < node.min_confidence:
        # A reading constrained to the menu's words (see Utterance.alternatives); the
        # session only offers one that was recognised with enough confidence.
        choice = next((c for alt in event.alternatives
                       if (c := match_option(node.options, alt)) is not None), None)
        if choice is not None:
            return _choose(state, choice.option, "speech", choice.option.name)
    if choice is not None and event.confidence >= node.min_confidence:
        return _choose(state, choice.option, "speech", choice.option.name)
    if node.no_match is not None:
        return goto(state, node.no_match, "no_match")  # the utterance is kept: the appeal
    return _retry_or_fail(state, out, "invalid")


def _choose(state: CallState, option: Option, reason: ExitReason, key: str) -> CallState:
    if option.label:
        state = replace(state, choices=(*state.choices, option.label))
    return goto(state, option.next, reason, key)


def _retry_or_fail(state: CallState, out: Out, reason: FailReason) -> CallState:
    node = state.node
    assert isinstance(node, MenuNode | CollectNode)
    state, exhausted = fail(state, out, reason)
    if exhausted:
        return goto(state, node.on_fail, reason)
    state = play(replace(state, digits=""), out, retry_prompts(state, reason))
    return state if state.prompts else start_timer(state, out, node.timeout_s)


def _wait_for_input(state: CallState, out: Out) -> CallState:
    node = state.node
    if isinstance(node, CollectNode) and state.digits:
        return start_timer(state, out, node.inter_digit_timeout_s)
    return start_timer(state, out, node.timeout_s)


def _menu_timeout(state: CallState, out: Out) -> CallState:
    return _retry_or_fail(state, out, "timeout")


# ---------------------------------------------------------------------------- collect


def _collect_dtmf(state: CallState, event: Dtmf, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, CollectNode)
    state = stop(state, out)
    if event.digit == node.terminator:
        return _collect_done(state, out)
    state = replace(state, digits=state.digits + event.digit)
    if len(state.digits) >= node.max_digits:
        return _collect_done(state, out)
    return start_timer(state, out, node.inter_digit_timeout_s)


def _collect_utterance(state: CallState, event: Utterance, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, CollectNode)
    if not event.text.strip():
        return state if state.prompts else _retry_or_fail(state, out, "timeout")
    state = keep(stop(state, out), out, node.variable, event)
    return _collect_done(replace(state, digits=spoken_digits(event.text)), out)


def _collect_done(state: CallState, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, CollectNode)
    if not node.min_digits <= len(state.digits) <= node.max_digits:
        return _retry_or_fail(state, out, "invalid")
    out.append(DigitsCollected(node.id, node.variable, state.digits))
    state = replace(state, variables=(*state.variables, (node.variable, state.digits)))
    return goto(state, node.next, "done")


def _collect_timeout(state: CallState, out: Out) -> CallState:
    if state.digits:
        return _collect_done(state, out)  # the caller stopped typing: take what is there
    return _retry_or_fail(state, out, "timeout")


# ---------------------------------------------------------------------------- intake


def _enter_intake(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    state = intake.enter(state, out, quiet=typeahead is not None)
    if typeahead is not None:
        handler = _handler("intake", type(typeahead))
        return handler(state, typeahead, out) if handler else state
    return state


def _intake_dtmf(state: CallState, event: Dtmf, out: Out) -> CallState:
    return intake.on_dtmf(state, out, event)


def _intake_utterance(state: CallState, event: Utterance, out: Out) -> CallState:
    return intake.on_utterance(state, out, event)


# ---------------------------------------------------------------------------- transfer


def _enter_transfer(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    node = state.node
    assert isinstance(node, TransferNode)
    state = _keep_typeahead(state, out, typeahead)
    state = play(state, out, node.prompts)
    return state if state.prompts else _transfer_now(state, out)


def _transfer_now(state: CallState, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, TransferNode)
    out.append(Transfer(node.id, node.target, "queue" if node.type == "queue" else "refer"))
    return start_timer(state, out, node.timeout_s)


def _transfer_result(state: CallState, event: TransferResult, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, TransferNode)
    if state.timer is None:
        return state  # no transfer under way
    if not event.ok:
        return goto(state, node.next, "transfer_failed")
    state = cancel_timer(state, out)
    out.append(NodeExited(node.id, "transferred", None, state.at))
    state = submit(state, out, complete=False)
    return replace(state, ended=True, phase="ended")


def _transfer_timeout(state: CallState, out: Out) -> CallState:
    node = state.node
    assert isinstance(node, TransferNode)
    return goto(state, node.next, "transfer_failed")


def _transfer_speech(state: CallState, event: Utterance, out: Out) -> CallState:
    return keep(state, out, "menu", event) if event.text.strip() else state


# ---------------------------------------------------------------------------- hours, hangup


def _enter_hours(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    node = state.node
    assert isinstance(node, HoursNode)
    assert state.wall_start is not None
    now = state.wall_start + timedelta(seconds=state.at - state.at_start)
    if is_open(node, now):
        return goto(state, node.open, "open", typeahead=typeahead)
    return goto(state, node.closed, "closed", typeahead=typeahead)


def _enter_hangup(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    state = _keep_typeahead(state, out, typeahead)
    state = play(state, out, state.node.prompts, interruptible=False)
    out.append(NodeExited(state.node_id, "end", None, state.at))
    state = submit(state, out, complete=True)
    out.append(HangUp())
    return replace(state, ended=True, phase="ended", prompts=())


def _keep_typeahead(state: CallState, out: Out, typeahead: Event | None) -> CallState:
    if isinstance(typeahead, Utterance) and typeahead.text.strip():
        return keep(state, out, "menu", typeahead)
    return state


# ---------------------------------------------------------------------------- tables

_INPUT_NODES = ("play", "menu", "collect", "intake")

TRANSITIONS: dict[tuple[str, type[Any]], Handler] = {
    ("*", PromptFinished): _prompt_finished,
    ("*", Timeout): _timeout,
    ("*", Hangup): _hangup,
    ("*", FieldsHeard): _fields_heard,
    **{(t, SpeechStarted): _speech_started for t in _INPUT_NODES},
    ("play", Dtmf): _accepts_input(_play_input),
    ("play", Utterance): _accepts_input(_play_input),
    ("menu", Dtmf): _accepts_input(_menu_dtmf),
    ("menu", Utterance): _accepts_input(_menu_utterance),
    ("collect", Dtmf): _accepts_input(_collect_dtmf),
    ("collect", Utterance): _accepts_input(_collect_utterance),
    ("intake", Dtmf): _accepts_input(_intake_dtmf),
    ("intake", Utterance): _accepts_input(_intake_utterance),
    ("transfer", TransferResult): _transfer_result,
    ("queue", TransferResult): _transfer_result,
    ("transfer", Utterance): _transfer_speech,
    ("queue", Utterance): _transfer_speech,
}
"""Every legal (node type, event type) pair. Not listed: ignored."""

_ENTER: dict[str, Callable[[CallState, Out, Event | None], CallState]] = {
    "play": _enter_play,
    "menu": _enter_prompting,
    "collect": _enter_prompting,
    "intake": _enter_intake,
    "transfer": _enter_transfer,
    "queue": _enter_transfer,
    "hours": _enter_hours,
    "hangup": _enter_hangup,
}

_PROMPTS_DONE: dict[str, Callable[[CallState, Out], CallState]] = {
    "play": _play_done,
    "menu": _wait_for_input,
    "collect": _wait_for_input,
    "intake": intake.prompts_done,
    "transfer": _transfer_now,
    "queue": _transfer_now,
    "hours": lambda state, out: state,
    "hangup": lambda state, out: state,
}

_ON_TIMEOUT: dict[str, Callable[[CallState, Out], CallState]] = {
    "play": _play_done,
    "menu": _menu_timeout,
    "collect": _collect_timeout,
    "intake": intake.on_timeout,
    "transfer": _transfer_timeout,
    "queue": _transfer_timeout,
    "hours": lambda state, out: state,
    "hangup": lambda state, out: state,
}
