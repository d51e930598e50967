"""Fields read from the recognizer's other hypotheses (n-best, issue #15 item 2)."""

from __future__ import annotations

from datetime import datetime

from workorders import draft, utterance_alternatives
from workorders.nbest import UtteranceAlternatives, align

NOW = datetime(2024, 5, 1, 9, 0)


def test_utterances_are_located_in_the_transcript() -> None:
    transcript = "你好路灯坏了电话一三八"
    found = utterance_alternatives(transcript, [
        ("你好", []), ("路灯坏了", ["路灯坏了", "陆灯坏了"]), ("电话一三八", ["电话幺三八"])])
    assert found == (UtteranceAlternatives(0, 2, ()),
                     UtteranceAlternatives(2, 6, ("陆灯坏了",)),
                     UtteranceAlternatives(6, 11, ("电话幺三八",)))


def test_a_street_only_an_alternative_holds_wins_and_points_into_the_shown_text() -> None:
    first = "路灯坏了我住在八七六五四"
    transcript = "你好" + first
    alts = utterance_alternatives(transcript, [("你好", []), (first, ["路灯坏了我住在北新桥街道"])])
    assert draft(transcript, None, NOW).street.value is None
    got = draft(transcript, None, NOW, alternatives=alts)
    assert got.street.value == "北新桥街道"
    assert got.district.value == "东城区"
    # The evidence is where the alternative's words were heard in the shown text.
    assert got.street.span is not None
    assert transcript[got.street.span[0]:got.street.span[1]] == "八七六五四"
    assert 0 < got.street.confidence < 0.95  # an alternative is believed less than the first


def test_a_span_that_cannot_be_mapped_points_at_the_utterance_with_less_confidence() -> None:
    transcript = "门口路灯坏了"
    alts = utterance_alternatives(transcript, [(transcript, ["中关村街道门口路灯坏了"])])
    got = draft(transcript, None, NOW, alternatives=alts)
    assert got.street.value == "中关村街道"
    assert got.street.span == (0, len(transcript))
    mapped = draft("你好" + "八七六五四", None, NOW, alternatives=utterance_alternatives(
        "你好八七六五四", [("你好", []), ("八七六五四", ["中关村街道"])]))
    assert mapped.street.value == "中关村街道"
    assert got.street.confidence < mapped.street.confidence


def test_a_strong_first_reading_is_kept() -> None:
    transcript = "我住在海淀区中关村街道路灯坏了"
    alts = utterance_alternatives(transcript, [(transcript, ["我住在朝阳区双井街道路灯坏了"])])
    got = draft(transcript, None, NOW, alternatives=alts)
    assert (got.district.value, got.street.value) == ("海淀区", "中关村街道")
    assert got.to_dict() == draft(transcript, None, NOW).to_dict()


def test_a_category_written_only_in_an_alternative_wins() -> None:
    transcript = "你好我想说一下那个事情"
    alts = utterance_alternatives(transcript, [(transcript, ["你好我想说一下拖欠工资"])])
    assert draft(transcript, None, NOW).category.value is None
    got = draft(transcript, None, NOW, alternatives=alts)
    assert (got.category.value, got.subcategory.value) == ("劳动社保", "拖欠工资")
    assert got.category.span is not None
    # The strongest phrase, 拖欠工资, was heard as 那个事情.
    assert transcript[got.category.span[0]:got.category.span[1]] == "那个事情"
    assert got.summary.value  # the summary is cut from the shown text, with its span


def test_alignment_maps_substitutions_one_for_one() -> None:
    assert align("海淀区", "海电七") == [0, 1, 2, 3]
    assert align("北新桥街道", "八七六五四") == [0, 1, 2, 3, 4, 5]
    table = align("中关村街道门口", "门口")
    assert table[0] == table[5] == 0 and table[7] == 2


def test_an_utterance_end_ends_a_name_and_a_surname_may_come_from_an_alternative() -> None:
    said = [("去哪儿办帮我叫刘养", ["去哪儿办帮我叫刘洋"]), ("风排区路沟桥街道", [])]
    transcript = "".join(t for t, _ in said)
    alts = utterance_alternatives(transcript, said)
    assert draft(transcript, None, NOW).name.value is None  # 刘养风: no name ends there
    got = draft(transcript, None, NOW, alternatives=alts)
    assert got.name.value == "刘洋"  # 养 is not a name's: the alternative's 洋 is
    assert got.name.span is not None and got.name.span[1] == len(said[0][0])
    transcript = "建议我叫玛丽间就用这个号"
    alts = utterance_alternatives(transcript, [(transcript, ["建议我叫马利坚就用这个号"])])
    assert draft(transcript, None, NOW).surname.value is None
    assert draft(transcript, None, NOW, alternatives=alts).surname.value == "马"
