"""每月一题 topic mining and 未诉先办 spike detection on small synthetic order sets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workorders.insight import OrderFact, key_phrases, ngrams, topic_candidates
from workorders.spikes import detect, index, place_label, poisson_tail

BEIJING = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)


def order(at: datetime, sub: str, street: str | None = "双井街道", text: str = "",
          district: str = "朝阳区", **kw: object) -> OrderFact:
    return OrderFact(id=f"o{next(_ids)}", created_at=at, district=district, street=street,
                     category="城乡建设", subcategory=sub, transcript=text,
                     summary=text[:20], **kw)  # type: ignore[arg-type]


NOV = datetime(2026, 11, 3, 9, tzinfo=UTC)
OCT = datetime(2026, 10, 6, 9, tzinfo=UTC)


def test_ngrams_skip_numbers_names_and_function_words() -> None:
    grams = ngrams("我姓黄 电话幺三八 小区停水三天了")
    assert "停水" in grams and "小区停水" in grams
    assert not any(c in g for g in grams for c in "姓幺三了")


def test_key_phrases_rank_the_groups_own_words_over_everyones() -> None:
    month = [ngrams(t) for t in ("小区停水三天了电话多少", "又停水了电话", "停水没人管电话",
                                 "路灯不亮电话", "垃圾没人清运电话")]
    df = __import__("collections").Counter(g for grams in month for g in grams)
    assert key_phrases(month[:3], df, len(month))[0] == "停水"
    assert "电话" not in key_phrases(month[:3], df, len(month))


def test_topics_split_a_group_by_phrase_and_rank_by_volume_repeats_and_dissatisfaction() -> None:
    month = [
        *(order(NOV + timedelta(hours=i), "供水", text="九龙花园小区停水了一整天")
          for i in range(4)),
        order(NOV, "供水", text="小区又停水了", repeat=True),
        order(NOV, "供水", text="停水好几次了", satisfaction="dissatisfied"),
        *(order(NOV + timedelta(days=i), "供水", text="水压太低楼上用不了水压低")
          for i in range(3)),
        *(order(NOV, "噪音", street="劲松街道", text="工地晚上施工噪音扰民") for _ in range(2)),
        order(NOV, "路灯", text="路灯坏了"),  # alone: not a candidate
    ]
    previous = [order(OCT, "供水", text="停水") for _ in range(2)]
    history = [order(OCT - timedelta(days=31), "供水", text="停水")]
    top = topic_candidates(month, previous, history)
    first = top[0]
    assert (first.subcategory, first.street, first.phrase) == ("供水", "双井街道", "停水")
    assert first.volume == 6 and first.repeat_calls == 1 and first.dissatisfied == 1
    assert first.previous == 2
    assert first.score == 6 + 2 * 1 + 3 * 1 + (6 - 2)
    assert [t["orders"] for t in first.trend] == [1, 2, 6]
    assert len(first.examples) == 3 and first.examples[0]["summary"]
    phrases = {(c.subcategory, c.phrase) for c in top}
    assert ("供水", "水压低") in phrases or ("供水", "水压") in phrases
    assert all(c.subcategory != "路灯" for c in top)
    assert {c.subcategory for c in top} == {"供水", "噪音"}


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828 ** -2)
    assert poisson_tail(5, 0.1) == pytest.approx(7.6e-8, rel=0.05)
    assert poisson_tail(500, 1.0) < 1e-300 or poisson_tail(500, 1.0) == 0.0


NOW = datetime(2026, 11, 18, 10, 30, tzinfo=UTC)  # a Wednesday, 18:30 in Beijing


def background(weeks: int = 4) -> list[OrderFact]:
    """Four a day of 噪音 on 劲松街道 (busy, steady) and one 供水 a week on 双井街道."""
    out = []
    for day in range(1, weeks * 7 + 1):
        t = NOW - timedelta(days=day)
        out += [order(t + timedelta(hours=h), "噪音", street="劲松街道") for h in (-6, -4, -2, 0)]
        if day % 7 == 3:
            out.append(order(t, "供水"))
    return out


def test_five_water_cuts_from_one_street_in_an_hour_raise_one_street_alert() -> None:
    planted = [order(NOW - timedelta(minutes=m), "供水") for m in (5, 15, 25, 40, 55)]
    spikes = detect(index([*background(), *planted]), NOW, BEIJING)
    assert [(s.window, s.level, s.place, s.subcategory, s.count) for s in spikes] == [
        ("hour", "street", "朝阳区/双井街道", "供水", 5)]
    assert set(spikes[0].order_ids) == {o.id for o in planted}
    assert spikes[0].p_value < 1e-6


def test_a_steady_busy_street_and_four_calls_raise_nothing() -> None:
    today = [order(NOW - timedelta(hours=h), "噪音", street="劲松街道") for h in (1, 3, 5, 7)]
    four = [order(NOW - timedelta(minutes=m), "供水") for m in (5, 15, 25, 40)]
    assert detect(index([*background(), *today, *four]), NOW, BEIJING) == []


def test_a_day_spike_against_the_same_weekday_history() -> None:
    # Thirteen 噪音 today (by 18:30) on 劲松街道, where the same weekday usually has four.
    today = [order(NOW - timedelta(minutes=40 * i + 70), "噪音", street="劲松街道")
             for i in range(13)]
    spikes = detect(index([*background(), *today]), NOW, BEIJING)
    assert [(s.window, s.level, s.subcategory, s.count) for s in spikes] == [
        ("day", "street", "噪音", 13)]
    # Three by 18:30 on past Wednesdays (the fourth comes at 18:30), a little more all days.
    assert 3.0 <= spikes[0].expected < 3.5


def test_an_alert_already_raised_is_not_raised_again_within_its_window() -> None:
    planted = [order(NOW - timedelta(minutes=m), "供水") for m in (5, 15, 25, 40, 55)]
    series = index([*background(), *planted])
    first = detect(series, NOW, BEIJING)
    raised = [(s.key, s.window, NOW) for s in first]
    later = NOW + timedelta(minutes=10)
    assert detect(series, later, BEIJING, suppress=raised) == []


def test_history_before_the_first_order_is_unknown_not_quiet() -> None:
    """A new deployment with ten days of a steady four a day: no week is a spike."""
    steady = [order(NOW - timedelta(days=d, hours=h), "噪音", street="劲松街道")
              for d in range(10) for h in (1, 3, 5, 7)]
    assert detect(index(steady), NOW, BEIJING) == []


def test_the_taxonomys_keywords_win_over_ngrams_straddling_words() -> None:
    month = [order(NOV, "供水", text="金台花园小区停水了") for _ in range(3)]
    month += [order(NOV, "噪音", street="劲松街道", text="工地噪音") for _ in range(2)]
    plain = topic_candidates(month, [])[0].phrase
    assert plain == "金台花园"  # of the 4-grams of identical texts, the first
    boosted = topic_candidates(month, [], keywords=frozenset({"停水", "噪音"}))
    assert boosted[0].phrase == "停水"


def test_five_water_cuts_from_one_estate_are_reported_at_the_estate() -> None:
    planted = [order(NOW - timedelta(minutes=m), "供水", address=a) for m, a in (
        (5, "九龙花园小区三号楼"), (15, "九龙花园5号楼"), (25, "九龙花园小区"),
        (40, "九龙花园小区二单元"), (55, "九龙花园十号楼"))]
    spikes = detect(index([*background(), *planted]), NOW, BEIJING)
    assert [(s.window, s.level, s.place, s.count) for s in spikes] == [
        ("hour", "community", "朝阳区/双井街道/九龙花园", 5)]
    assert place_label(spikes[0]) == "朝阳区双井街道九龙花园"
    # Raised once: neither the estate nor its street or district again within the day.
    raised = [(spikes[0].key, "hour", NOW)]
    assert detect(index([*background(), *planted]), NOW + timedelta(minutes=20), BEIJING,
                  suppress=raised) == []
