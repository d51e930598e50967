"""The drafter's public interface: keys, spans, deadline, overrides, determinism, speed."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from config.data import shipped
from config.settings import DraftingSettings
from workorders import DRAFT_KEYS, draft

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
D01 = (
    "你好 我 想 反映 一下 我们 小区 的 电梯 又 坏 了 物业 光 说 修 也 不 见 人 朝阳区 双井街道"
    " 九龙 花园 三 号楼 我 姓 黄 电话 幺三八 幺幺二二 三三四四"
)


def test_to_dict_has_exactly_the_design_keys() -> None:
    out = draft(D01, "13811223344", NOW).to_dict("D01")
    assert tuple(out) == DRAFT_KEYS
    assert out["id"] == "D01"
    assert set(out["confidence"]) == set(DRAFT_KEYS) - {"id", "confidence"}
    assert all(0.0 <= v <= 1.0 for v in out["confidence"].values())


def test_fields_of_a_full_call() -> None:
    out = draft(D01, "13811223344", NOW).to_dict("D01")
    assert out["surname"] == "黄"
    assert out["name"] is None
    assert out["phone"] == "13811223344"
    assert (out["district"], out["street"]) == ("朝阳区", "双井街道")
    assert out["address"] == "九龙花园三号楼"
    assert (out["category"], out["subcategory"]) == ("住房管理", "电梯")
    assert out["urgent"] is False
    assert "双井街道" in out["summary"] and "电梯" in out["summary"]
    assert out["dispatch_to"] == "朝阳区双井街道办事处、朝阳区住房和城乡建设委员会"


def test_evidence_spans_point_into_the_transcript() -> None:
    d = draft(D01, None, NOW)
    spans = d.evidence()
    for field in ("surname", "phone", "district", "street", "address", "category"):
        span = spans[field]
        assert span is not None, field
        assert 0 <= span[0] < span[1] <= len(D01)
    street = spans["street"]
    assert street is not None
    assert D01[street[0] : street[1]] == "双井街道"


def test_deadline_is_seven_days_or_two_hours_when_urgent() -> None:
    assert draft(D01, None, NOW).due_at.value == NOW + timedelta(days=7)
    urgent = draft("电梯困人了 老人关在电梯里出不来", None, NOW)
    assert urgent.urgent.value is True
    assert urgent.due_at.value == NOW + timedelta(hours=2)
    custom = DraftingSettings(due_days=3, urgent_due_hours=1)
    assert draft(D01, None, NOW, settings=custom).due_at.value == NOW + timedelta(days=3)
    assert draft("燃气泄漏了", None, NOW, settings=custom).due_at.value == NOW + timedelta(hours=1)


def test_keypad_number_wins_over_what_was_heard() -> None:
    d = draft(D01, "13811223344", NOW, keypad_phone="15011112222")
    assert d.phone.value == "15011112222"


def test_empty_call_gives_nulls_not_guesses() -> None:
    out = draft("喂 你好 我 我 想 问 一下 那个 那个 算了 没事", "15577778888", NOW).to_dict("D15")
    assert out["phone"] == "15577778888"
    for field in ("name", "surname", "district", "street", "address", "category"):
        assert out[field] is None, field


def test_deterministic() -> None:
    assert draft(D01, "1", NOW).to_dict("x") == draft(D01, "1", NOW).to_dict("x")


def test_overridden_data_files_are_used(tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.toml"
    shutil.copy(shipped("taxonomy.toml"), taxonomy)
    # An admin adds a keyword: no code change.
    taxonomy.write_text(
        taxonomy.read_text(encoding="utf-8")
        + '\n[categories."其他"."宠物"]\nkeywords = ["猫咪"]\nstrong = ["猫咪"]\n',
        encoding="utf-8",
    )
    dispatch = tmp_path / "dispatch.json"
    dispatch.write_text(
        '{"categories": {"其他": "农业农村局"}, "subcategories": {}}', encoding="utf-8"
    )
    settings = DraftingSettings(taxonomy_file=taxonomy, dispatch_file=dispatch)
    d = draft("朝阳区双井街道 我家猫咪跑丢了", None, NOW, settings=settings)
    assert (d.category.value, d.subcategory.value) == ("其他", "宠物")
    assert d.dispatch_to.value == "朝阳区双井街道办事处、朝阳区农业农村局"
    assert draft("我家猫咪跑丢了", None, NOW).subcategory.value != "宠物"


def test_caller_id_that_is_not_a_number_gives_no_phone() -> None:
    # The SIP user part %3Csvg%2Fonload%3Dalert(3)%3E once became the phone "32333".
    for caller in ("%3Csvg%2Fonload%3Dalert(3)%3E", "<svg/onload=alert(3)>", "anonymous"):
        out = draft("楼下太吵了 我 姓 黄", caller, NOW).to_dict("X")
        assert out["phone"] is None
    assert draft("楼下太吵了", "+86 138 1122 3344", NOW).phone.value == "13811223344"


def test_a_name_run_on_into_the_district_heard_by_sound_ends_there() -> None:
    # D19: 我叫刘洋 丰台区 heard as 我叫刘洋锋台汽炉勾桥街道.
    text = "去哪儿办我叫刘洋锋台汽炉勾桥街道小景村电话幺五八幺二二七三三零九"
    out = draft(text, None, NOW)
    assert out.district.value == "丰台区"
    assert out.name.value == "刘洋"
    assert out.name.span is not None and text[out.name.span[1]] == "锋"
