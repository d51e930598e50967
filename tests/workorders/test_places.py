"""District, street and address: gazetteer lookup, homophones, inference, addresses."""

from __future__ import annotations

import pytest

from workorders.knowledge import knowledge
from workorders.places import find_places
from workorders.text import compact


def places(text: str) -> tuple[str | None, str | None, str | None]:
    found = find_places(compact(text), knowledge().gazetteer)
    return found.district.value, found.street.value, found.address.value


# (transcript, district, street)
STREETS = [
    ("朝阳区 双井街道 九龙 花园", "朝阳区", "双井街道"),
    ("西城区广安门外街道我姓冯", "西城区", "广安门外街道"),
    ("海淀区 万寿路 街道 我 叫", "海淀区", "万寿路街道"),
    ("东城区 交道口 街道 南锣鼓巷", "东城区", "交道口街道"),
    ("通州区 中仓 街道 中仓 小区", "通州区", "中仓街道"),
    ("房山区 良乡镇 苏庄 三 里", "房山区", "良乡镇"),  # the township form as said
    ("房山区良乡地区", "房山区", "良乡地区"),
    ("朝阳区十八里店乡", "朝阳区", "十八里店乡"),
    ("朝阳区十八里店", "朝阳区", "十八里店地区"),
    ("延庆区 百泉 街道", "延庆区", "百泉街道"),
    ("怀柔区龙山街道", "怀柔区", "龙山街道"),
    ("平谷区大兴庄镇的村里", "平谷区", "大兴庄镇"),  # not 大兴区
    ("顺义区张镇的路灯", "顺义区", "张镇"),
    ("顺义区杨镇的自来水", "顺义区", "杨镇"),
    ("通州区于家务乡", "通州区", "于家务回族乡"),
    ("东城区朝阳门街道", "东城区", "朝阳门街道"),  # not 朝阳区
    ("海淀区海淀街道", "海淀区", "海淀街道"),
    ("丰台区卢沟桥街道", "丰台区", "卢沟桥街道"),
    ("房山区东风街道", "房山区", "东风街道"),
    ("朝阳区东风乡", "朝阳区", "东风乡"),
    ("密云区 鼓楼 街道 路边", "密云区", "鼓楼街道"),
    ("昌平区天通苑北街道", "昌平区", "天通苑北街道"),
    ("大兴区亦庄那边有个工厂", "大兴区", "亦庄地区"),
]

HOMOPHONES = [
    ("海淀区 清和 街道", "海淀区", "清河街道"),
    ("石景山区 鲁古 街道", "石景山区", "鲁谷街道"),
    ("朝阳区 潘家圆 街道 华威 西里", "朝阳区", "潘家园街道"),
    ("朝阳七 双井接到", "朝阳区", "双井街道"),  # Whisper: 区 → 七, 街道 → 接到
    ("海淀期学院路接到", "海淀区", "学院路街道"),
    ("丰台区芳庄街道", "丰台区", "方庄街道"),
    ("西城区德声街道", "西城区", "德胜街道"),
    ("石景山区鲁古那边", "石景山区", "鲁谷街道"),  # heard wrong, but right after its district
]

INFERRED = [
    ("我住在回龙观那边小区暖气不热", "昌平区", "回龙观街道"),
    ("双井街道九龙花园", "朝阳区", "双井街道"),
    ("良乡镇苏庄", "房山区", "良乡镇"),
    ("潘家园街道的垃圾", "朝阳区", "潘家园街道"),
    ("我在八里庄住", None, "八里庄街道"),  # in both 朝阳 and 海淀: the district stays empty
    ("海淀区八里庄街道", "海淀区", "八里庄街道"),
    ("朝阳区八里庄街道", "朝阳区", "八里庄街道"),
]

DISTRICT_ONLY = [
    ("我们在顺义 我姓孙", "顺义区", None),
    ("我住在西城", "西城区", None),
    ("通州这边", "通州区", None),
    ("我们在朝阳区东四环边上的小区", "朝阳区", None),  # 东四 is a 东城 street, not here
    ("崇文区", "东城区", None),
]

NOWHERE = [
    "我想咨询一下孩子打疫苗在哪里预约",
    "喂 你好 我 我 想 问 一下 那个 那个 算了 没事",
    "我家楼上天天漏水",
    "天桥底下有人摆摊",  # 天桥 alone is a word, not 西城's 天桥街道
    "这个事情很光明正大",
    "我们单位在新华书店旁边",
]


@pytest.mark.parametrize(("text", "district", "street"), STREETS + HOMOPHONES + INFERRED)
def test_street_and_district(text: str, district: str | None, street: str) -> None:
    assert places(text)[:2] == (district, street)


@pytest.mark.parametrize(("text", "district", "street"), DISTRICT_ONLY)
def test_district_only(text: str, district: str, street: None) -> None:
    assert places(text)[:2] == (district, street)


@pytest.mark.parametrize("text", NOWHERE)
def test_no_place(text: str) -> None:
    assert places(text)[:2] == (None, None)


ADDRESSES = [
    ("朝阳区 双井街道 九龙 花园 三 号楼 我 姓 黄", "九龙花园三号楼"),
    ("丰台区方庄街道芳群园一区楼下有个KTV", "芳群园一区"),
    ("通州区 中仓 街道 中仓 小区 我 姓 潘", "中仓小区"),
    ("东城区 交道口 街道 南锣鼓巷 北口 那 有 个 井盖", "南锣鼓巷北口"),
    ("朝阳区 潘家圆 街道 华威 西里 的 垃圾桶", "华威西里"),
    ("通州区宋庄镇小堡村有人焚烧垃圾", "小堡村"),
    ("西城区 月坛 街道 三里河 一区 的 井盖", "三里河一区"),
    ("朝阳区望京街道花家地我叫胡小兰", "花家地"),
    ("西城区广安门外街道我姓冯", None),
    ("海淀区学院路街道有个培训机构", None),
    ("延庆区百泉街道的社区工作人员", None),
    ("大兴区西红门一家店买了过期的奶粉", None),
    ("密云区鼓楼街道路边有根电线掉下来了", None),
]


@pytest.mark.parametrize(("text", "address"), ADDRESSES)
def test_address(text: str, address: str | None) -> None:
    assert places(text)[2] == address


def test_street_span_covers_what_was_heard() -> None:
    text = "朝阳区 潘家圆 街道"
    found = find_places(compact(text), knowledge().gazetteer)
    assert found.street.span is not None
    assert text[found.street.span[0] : found.street.span[1]] == "潘家圆 街道"
    assert found.street.confidence < 0.95  # heard with other characters


def test_confidence_is_higher_for_exact_names() -> None:
    exact = find_places(compact("朝阳区双井街道"), knowledge().gazetteer)
    heard = find_places(compact("朝阳七双进接到"), knowledge().gazetteer)
    assert exact.street.confidence > heard.street.confidence


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("潮洋汽攀家", "朝阳区"),
        ("海电7万顺路", "海淀区"),
        ("通周期中仓", "通州区"),
        ("风台区方中", "丰台区"),
    ],
)
def test_district_heard_as_homophones_with_a_suffix(text: str, district: str) -> None:
    assert places(text)[0] == district


@pytest.mark.parametrize("text", [
    "朝阳区双井街道九龙花园", "朝阳七双景街等", "石景山区鲁古街道重聚园小区", "海电区学院路街到",
    "房山七粮相见苏中三里", "通周期中昌街道中昌小气", "潮洋汽攀家沿街道还威西里",
    "我住怀柔去龙山街道",
    "延期起摆全街道的社区", "大兴区旧宫镇德茂家园", "张镇", "杨镇的", "",
])
def test_sound_index_finds_what_comparing_every_name_finds(text: str) -> None:
    from workorders.pinyin import sounds_alike

    gz = knowledge().gazetteer
    stems = {(s, "district") for d in gz.districts.values() for s in d.stems}
    stems |= {(f.stem, "unit") for u in gz.units for f in u.forms}
    expected = sorted(
        (start, stem, kind) for start in range(len(text)) for stem, kind in stems
        if start + len(stem) <= len(text) and sounds_alike(text[start:start + len(stem)], stem))
    assert sorted((m.start, m.stem, m.kind) for m in gz.mentions(text)) == expected


@pytest.mark.parametrize(
    ("text", "street"),
    [
        # A unit with two names of the kind heard: the short one, as callers say it.
        ("密云区檀营乡北坝村", "檀营乡"),
        ("密云区 檀营 地区", "檀营地区"),
        ("怀柔区雁栖镇", "雁栖镇"),
    ],
)
def test_the_name_reported_is_the_form_heard(text: str, street: str) -> None:
    places = find_places(compact(text), knowledge().gazetteer)
    assert places.street.value == street


def test_a_district_said_in_full_wins_over_a_bare_one_heard_earlier() -> None:
    # 耳东陈 heard as 尔东城 holds a bare 东城; the caller then says 西城区 in full.
    text = compact("我叫陈思远尔东城我是在西城区金融间那边上的车")
    assert find_places(text, knowledge().gazetteer).district.value == "西城区"


@pytest.mark.parametrize(
    "text",
    [
        # 斋堂镇 heard 沾汤镇: it only sounds like 天坛 (东城), which is not in 门头沟
        "门头沟区沾汤镇就是沾汤往西",
        # 拱辰街道 heard 鸡城街道: 首都机场 is nowhere near 房山
        "我们是房山区鸡城街道的电话",
    ],
)
def test_a_street_heard_only_by_sound_must_lie_in_the_district_named(text: str) -> None:
    district, street, _ = places(text)
    assert district is not None
    assert street is None or street in {
        f.full for u in knowledge().gazetteer.units if u.district == district for f in u.forms}


def test_a_three_syllable_stem_heard_as_homophones_is_a_town_without_a_district() -> None:
    # 溪翁庄镇 heard as 西翁装承 (镇 lost as 承) and 密云区 lost: the three syllables alone.
    from workorders.knowledge import knowledge
    from workorders.places import find_places
    from workorders.text import compact

    found = find_places(compact("我姓逃逃慈的逃命银漆西翁装承西翁中村救这个手机好"),
                        knowledge().gazetteer)
    assert (found.district.value, found.street.value) == ("密云区", "溪翁庄镇")
    assert (found.street.confidence or 0) <= 0.6
