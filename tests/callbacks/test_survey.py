"""The shipped 回访 survey: a menu of its own, validated and simulated like the others,
and its answers read as fields (keys and the spoken 满意/不满意/解决了/没解决)."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr import validate
from ivr.simulator import is_keypad
from voice_gateway.callbacks.survey import (
    SurveyAnswers,
    answers_from_choices,
    heard_by_sound,
    load_survey_menu,
    needs_rework,
)
from voice_gateway.calls import machine as m
from voice_gateway.calls.simulate import _ScriptedCaller

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def answers(inputs: list[str]) -> SurveyAnswers:
    caller = _ScriptedCaller(load_survey_menu(), "13800138000", True)
    caller.run(DAY, deque(inputs))
    return answers_from_choices(caller.machine.menu_choices)


def test_the_shipped_survey_validates() -> None:
    menu = load_survey_menu()
    assert validate(menu) == []
    assert menu.id == "survey-12345"


@pytest.mark.parametrize(("inputs", "expected"), [
    (["1", "1"], SurveyAnswers(True, "satisfied")),
    (["1", "2"], SurveyAnswers(True, "basic")),
    (["2", "3"], SurveyAnswers(False, "dissatisfied")),
    (["解决了", "满意"], SurveyAnswers(True, "satisfied")),
    (["没解决", "不满意"], SurveyAnswers(False, "dissatisfied")),
    (["已经解决了", "基本满意吧"], SurveyAnswers(True, "basic")),
    (["", "", "", "1"], SurveyAnswers(None, "satisfied")),  # no answer to the first
    (["别再打了"], SurveyAnswers(None, None, do_not_call=True)),
    (["1", "不要再打电话了"], SurveyAnswers(True, None, do_not_call=True)),
    (["<hangup>"], SurveyAnswers(None, None)),
])  # fmt: skip
def test_answers_by_key_and_by_speech(inputs: list[str], expected: SurveyAnswers) -> None:
    assert answers(inputs) == expected


@pytest.mark.parametrize(("given", "rework"), [
    (SurveyAnswers(True, "satisfied"), False),
    (SurveyAnswers(True, "basic"), False),
    (SurveyAnswers(False, "satisfied"), True),
    (SurveyAnswers(True, "dissatisfied"), True),
    (SurveyAnswers(None, None), False),
])  # fmt: skip
def test_unresolved_or_dissatisfied_means_rework(given: SurveyAnswers, rework: bool) -> None:
    assert needs_rework(given) is rework


def test_vosk_grammar_of_the_questions_holds_the_spoken_answers() -> None:
    from ivr import grammar_for

    menu = load_survey_menu()
    assert {"解决了", "没解决"} <= set(grammar_for(menu.nodes["resolved"]))
    assert {"满意", "基本满意", "不满意"} <= set(grammar_for(menu.nodes["satisfaction"]))


class _HeardCaller(_ScriptedCaller):
    """The scripted caller, but what it says reaches the machine as the recognizer's
    final transcripts (what Whisper wrote), through the survey's call plan."""

    def __init__(self) -> None:
        super().__init__(load_survey_menu(), "13800138000", True)
        self.machine = m.CallMachine(m.CallPlan("13800138000", load_survey_menu(),
                                                heard_as=heard_by_sound))  # fmt: skip

    def give(self, text: str) -> None:
        if is_keypad(text) or text in ("", "<hangup>"):
            super().give(text)
            return
        self.clock += 1.0
        self.post(m.TranscriptFinal(self.clock - 1.0, self.clock, text, 0.8, at=self.clock))


# What Whisper base wrote for espeak-ng's cmn-latn-pinyin voice saying the answer.
@pytest.mark.parametrize(("heard", "expected"), [
    (["别太大了"], SurveyAnswers(None, None, do_not_call=True)),  # 别再打了
    (["不要太大了"], SurveyAnswers(None, None, do_not_call=True)),  # 不要再打了
    (["1", "補蠻衣"], SurveyAnswers(True, "dissatisfied")),  # 不满意 (pinyin level)
    (["1", "不满意"], SurveyAnswers(True, "dissatisfied")),
])  # fmt: skip
def test_whisper_confusions_are_heard_by_sound(heard: list[str],
                                               expected: SurveyAnswers) -> None:  # fmt: skip
    caller = _HeardCaller()
    caller.run(DAY, deque(heard))
    assert answers_from_choices(caller.machine.menu_choices) == expected


def test_heard_by_sound_offers_the_closest_keyword_only_when_near() -> None:
    menu = load_survey_menu()
    assert heard_by_sound(menu.nodes["resolved"], "别太大了") == ("别再打",)
    assert heard_by_sound(menu.nodes["resolved"], "以下是普通话的句子") == ()
    assert heard_by_sound(menu.nodes["satisfaction"], "我嘛你") == ()  # 我满意: too far
    assert heard_by_sound(menu.nodes["intro"], "别太大了") == ()  # not a question
