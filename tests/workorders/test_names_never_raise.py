"""The drafter never raises on what a caller may say about their name: a transcript it
cannot read gives empty fields, never an exception that would leave a call undrafted.

Deterministic fuzz: introductions with compound and single surnames, given names, the
descriptions and spellings callers use, spaced or not, and what may follow."""

from __future__ import annotations

import random
from datetime import datetime

from workorders.drafter import draft
from workorders.names import COMPOUND_SURNAMES, answer_name

CUES = ("我叫", "我姓", "免贵姓", "我是", "叫我", "姓", "我的名字叫", "我信", "本人姓", "复姓")
DESCRIPTIONS = ("{a}洲的{a}", "{a}的{a}", "弓长张", "立早章", "耳东陈", "三点水一个工",
                "草字头下面一个田", "西字头底下一个早", "上面一个卉底下一个贝", "{a}字旁加个耳朵",
                "{a}", "的{a}", "不对是{a}", "不是{a}")
GIVEN = ("海燕", "明", "晓东", "", "秀英", "一", "欧", "阳", "马")
AFTER = ("电话幺三八零零一二三四五六", "", "手机", "谢谢", "住在朝阳区",
         "零零零六九八一零五三二七", "家里座机零零六七零二三一五八")
SURNAMES = (*COMPOUND_SURNAMES, *"王李张陈欧司马")


def test_no_introduction_makes_the_drafter_raise() -> None:
    rng = random.Random(7)
    for _ in range(500):
        surname = rng.choice(SURNAMES)
        text = "".join((rng.choice(("", "喂你好", "我们小区")), rng.choice(CUES), surname,
                        rng.choice(GIVEN), rng.choice((" ", "")),
                        rng.choice(DESCRIPTIONS).format(a=rng.choice(surname)),
                        rng.choice((" ", "")), rng.choice(AFTER)))
        if rng.random() < 0.3:
            text = " ".join(text)  # every character apart, as the ASR writes unknown words
        draft(text, "13900001111", datetime(2026, 1, 1))
        answer_name(text)


def test_a_compound_surname_described_after_the_full_name() -> None:
    # 欧阳海燕 欧洲的欧: raised TypeError (a description compared with both characters)
    found = answer_name("我叫欧阳海燕欧洲的欧 电话幺三八零零一二三四五六")
    assert found.surname.value == "欧阳"
