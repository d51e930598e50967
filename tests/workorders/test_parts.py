"""Surnames spelled by their parts (workorders/parts.py), as written and as Whisper hears them."""

from __future__ import annotations

import pytest

from workorders.names import find_name
from workorders.parts import COMPOSED, RADICALS, spelled_by_parts
from workorders.text import compact


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("单立人一个冬天的冬", "佟"),
        ("丹利言一个冬天的东", "佟"),  # 单立人 and 冬 heard by sound
        ("革字旁一个斤", "靳"),
        ("隔自旁一个精", "靳"),
        ("门里面一个勇敢的敢", "阚"),
        ("门里面一个勇敢的感", "阚"),  # the word's character, not the one heard after 的
        ("又字旁加个耳朵", "邓"),
        ("幼兹庞家个耳朵", "邓"),  # 加个 heard 家个
        ("宝盖头下面一个必须的必", "宓"),
        ("三点水一个工", "江"),
        ("两点水一个马", "冯"),
        ("亮点水一个马", "冯"),  # 两点水 heard by sound
        ("走之旁一个车", "连"),
        ("竹字头下面一个官", "管"),
        ("雨字头下面一个田", "雷"),
        ("走字旁一个肖", "赵"),
        # parts heard as homophones of the table's
        ("上面一个龙下面一个供", "龚"),
        ("上面一个不下面一个户", "卢"),
        # the rest first, then the radical added to it
        ("将加个草字头", "蒋"),
        ("将军的将上面加个草字头", "蒋"),
        # 门里头, 广字里面 and 字 heard 子 name a radical or a place too
        ("门里头一个勇敢的感", "阚"),
        ("广字里面一个龙", "庞"),
        ("西子头底下一个早", "覃"),
        ("上面一个飞底下一个一", "裴"),  # 非 over 衣, heard as homophones
        ("草字头底下一个办", "苏"),
        ("羊字底下一个女", "姜"),
        # the radical, then the surname itself, written as its exact homophone
        ("广自头的料", "廖"),
        ("门里头那个阎", "阎"),  # …but a surname heard as itself stays
    ],
)
def test_a_spelling_by_parts(text: str, surname: str) -> None:
    found = spelled_by_parts(text, 0, 3)
    assert found is not None and found[0] == surname


@pytest.mark.parametrize("text", ["我要投诉楼上漏水", "我家门口草地上", "三点水的那个",
                                  "门口再加个草坪"])
def test_no_spelling_by_parts_in_other_words(text: str) -> None:
    assert spelled_by_parts(text, 0, len(text)) is None


@pytest.mark.parametrize(
    ("text", "name", "surname"),
    [
        ("我姓童 单立人一个冬天的冬 电话幺三九", None, "佟"),
        ("我叫童振山 丹利人一个冬天的冬 电话幺三九", "佟振山", "佟"),
        ("我心喊 门里面一个勇敢的感 电话幺三九", None, "阚"),  # no cue heard as such
        # A surname-only character as written is what was heard: its spelling confirms it.
        ("我 姓 郜 告诉 的 告 右边 加 个 耳刀 电话 幺三八", None, "郜"),
        ("我 姓 褚 衣 字旁 一个 者 的 褚 电话 幺三八", None, "褚"),
        ("我是李女士我要投诉楼上漏水", None, "李"),
        # 蒋 heard 讲 (江 by sound), then spelled rest first: 将军的将 加个草字头
        ("我信讲 将军的将加个草字头 电话幺三八", None, "蒋"),
        # …and run on, the word misheard: the parts compose, the description names a part
        ("我信讲将今的将加个草字头我电话幺三八", None, "蒋"),
        # parts heard as homophones, and 户的那个 is no description of a part
        ("我信路上面一个不下面一个户的那个卢 我要举报", None, "卢"),
        ("他们太扰民了 性工 上面一个龙下面一个供 电话幺五零", None, "龚"),
        # the spelling starts at the word, not in the name before it
        ("我叫邱美玲丘陵的丘加个耳朵", "邱美玲", "邱"),
        # 姓 heard 细, the surname heard as its homophone, then named after its radical
        ("老楼12号楼我细料广自头的料", None, "廖"),
        ("我叫培育街上面一个飞底下一个一的陪我建议管一管", "裴玉洁", "裴"),
    ],
)
def test_a_spelling_by_parts_settles_the_surname(
        text: str, name: str | None, surname: str) -> None:
    got = find_name(compact(text))
    assert (got.name.value, got.surname.value) == (name, surname)


def test_every_part_of_the_table_has_a_spoken_radical() -> None:
    radicals = set(RADICALS.values())
    for (radical, rest), surname in COMPOSED.items():
        assert radical in radicals, (radical, surname)
        assert len(rest) == 1 and len(surname) == 1


def test_a_radical_with_an_arabic_digit_in_its_name() -> None:
    # Whisper writes 三点水 as 3点水 now and then.
    found = spelled_by_parts("3点水一个工", 0, 3)
    assert found is not None and found[0] == "江"
