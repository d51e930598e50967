"""The shipped 回访 survey: a menu of its own, validated and simulated like the others,
and its answers read as fields (keys and the spoken 满意/不满意/解决了/没解决)."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr import validate
from voice_gateway.callbacks.survey import (
    SurveyAnswers,
    answers_from_choices,
    load_survey_menu,
    needs_rework,
)
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
