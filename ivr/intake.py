"""The intake dialogue (node type ``intake``): problem, name, phone, address, then submit.

It walks the node's ``ask`` steps in order, skipping ``name``/``address`` when the session
said they were already heard (:class:`FieldsHeard`). Silence never ends the call: a step
that gets no answer after its retries is skipped.

The phone step is keyed: digits accumulate until ``#`` (or the inter-digit timeout), ``*``
starts over, ``#`` alone means the caller ID. A keyed (or, as a fallback, spoken) number
is read back with the digit prompts and confirmed with 1 (or 对/是的) or re-entered with 2
(or 不对/重新). Only a confirmed number becomes ``keypad_phone``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ivr.events import CollectDigits, Dtmf, StartIntake, Utterance
from ivr.model import DIGIT_PROMPTS, IntakeNode
from ivr.speech import is_yes, means_own_number, spoken_digits
from ivr.state import (
    CallState,
    IntakeProgress,
    Out,
    PhoneSource,
    fail,
    goto,
    keep,
    play,
    start_timer,
    stop,
    submit,
)


def _node(state: CallState) -> IntakeNode:
    node = state.node
    assert isinstance(node, IntakeNode)
    return node


def _progress(state: CallState) -> IntakeProgress:
    return state.intake or IntakeProgress()


def _set(state: CallState, **changes: Any) -> CallState:
    return replace(state, intake=replace(_progress(state), **changes))


def enter(state: CallState, out: Out, quiet: bool) -> CallState:
    """Start the dialogue; ``quiet`` (type-ahead) skips the first prompt."""
    out.append(StartIntake(state.node_id))
    state = replace(state, intake=IntakeProgress())
    return _start_step(state, out, 0, quiet=quiet)


def _start_step(state: CallState, out: Out, index: int, quiet: bool = False) -> CallState:
    node = _node(state)
    while index < len(node.ask) and node.ask[index] in state.heard - {"problem", "phone"}:
        index += 1
    if index >= len(node.ask):
        state = submit(state, out, complete=True, always=True)
        state = _set(state, step="done", index=index)
        # The thanks are not interruptible: what the caller adds is still kept, but the
        # dialogue is over.
        state = play(state, out, [node.step_prompts["done"]], interruptible=False)
        return state if state.prompts else goto(state, node.next, "done")
    step = node.ask[index]
    state = _set(state, index=index, step=step, heard_in_step=False, candidate="",
                 candidate_source=None)
    state = replace(state, attempts=0, digits="")
    if step == "phone":
        out.append(CollectDigits(state.node_id, node.phone_min_digits, node.phone_max_digits, "#"))
    if quiet:
        return replace(state, phase="wait")
    return play(state, out, [_step_prompt(state, step)])


def _step_prompt(state: CallState, step: str) -> str:
    prompts = _node(state).step_prompts
    if step == "problem" and state.kept:
        return prompts["problem_continue"]  # the caller already began at the menu
    return prompts[step]


def _next_step(state: CallState, out: Out) -> CallState:
    state = stop(state, out)
    return _start_step(state, out, _progress(state).index + 1)


def prompts_done(state: CallState, out: Out) -> CallState:
    node, p = _node(state), _progress(state)
    if p.step == "done":
        return goto(state, node.next, "done")
    if p.step == "problem" and p.heard_in_step:
        return start_timer(state, out, node.end_of_turn_s)
    if p.step == "phone" and state.digits:
        return start_timer(state, out, node.inter_digit_timeout_s)
    return start_timer(state, out, node.timeout_s)


def on_timeout(state: CallState, out: Out) -> CallState:
    p = _progress(state)
    if p.step == "done":
        return goto(state, _node(state).next, "done")
    if p.step == "problem" and p.heard_in_step:
        return _next_step(state, out)
    if p.step == "phone" and state.digits:
        return _phone_entered(state, out)
    state, exhausted = fail(state, out, "timeout")
    if p.step == "confirm":
        if exhausted:
            return _next_step(_set(state, unconfirmed_phone=p.candidate), out)
        return _read_back(state, out, p.candidate, p.candidate_source or "keypad")
    if exhausted:
        return _next_step(state, out)  # skip the question: never hang up on silence
    node = _node(state)
    again = [node.timeout_prompt] if node.timeout_prompt else []
    return play(state, out, [*again, _step_prompt(state, p.step)])


def on_dtmf(state: CallState, out: Out, event: Dtmf) -> CallState:
    p = _progress(state)
    if p.step == "done":
        return state
    state = stop(state, out)
    if p.step == "phone":
        return _phone_key(state, out, event.digit)
    if p.step == "confirm":
        if event.digit == "1":
            return _confirm(state, out)
        if event.digit == "2":
            return _reenter(state, out)
        return _invalid_confirm(state, out)
    if event.digit == "#":  # problem/name/address: "#" means "done" or "skip"
        return _next_step(state, out)
    return _resume(state, out)


def on_utterance(state: CallState, out: Out, event: Utterance) -> CallState:
    p = _progress(state)
    if p.step == "done":
        return keep(state, out, "problem", event)  # an afterthought is still the appeal
    if not event.text.strip():
        return on_timeout(state, out) if state.phase == "wait" else state
    state = stop(state, out)
    if p.step == "confirm":
        answer = is_yes(event.text)
        if answer is True:
            return _confirm(state, out)
        if answer is False:
            return _reenter(state, out)
        state = keep(state, out, "phone", event)
        return _spoken_number(state, out, event) or _invalid_confirm(state, out)
    state = keep(state, out, p.step, event)
    if p.step == "problem":
        state = _set(state, heard_in_step=True)
        return start_timer(state, out, _node(state).end_of_turn_s)
    if p.step == "phone":
        if means_own_number(event.text):
            return _use_caller_id(state, out)
        return _spoken_number(state, out, event) or _invalid_phone(state, out)
    return _next_step(state, out)  # name, address: one answer is enough


def _resume(state: CallState, out: Out) -> CallState:
    """Keep waiting after an input that changes nothing (a stray key)."""
    return start_timer(state, out, _node(state).timeout_s) if not state.prompts else state


# ---------------------------------------------------------------------------- phone


def _phone_key(state: CallState, out: Out, digit: str) -> CallState:
    node = _node(state)
    if digit == "#":
        return _phone_entered(state, out)
    if digit == "*":  # start over
        return start_timer(replace(state, digits=""), out, node.timeout_s)
    state = replace(state, digits=state.digits + digit)
    if len(state.digits) > node.phone_max_digits:
        return _invalid_phone(state, out)
    return start_timer(state, out, node.inter_digit_timeout_s)


def _phone_entered(state: CallState, out: Out) -> CallState:
    node, digits = _node(state), state.digits
    if not digits:
        return _use_caller_id(state, out)
    if not node.phone_min_digits <= len(digits) <= node.phone_max_digits:
        return _invalid_phone(state, out)
    return _read_back(state, out, digits, "keypad")


def _use_caller_id(state: CallState, out: Out) -> CallState:
    number = state.caller_number
    if number and number.isdigit():
        # The caller pressed "#" for "this phone": that is a keypad confirmation already.
        state = _set(state, keypad_phone=number, phone_source="caller_id")
        return _next_step(state, out)
    state, exhausted = fail(state, out, "invalid")
    if exhausted:
        return _next_step(state, out)
    state = replace(state, digits="")
    return play(state, out, [_node(state).step_prompts["phone_no_caller_id"]])


def _invalid_phone(state: CallState, out: Out) -> CallState:
    state, exhausted = fail(state, out, "invalid")
    state = replace(state, digits="")
    if exhausted:
        return _next_step(state, out)
    return play(state, out, [_node(state).step_prompts["phone_invalid"]])


def _spoken_number(state: CallState, out: Out, event: Utterance) -> CallState | None:
    node = _node(state)
    digits = spoken_digits(event.text)
    if node.phone_min_digits <= len(digits) <= node.phone_max_digits:
        return _read_back(state, out, digits, "speech")
    return None


def _read_back(state: CallState, out: Out, number: str, source: PhoneSource) -> CallState:
    prompts = _node(state).step_prompts
    state = _set(state, step="confirm", candidate=number, candidate_source=source)
    state = replace(state, digits="")
    return play(state, out, [prompts["phone_readback"], *(DIGIT_PROMPTS[d] for d in number),
                             prompts["phone_confirm"]])


def _confirm(state: CallState, out: Out) -> CallState:
    p = _progress(state)
    state = _set(state, keypad_phone=p.candidate, phone_source=p.candidate_source,
                 unconfirmed_phone=None)
    return _next_step(state, out)


def _reenter(state: CallState, out: Out) -> CallState:
    p = _progress(state)
    node = _node(state)
    if p.reentries >= node.retries:
        # Rejected again and again: move on; the drafter still has the caller ID and speech.
        return _next_step(_set(state, unconfirmed_phone=None), out)
    state = _set(state, step="phone", reentries=p.reentries + 1, candidate="",
                 candidate_source=None)
    state = replace(state, digits="")
    out.append(CollectDigits(state.node_id, node.phone_min_digits, node.phone_max_digits, "#"))
    return play(state, out, [node.step_prompts["phone"]])


def _invalid_confirm(state: CallState, out: Out) -> CallState:
    p = _progress(state)
    state, exhausted = fail(state, out, "invalid")
    if exhausted:
        return _next_step(_set(state, unconfirmed_phone=p.candidate), out)
    node = _node(state)
    state = play(state, out, [node.invalid_prompt] if node.invalid_prompt else [])
    return _read_back(state, out, p.candidate, p.candidate_source or "keypad")
