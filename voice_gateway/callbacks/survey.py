"""The survey a callback walks, and its answers read as fields of the work order.

A survey is an IVR menu like any other (shipped: ``config/data/menus/survey.json``): it
is validated, simulated and edited with the same tools. What the citizen chose is the
call's menu choices (option labels, in order); :func:`answers_from_choices` reads them as
``resolved`` (yes/no), ``satisfaction`` (satisfied / basic / dissatisfied) and a
do-not-call request. A menu edited by an admin keeps working as long as its options keep
these labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from config.data import shipped
from ivr import Menu, load_menu
from ivr.model import MenuNode, Node
from ivr.speech import normalise
from workorders.sound import find_by_sound, strict_budget

SURVEY_MENU = shipped("menus/survey.json")

RESOLVED_LABELS = {"已解决": True, "未解决": False}
SATISFACTION_LABELS = {"满意": "satisfied", "基本满意": "basic", "不满意": "dissatisfied"}
DO_NOT_CALL_LABEL = "拒绝回访"


@dataclass(frozen=True)
class SurveyAnswers:
    """What the citizen answered; ``None`` where they did not answer."""

    resolved: bool | None = None
    satisfaction: str | None = None  # satisfied | basic | dissatisfied
    do_not_call: bool = False

    @property
    def answered(self) -> bool:
        return self.resolved is not None or self.satisfaction is not None


def load_survey_menu(source: str | Path | None = None) -> Menu:
    """The survey menu (``None``: the shipped one). Raises ``ivr.errors.MenuFormatError``."""
    return load_menu(source or SURVEY_MENU)


def heard_by_sound(node: Node, text: str) -> tuple[str, ...]:
    """The keyword of ``node``'s options that ``text`` sounds most like, by the drafter's
    confusion-aware sound matching (:mod:`workorders.sound`): Whisper writes 别再打了 as
    别太大了. The call machine offers it to the menu as another reading, used only when
    the text itself (characters, pinyin) chooses no option. Two-character keywords must
    sound all but the same (:func:`~workorders.sound.strict_budget`)."""
    if not isinstance(node, MenuNode):
        return ()
    heard = normalise(text)
    best: tuple[int, float, str] | None = None
    for option in node.options:
        for keyword in option.keywords:
            word = normalise(keyword)
            if len(word) < 2:
                continue
            for hit in find_by_sound(heard, word, strict_budget(word)):
                score = (-len(word), hit.cost / len(word), keyword)  # 基本满意 over 满意
                if best is None or score < best:
                    best = score
    return () if best is None else (best[2],)


def answers_from_choices(choices: Iterable[str]) -> SurveyAnswers:
    """Read the menu choices of a survey call (the last answer to a question counts)."""
    resolved: bool | None = None
    satisfaction: str | None = None
    do_not_call = False
    for label in choices:
        if label in RESOLVED_LABELS:
            resolved = RESOLVED_LABELS[label]
        elif label in SATISFACTION_LABELS:
            satisfaction = SATISFACTION_LABELS[label]
        elif label == DO_NOT_CALL_LABEL:
            do_not_call = True
    return SurveyAnswers(resolved, satisfaction, do_not_call)


def needs_rework(answers: SurveyAnswers) -> bool:
    """Unresolved or dissatisfied: the order goes back to the agents as 重办."""
    return answers.resolved is False or answers.satisfaction == "dissatisfied"
