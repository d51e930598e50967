"""Table-driven runtime tests: (events that set the scene, one event) → exact actions."""

from __future__ import annotations

from typing import Any

import pytest

from ivr import new_call, step
from ivr.events import (
    CallStarted,
    CancelTimer,
    CollectDigits,
    DigitsCollected,
    Dtmf,
    Event,
    FieldsHeard,
    HangUp,
    Hangup,
    InputFailed,
    NodeEntered,
    NodeExited,
    PlayPrompt,
    PromptFinished,
    RecordUtterance,
    SpeechStarted,
    StartTimer,
    StopPrompt,
    SubmitIntake,
    Timeout,
    Transfer,
    TransferResult,
    Utterance,
)
from ivr.runtime import TRANSITIONS

from .support import NOW, PROMPTS, drive, of_type, small


def play(pid: str, interruptible: bool = True) -> PlayPrompt:
    return PlayPrompt(pid, interruptible, PROMPTS[pid])


BYE = [NodeEntered("bye", "hangup", 0.0), play("bye", False), NodeExited("bye", "end", None, 0.0),
       HangUp()]
WAITING: list[Event] = [PromptFinished("p_main")]  # main menu prompt played, timer main/1 running

ROWS: list[tuple[str, list[Any], Any, list[Any]]] = [
    ("call starts at the start node",
     [], None, [NodeEntered("main", "menu", 0.0), play("p_main")]),
    ("prompt finished starts the no-input timer",
     [], PromptFinished("p_main"), [StartTimer("main/1", 5.0)]),
    ("key chooses an option",
     WAITING, Dtmf("1"),
     [CancelTimer("main/1"), NodeExited("main", "key", "1", 0.0), *BYE]),
    ("key during the prompt stops it (barge-in)",
     [], Dtmf("1"), [StopPrompt(), NodeExited("main", "key", "1", 0.0), *BYE]),
    ("invalid key: invalid prompt, menu again",
     WAITING, Dtmf("9"),
     [CancelTimer("main/1"), InputFailed("main", "invalid", 0.0), play("bad"), play("p_main")]),
    ("silence: timeout prompt, menu again",
     WAITING, Timeout("main/1"),
     [InputFailed("main", "timeout", 0.0), play("quiet"), play("p_main")]),
    ("second silence: retries used up, failure branch",
     [*WAITING, Timeout("main/1"), PromptFinished("quiet"), PromptFinished("p_main")],
     Timeout("main/2"),
     [InputFailed("main", "timeout", 0.0), NodeExited("main", "timeout", None, 0.0), *BYE]),
    ("a stale timer is ignored",
     WAITING, Timeout("main/0"), []),
    ("a prompt that is not playing is ignored",
     [], PromptFinished("bye"), []),
    ("speech start stops the prompt and waits for the transcript",
     [], SpeechStarted(), [StopPrompt(), StartTimer("main/1", 25.0)]),
    ("spoken keyword chooses an option and is kept",
     [SpeechStarted()], Utterance("我想咨询一下", 0.9),
     [CancelTimer("main/1"), RecordUtterance("main", "menu", "我想咨询一下", 0.9),
      NodeExited("main", "speech", "1", 0.0), *BYE]),
    ("a spoken key chooses it",
     WAITING, Utterance("按三", 0.8),
     [CancelTimer("main/1"), RecordUtterance("main", "menu", "按三", 0.8),
      NodeExited("main", "speech", "3", 0.0), NodeEntered("code", "collect", 0.0),
      CollectDigits("code", 3, 4, "#"), play("p_code")]),
    ("transfer result while in a menu is not legal: ignored",
     WAITING, TransferResult(True), []),
    ("caller hangs up: drop-off logged",
     WAITING, Hangup(at=7.5), [CancelTimer("main/1"), NodeExited("main", "hangup", None, 7.5)]),
    ("fields heard changes state only",
     WAITING, FieldsHeard(frozenset({"name"})), []),
    ("a second CallStarted is ignored",
     WAITING, CallStarted(NOW), []),
]


@pytest.mark.parametrize(("scene", "event", "expected"),
                         [(r[1], r[2], r[3]) for r in ROWS], ids=[r[0] for r in ROWS])
def test_transition(scene: list[Any], event: Any, expected: list[Any]) -> None:
    menu = small()
    state, actions = drive(menu, scene)
    if event is not None:
        state, actions = step(state, event)
    # Submissions are checked on their own below: their fields are long.
    assert [a for a in actions if not isinstance(a, SubmitIntake)] == expected


def test_a_hangup_node_submits_only_what_was_said() -> None:
    _, actions = drive(small(), [Dtmf("1")])
    assert of_type(actions, SubmitIntake) == []
    _, actions = drive(small(), [Utterance("我想咨询一下", 0.9)])
    (submit,) = of_type(actions, SubmitIntake)
    assert submit.fields.transcript == "我想咨询一下"
    assert submit.fields.menu_choices == ("咨询",)


def test_ignored_event_leaves_state_identical() -> None:
    state, _ = drive(small(), WAITING)
    for event in (Timeout("nope"), TransferResult(False), PromptFinished("bye"),
                  CallStarted(NOW)):
        new, actions = step(state, event)
        assert new is state and actions == []


def test_events_before_start_and_after_end_are_ignored() -> None:
    fresh = new_call(small())
    assert step(fresh, Dtmf("1")) == (fresh, [])
    ended, _ = drive(small(), [Dtmf("1")])
    assert ended.ended
    assert step(ended, Dtmf("1")) == (ended, [])
    assert step(ended, Hangup()) == (ended, [])


def test_every_table_row_is_a_known_node_type() -> None:
    from ivr.model import NODE_TYPES

    assert {t for t, _ in TRANSITIONS} <= {*NODE_TYPES, "*"}


def test_unmatched_speech_goes_to_no_match_keeping_it() -> None:
    state, actions = drive(small(), [*WAITING, Utterance("楼道的灯坏了一个月", 0.9)])
    assert NodeExited("main", "no_match", None, 0.0) in actions
    assert [k.text for k in state.kept] == ["楼道的灯坏了一个月"]
    submit = of_type(actions, SubmitIntake)[0]
    assert submit.fields.transcript == "楼道的灯坏了一个月"


def test_unmatched_speech_without_no_match_is_invalid() -> None:
    menu = small(main={**_main(), "no_match": None})
    _, actions = drive(menu, [*WAITING, Utterance("随便说说", 0.9)])
    assert InputFailed("main", "invalid", 0.0) in actions


def test_low_confidence_keyword_is_unmatched_speech() -> None:
    menu = small(main={**_main(), "min_confidence": 0.5})
    _, actions = drive(menu, [*WAITING, Utterance("咨询", 0.2)])
    assert NodeExited("main", "no_match", None, 0.0) in actions


def test_empty_utterance_counts_as_no_input() -> None:
    _, actions = drive(small(), [*WAITING, SpeechStarted(), Utterance("", 0.0)])
    assert of_type(actions, InputFailed) == [InputFailed("main", "timeout", 0.0)]


def test_non_interruptible_prompt_ignores_keys_and_keeps_speech() -> None:
    menu = small(main={**_main(), "barge_in": False})
    state, actions = drive(menu, [SpeechStarted()])
    assert actions == []
    state, actions = step(state, Dtmf("1"))
    assert actions == []
    state, actions = step(state, Utterance("喂喂", 0.9))
    assert actions == [RecordUtterance("main", "menu", "喂喂", 0.9)]
    state, actions = step(state, PromptFinished("p_main"))
    assert actions == [StartTimer("main/1", 5.0)]


def test_play_node_passes_a_key_pressed_during_it_to_the_next_node() -> None:
    menu = small(start="hello", node_hello={"type": "play", "prompt": "hello", "next": "main"})
    _, actions = drive(menu, [Dtmf("3")])
    assert actions == [
        StopPrompt(), NodeExited("hello", "key", "3", 0.0), NodeEntered("main", "menu", 0.0),
        NodeExited("main", "key", "3", 0.0), NodeEntered("code", "collect", 0.0),
        CollectDigits("code", 3, 4, "#"), play("p_code"),
    ]


def test_play_node_finishes_then_moves_on() -> None:
    menu = small(start="hello", node_hello={"type": "play", "prompt": "hello", "next": "main"})
    _, actions = drive(menu, [PromptFinished("hello")])
    assert actions == [NodeExited("hello", "done", None, 0.0), NodeEntered("main", "menu", 0.0),
                       play("p_main")]


def test_play_node_with_a_legal_notice_keeps_it_even_with_type_ahead() -> None:
    menu = small(start="hello",
                 node_hello={"type": "play", "prompt": "hello", "next": "legal"},
                 node_legal={"type": "play", "prompt": "legal", "next": "main",
                             "barge_in": False})
    _, actions = drive(menu, [Dtmf("1")])
    assert actions[-1] == play("legal", False)


# ---------------------------------------------------------------------------- collect

def _main() -> dict[str, Any]:
    from .support import SMALL

    return dict(SMALL["nodes"]["main"])


CODE: list[Event] = [Dtmf("3"), PromptFinished("p_code")]


def test_collect_digits_with_terminator() -> None:
    state, log = drive(small(), [*CODE, Dtmf("1"), Dtmf("2"), Dtmf("5")])
    assert log == [CancelTimer("code/3"), StartTimer("code/4", 5.0)]
    state, actions = step(state, Dtmf("#"))
    assert actions[:3] == [CancelTimer("code/4"), DigitsCollected("code", "code", "125"),
                           NodeExited("code", "done", None, 0.0)]
    assert state.variables == (("code", "125"),)


def test_collect_stops_at_max_digits() -> None:
    _, actions = drive(small(), [*CODE, Dtmf("1"), Dtmf("2"), Dtmf("3"), Dtmf("4")])
    assert DigitsCollected("code", "code", "1234") in actions


def test_collect_inter_digit_timeout_takes_the_digits() -> None:
    _, actions = drive(small(), [*CODE, Dtmf("7"), Dtmf("7"), Dtmf("7"), Timeout("code/4")])
    assert DigitsCollected("code", "code", "777") in actions


def test_collect_too_short_is_invalid_and_retried() -> None:
    _, actions = drive(small(), [*CODE, Dtmf("1"), Dtmf("#")])
    assert actions[1:] == [InputFailed("code", "invalid", 0.0), play("bad"), play("p_code")]


def test_collect_spoken_digits() -> None:
    _, actions = drive(small(), [*CODE, Utterance("幺二三", 0.8)])
    assert DigitsCollected("code", "code", "123") in actions


# ---------------------------------------------------------------------------- transfer

XFER: list[Event] = [Dtmf("2"), PromptFinished("p_xfer")]


def test_transfer_after_its_prompt() -> None:
    _, actions = drive(small(), [Dtmf("2")])
    assert actions[-2:] == [NodeEntered("xfer", "transfer", 0.0), play("p_xfer")]
    _, actions = drive(small(), XFER)
    assert actions == [Transfer("xfer", "sip:agent@127.0.0.1", "refer"),
                       StartTimer("xfer/1", 30.0)]


def test_transfer_success_ends_the_call() -> None:
    state, actions = drive(small(), [*XFER, TransferResult(True, at=40.0)])
    assert actions == [CancelTimer("xfer/1"), NodeExited("xfer", "transferred", None, 40.0)]
    assert state.ended


@pytest.mark.parametrize("event", [TransferResult(False), Timeout("xfer/1")])
def test_transfer_failure_takes_next(event: Any) -> None:
    _, actions = drive(small(), [*XFER, event])
    assert NodeExited("xfer", "transfer_failed", None, 0.0) in actions
    assert actions[-1] == HangUp()


def test_keys_during_transfer_are_ignored() -> None:
    state, _ = drive(small(), XFER)
    assert step(state, Dtmf("5")) == (state, [])


def test_time_comes_only_from_events() -> None:
    _, actions = drive(small(), [PromptFinished("p_main", at=4.0), Dtmf("1", at=6.5)])
    assert actions[1] == NodeExited("main", "key", "1", 6.5)
