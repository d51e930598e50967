"""The learning loop's drafter side: correction pairs from an edit, approved aliases in
the gazetteer, the taxonomy and the surnames (issue 15 item 6)."""

from __future__ import annotations

from datetime import UTC, datetime

from workorders import draft
from workorders.learned import (
    Alias,
    CorrectionPair,
    LearnedAliases,
    correction_pairs,
    proposal_id,
)

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
# Heard wrong in ways the sound matching does not reach (made up for these tests).
MISHEARD = "我住在梅头沟 小区 停电 了 我性吧 电话 幺三八 幺幺二二 三三四四"


def test_an_edit_makes_pairs_of_the_evidence_text_and_the_new_value() -> None:
    transcript = "我住在 朝阳七 双景街等 物也不管 我行为"
    evidence = {"district": [4, 7], "street": [8, 12], "surname": None, "phone": None}
    before = {"district": "昌平区", "street": None, "surname": None, "phone": "1"}
    after = {"district": "朝阳区", "street": "双井街道", "surname": "韦", "phone": "2"}
    pairs = correction_pairs(transcript, evidence, before, after)
    assert pairs == [
        CorrectionPair("district", "朝阳七", "朝阳区", "昌平区"),
        CorrectionPair("street", "双景街等", "双井街道", None),
        CorrectionPair("surname", None, "韦", None),  # no span: nothing heard to learn
    ]  # the phone is personal data: never a pair


def test_a_place_the_drafter_missed_is_located_by_sound() -> None:
    # No evidence span (the drafter found no district): the stretch that sounds like the
    # place the agent typed is what was heard.
    transcript = "我住在 梅头沟 小区 停电 了"
    pairs = correction_pairs(transcript, {"district": None, "street": None},
                             {"district": None, "street": None},
                             {"district": "门头沟区", "street": "大峪街道"})
    assert pairs == [CorrectionPair("district", "梅头沟", "门头沟区", None),
                     CorrectionPair("street", None, "大峪街道", None)]  # nothing like it


def test_a_class_corrected_is_paired_with_a_phrase_of_that_class_heard() -> None:
    # The evidence of a wrong category (路灯) stands for that category, not for the one the
    # agent chose: the heard text is what sounds like one of its phrases (物也: 物业).
    transcript = "路灯 坏了 物也 不 修 什么时候 能修"
    pairs = correction_pairs(
        transcript, {"category": [0, 2], "subcategory": [0, 2], "appeal_type": [13, 17]},
        {"category": "城市管理", "subcategory": "市政设施", "appeal_type": "咨询"},
        {"category": "住房管理", "subcategory": "物业服务", "appeal_type": "建议"})
    assert pairs == [CorrectionPair("category", "物也", "住房管理", "城市管理"),
                     CorrectionPair("subcategory", "物也", "物业服务", "市政设施"),
                     # nothing sounds like 建议's phrases: no phrase to learn (not 什么时候)
                     CorrectionPair("appeal_type", None, "建议", "咨询")]


def test_clearing_a_field_or_a_long_span_teaches_nothing() -> None:
    transcript = "这是一段很长很长很长很长很长很长很长的话"
    pairs = correction_pairs(transcript, {"category": [0, len(transcript)], "district": [0, 2]},
                             {"category": "其他", "district": "朝阳区"},
                             {"category": "城市管理", "district": None})
    assert pairs == [CorrectionPair("category", None, "城市管理", "其他")]


def test_approved_aliases_fill_fields_the_drafter_missed() -> None:
    before = draft(MISHEARD, None, NOW)
    assert before.district.value is None and before.surname.value is None
    learned = LearnedAliases((Alias("district", "梅头沟", "门头沟区"),
                              Alias("surname", "我性吧", "巴")))
    after = draft(MISHEARD, None, NOW, learned=learned)
    assert after.district.value == "门头沟区"
    assert after.surname.value == "巴"
    # Evidence spans still point into the transcript shown to the agent.
    assert after.district.span is not None
    assert MISHEARD[slice(*after.district.span)] == "梅头沟"
    assert after.surname.span is not None
    assert MISHEARD[slice(*after.surname.span)] == "我性吧"
    # Without aliases the drafter is as before: nothing is cached across alias sets.
    assert draft(MISHEARD, None, NOW).district.value is None


def test_street_alias_with_a_suffix_heard_by_sound() -> None:
    text = "家住丰台区 鲁国嫖界到 路灯坏了"
    assert draft(text, None, NOW).street.value != "卢沟桥街道"
    learned = LearnedAliases((Alias("street", "鲁国嫖界到", "卢沟桥街道"),))
    got = draft(text, None, NOW, learned=learned)
    assert got.street.value == "卢沟桥街道"
    assert got.district.value == "丰台区"


def test_phrase_aliases_for_category_and_appeal_type() -> None:
    text = "我们楼里的无言天天不修 我要啊报 电话 幺三八 幺幺二二 三三四四"
    plain = draft(text, None, NOW)
    learned = LearnedAliases((Alias("subcategory", "无言", "物业服务"),
                              Alias("appeal_type", "啊报", "举报")))
    got = draft(text, None, NOW, learned=learned)
    assert (plain.subcategory.value, plain.appeal_type.value) != ("物业服务", "举报")
    assert got.subcategory.value == "物业服务"
    assert got.category.value == "住房管理"
    assert got.appeal_type.value == "举报"


def test_an_alias_to_an_unknown_place_is_ignored() -> None:
    learned = LearnedAliases((Alias("district", "梅头沟", "火星区"),))
    assert draft(MISHEARD, None, NOW, learned=learned).district.value is None


def test_proposal_ids_are_stable() -> None:
    assert proposal_id("district", "梅头沟", "门头沟区") == proposal_id("district", "梅头沟",
                                                                  "门头沟区")
    assert Alias("district", "梅头沟", "门头沟区").id != Alias("district", "梅头", "门头沟区").id


def test_an_answer_decoded_for_its_question_reads_with_the_aliases_too() -> None:
    from workorders.questions import Answer, draft_with_answers

    transcript = "我住在 美国 小区 停电 了"
    learned = LearnedAliases((Alias("district", "梅头沟", "门头沟区"),))
    free = draft(transcript, None, NOW, learned=learned)
    assert free.district.value is None
    got = draft_with_answers(free, transcript, [Answer("address", "美国", "梅头沟")], None, NOW,
                             learned=learned)
    assert got.district.value == "门头沟区"
    assert got.district.span is not None
    assert transcript[slice(*got.district.span)] == "美国"  # the answer as the agent sees it


def test_values_an_alias_can_take_effect_with() -> None:
    from workorders.knowledge import knowledge
    from workorders.learned import known_value

    data = knowledge()
    assert known_value("district", "门头沟区", data)
    assert not known_value("district", "门头沟", data)  # typed short: would do nothing
    assert known_value("street", "卢沟桥街道", data)
    assert known_value("subcategory", "物业服务", data)
    assert known_value("appeal_type", "举报", data)
    assert not known_value("category", "火星事务", data)
    assert known_value("surname", "欧阳", data)
