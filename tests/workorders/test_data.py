"""The shipped data files: complete, consistent, and loadable from overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.data import shipped
from workorders.gazetteer import split_suffix
from workorders.knowledge import DataError, knowledge, load_dispatch, load_taxonomy

DISTRICTS = [
    "东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
    "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
]  # fmt: skip
TOP_LEVEL = [
    "城市管理", "住房管理", "公用事业", "环境保护", "交通管理", "市场管理",
    "劳动社保", "教育培训", "卫生健康", "民政服务", "公共安全", "其他",
]  # fmt: skip
SECOND_LEVEL = ["物业服务", "房屋漏水", "噪声污染", "扬尘", "网络交易", "停车管理", "社会办学",
                "供暖", "供水", "燃气", "拖欠工资"]  # fmt: skip


def test_gazetteer_has_all_sixteen_districts() -> None:
    assert list(knowledge().gazetteer.districts) == DISTRICTS


def test_gazetteer_units_per_district() -> None:
    by_district = knowledge().gazetteer.units_by_district
    # Township-level units per district after the 2021 adjustments (343 in all).
    assert sum(len(u) for u in by_district.values()) == 343
    assert len(by_district["东城区"]) == 17
    assert len(by_district["西城区"]) == 15
    assert len(by_district["朝阳区"]) == 43
    assert len(by_district["海淀区"]) == 29
    for district, units in by_district.items():
        names = [u.name for u in units]
        assert len(names) == len(set(names)), district
        for unit in units:
            assert split_suffix(unit.name)[1] in ("街道", "地区", "镇", "乡"), unit.name


@pytest.mark.parametrize(
    ("district", "unit"),
    [("朝阳区", "双井街道"), ("西城区", "广安门外街道"), ("房山区", "良乡地区"),
     ("石景山区", "鲁谷街道"), ("海淀区", "清河街道"), ("昌平区", "回龙观街道"),
     ("延庆区", "百泉街道"), ("通州区", "于家务回族乡"), ("密云区", "檀营地区")],
)  # fmt: skip
def test_gazetteer_knows(district: str, unit: str) -> None:
    assert unit in [u.name for u in knowledge().gazetteer.units_by_district[district]]


def test_taxonomy_top_level_is_exactly_the_twelve() -> None:
    assert list(knowledge().taxonomy.categories) == TOP_LEVEL


def test_taxonomy_covers_the_named_subcategories() -> None:
    names = {s.name for s in knowledge().taxonomy.subcategories}
    assert set(SECOND_LEVEL) <= names


def test_taxonomy_has_the_six_appeal_types() -> None:
    names = {a.name for a in knowledge().taxonomy.appeals}
    assert names == {"咨询", "求助", "投诉", "举报", "建议", "表扬"}


def test_dispatch_maps_every_category() -> None:
    table = knowledge().dispatch
    assert set(table.categories) == set(TOP_LEVEL)
    subs = {s.name for s in knowledge().taxonomy.subcategories}
    assert set(table.subcategories) <= subs


def test_a_bad_taxonomy_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.toml"
    bad.write_text('[categories."城市管理"."x"]\nkeywords = "not a list"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"taxonomy\.toml"):
        load_taxonomy(bad)
    broken = tmp_path / "dispatch.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match=r"dispatch\.json"):
        load_dispatch(broken)


def test_a_subcategorys_usual_appeal_must_be_an_appeal_type(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.toml"
    bad.write_text('[categories."环境保护"."噪声污染"]\nkeywords = ["噪音"]\nappeal = "抱怨"\n'
                   '[appeal."投诉"]\ndeclared = ["投诉"]\n', encoding="utf-8")
    with pytest.raises(DataError, match="抱怨"):
        load_taxonomy(bad)
    bad.write_text(bad.read_text(encoding="utf-8").replace('"抱怨"', '"投诉"'), encoding="utf-8")
    assert load_taxonomy(bad).usual_appeal("噪声污染") == "投诉"


def test_praise_only_must_be_true_or_false(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.toml"
    bad.write_text('[categories."其他"."好人好事"]\nkeywords = ["好心人"]\npraise_only = "yes"\n',
                   encoding="utf-8")
    with pytest.raises(DataError, match="praise_only"):
        load_taxonomy(bad)


def test_shipped_files_exist() -> None:
    for name in ("beijing_gazetteer.json", "taxonomy.toml", "dispatch.json"):
        assert shipped(name).is_file()
    json.loads(shipped("beijing_gazetteer.json").read_text(encoding="utf-8"))


def test_description_words_hold_a_surname_and_their_reading() -> None:
    from workorders.names import DESCRIBED_ONLY, SURNAMES

    data = json.loads(shipped("description_words.json").read_text(encoding="utf-8"))
    assert data["source"] and data["licence"]
    words = data["words"]
    assert len(words) > 10_000
    for word in ("黎明", "祁连山", "芝麻", "生姜"):
        assert word in words
    for word, (count, reading) in words.items():
        assert 2 <= len(word) <= 3 and count > 0
        assert any(ch in SURNAMES or ch in DESCRIBED_ONLY for ch in word)
        assert len(reading.split()) == len(word)
