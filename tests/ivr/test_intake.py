"""The intake dialogue on the default menu, step by step: keyed phone, caller ID with "#",
read-back from digit prompts, 1 confirms, 2 re-enters, spoken fallback, hang-up mid-way."""

from __future__ import annotations

from ivr import default_menu, step
from ivr.events import (
    Action,
    CollectDigits,
    Dtmf,
    FieldsHeard,
    Hangup,
    InputFailed,
    PlayPrompt,
    PromptFinished,
    StartIntake,
    SubmitIntake,
    Timeout,
    Utterance,
)
from ivr.state import CallState

from .support import drive, of_type

MENU = default_menu()


def settle(state: CallState) -> tuple[CallState, list[Action]]:
    """Let every queued prompt finish."""
    log: list[Action] = []
    while state.prompts and not state.ended:
        state, actions = step(state, PromptFinished(state.prompts[0][0]))
        log.extend(actions)
    return state, log


def expire(state: CallState) -> tuple[CallState, list[Action]]:
    assert state.timer is not None
    return step(state, Timeout(state.timer))


def feed(state: CallState, *events: object) -> tuple[CallState, list[Action]]:
    log: list[Action] = []
    for event in events:
        state, actions = step(state, event)  # type: ignore[arg-type]
        log.extend(actions)
    return state, log


def at_phone(caller: str | None = "13800138000") -> CallState:
    """Problem told, name given, the phone question asked and heard to the end."""
    state, actions = drive(MENU, [Dtmf("2")], caller=caller)
    assert StartIntake("intake") in actions
    state, _ = settle(state)
    state, _ = step(state, Utterance("小区门口的路灯坏了一个月", 0.9))
    state, _ = expire(state)  # end of turn
    state, _ = settle(state)
    state, actions = step(state, Utterance("我姓王", 0.9))
    assert any(isinstance(a, CollectDigits) for a in actions)
    state, _ = settle(state)
    assert state.intake is not None and state.intake.step == "phone"
    return state


def prompts(actions: list[Action]) -> list[str]:
    return [a.prompt_id for a in actions if isinstance(a, PlayPrompt)]


def keys(state: CallState, digits: str) -> tuple[CallState, list[Action]]:
    return feed(state, *(Dtmf(d) for d in digits))


def test_phone_prompt_text_is_the_keyed_one() -> None:
    expected = "请输入您的联系电话，以井号键结束；使用本机号码请直接按井号键。"
    assert MENU.prompts["intake_phone"] == expected


def test_keyed_number_is_read_back_digit_by_digit() -> None:
    _, actions = keys(at_phone(), "13912345678#")
    assert prompts(actions) == [
        "intake_phone_readback", "digit_1", "digit_3", "digit_9", "digit_1", "digit_2",
        "digit_3", "digit_4", "digit_5", "digit_6", "digit_7", "digit_8", "intake_phone_confirm",
    ]


def test_one_confirms_and_becomes_keypad_phone() -> None:
    state, _ = keys(at_phone(), "13912345678#")
    state, _ = settle(state)
    state, actions = step(state, Dtmf("1"))
    assert prompts(actions) == ["intake_address"]
    state, _ = settle(state)
    state, actions = step(state, Utterance("朝阳区望京街道", 0.9))
    (submit,) = of_type(actions, SubmitIntake)
    f = submit.fields
    assert (f.keypad_phone, f.phone_source, f.complete) == ("13912345678", "keypad", True)
    assert f.menu_choices == ("投诉举报",)
    assert f.transcript == "小区门口的路灯坏了一个月，我姓王，朝阳区望京街道"
    assert [u.field for u in f.utterances] == ["problem", "name", "address"]


def test_two_re_enters_the_number() -> None:
    state, _ = keys(at_phone(), "13912345678#")
    state, _ = settle(state)
    state, actions = step(state, Dtmf("2"))
    assert prompts(actions) == ["intake_phone"]
    assert of_type(actions, CollectDigits)
    state, _ = settle(state)
    state, _ = keys(state, "01012345678#")
    state, _ = settle(state)
    state, _ = step(state, Dtmf("1"))
    assert state.intake is not None and state.intake.keypad_phone == "01012345678"


def test_hash_alone_uses_the_caller_id_without_read_back() -> None:
    state, actions = step(at_phone("13700137000"), Dtmf("#"))
    assert prompts(actions) == ["intake_address"]
    assert state.intake is not None
    assert (state.intake.keypad_phone, state.intake.phone_source) == ("13700137000", "caller_id")


def test_hash_alone_without_caller_id_asks_for_the_number() -> None:
    _, actions = step(at_phone(None), Dtmf("#"))
    assert prompts(actions) == ["intake_phone_no_caller_id"]
    assert InputFailed("intake", "invalid", 0.0) in actions


def test_star_starts_over() -> None:
    state, _ = keys(at_phone(), "139*13800138000#")
    assert state.intake is not None and state.intake.candidate == "13800138000"


def test_too_few_digits_are_refused() -> None:
    _, actions = keys(at_phone(), "12345#")
    assert prompts(actions) == ["intake_phone_invalid"]


def test_typing_stops_and_inter_digit_timeout_ends_the_number() -> None:
    state, _ = keys(at_phone(), "13912345678")
    state, actions = expire(state)
    assert prompts(actions)[0] == "intake_phone_readback"


def test_spoken_number_is_the_fallback_and_is_read_back() -> None:
    state, actions = step(at_phone(), Utterance("我的电话是幺三九 一二三四 五六七八", 0.8))
    assert prompts(actions)[:4] == ["intake_phone_readback", "digit_1", "digit_3", "digit_9"]
    state, _ = settle(state)
    state, _ = step(state, Utterance("对的", 0.9))
    assert state.intake is not None
    assert (state.intake.keypad_phone, state.intake.phone_source) == ("13912345678", "speech")


def test_spoken_own_number_means_caller_id() -> None:
    state, _ = step(at_phone("13700137000"), Utterance("就用这个号码吧", 0.8))
    assert state.intake is not None and state.intake.phone_source == "caller_id"


def test_silence_at_confirmation_keeps_the_number_unconfirmed() -> None:
    state, _ = keys(at_phone(), "13912345678#")
    for _ in range(3):
        state, _ = settle(state)
        state, _ = expire(state)
    assert state.intake is not None
    assert state.intake.step == "address"
    assert (state.intake.keypad_phone, state.intake.unconfirmed_phone) == (None, "13912345678")


def test_silence_at_the_phone_question_moves_on() -> None:
    state = at_phone()
    for _ in range(3):
        state, _ = expire(state)
        state, _ = settle(state)
    assert state.intake is not None and state.intake.step == "address"


def test_hangup_mid_intake_submits_what_was_said() -> None:
    _, actions = step(at_phone(), Hangup(at=50.0))
    (submit,) = of_type(actions, SubmitIntake)
    assert submit.fields.complete is False
    assert submit.fields.transcript == "小区门口的路灯坏了一个月，我姓王"
    assert submit.node_id == "intake"


def test_fields_heard_skips_the_name_question() -> None:
    state, _ = drive(MENU, [Dtmf("2")])
    state, _ = settle(state)
    state, _ = feed(state, FieldsHeard(frozenset({"name"})), Utterance("我叫李明，路灯坏了", 0.9))
    state, actions = expire(state)
    assert prompts(actions) == ["intake_phone"]


def test_speech_at_the_menu_starts_the_appeal() -> None:
    state, _ = drive(MENU, [PromptFinished("welcome"), PromptFinished("main_menu"),
                            Utterance("我家楼上天天装修特别吵", 0.9)])
    assert state.node_id == "intake"
    assert state.prompts[0][0] == "intake_problem_continue"
    assert [k.text for k in state.kept] == ["我家楼上天天装修特别吵"]


def test_speech_during_the_welcome_starts_the_appeal() -> None:
    state, _ = drive(MENU, [Utterance("你好我要反映一下噪音的问题", 0.9)])
    assert state.node_id == "intake"
    assert [k.node_id for k in state.kept] == ["main"]
