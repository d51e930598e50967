"""Surnames spelled by their parts: a radical named, then the rest of the character.

Callers spell a surname that has common homophones by its parts: 单立人一个冬天的冬 (佟),
革字旁一个斤 (靳), 门里面一个勇敢的敢 (阚), 又字旁加个耳朵 (邓), 宝盖头下面一个必须的必
(宓). Whisper writes the surname itself as a commoner homophone (童, 景, 韩), but the parts
often come through, or sound like what was said (丹利人 → 单立人, 隔自旁 → 革字旁).

:data:`COMPOSED` is written for this project from the standard ways the surnames are
spelled (no caller's words): (radical, rest) → surname. The radical is found by sound
among :data:`RADICALS`' names; the rest is the character that follows a few filler words
(一个, 加个, 下面), or the one a description ends with (冬天的冬 → 冬), exactly or, among
the rests the table has for that radical, by sound.
"""

from __future__ import annotations

import re
from functools import lru_cache

from workorders.sound import SoundIndex, char_cost

# Spoken names of radicals → the radical.
RADICALS: dict[str, str] = {
    "单立人": "亻", "单人旁": "亻", "立人旁": "亻", "单人": "亻",
    "三点水": "氵", "草字头": "艹", "草头": "艹", "宝盖头": "宀", "宝盖": "宀",
    "耳朵": "阝", "耳刀": "阝", "双耳": "阝", "耳朵旁": "阝", "耳刀旁": "阝",
    "门里": "门", "门字里": "门", "门字里面": "门", "门字里头": "门",
    "言字旁": "讠", "食字旁": "饣", "木字旁": "木", "金字旁": "钅", "女字旁": "女", "禾字旁": "禾",
    "门字框": "门", "门里面": "门", "门里头": "门", "革字旁": "革", "广字旁": "广", "广字头": "广",
    "广字里面": "广", "广字里头": "广",
    "示字旁": "礻", "衣字旁": "衤", "绞丝旁": "纟", "又字旁": "又", "双人旁": "彳", "提土旁": "土",
    "土字旁": "土", "王字旁": "王", "日字旁": "日", "口字旁": "口", "火字旁": "火",
    "竹字头": "竹", "雨字头": "雨", "山字头": "山", "月字旁": "月", "耳字旁": "耳",
    "两点水": "冫", "走之旁": "辶", "走之底": "辶", "走之儿": "辶", "走字旁": "走",
    "走字底": "走", "立刀旁": "刂", "立刀": "刂", "马字旁": "马", "足字旁": "足",
    "弓字旁": "弓", "反犬旁": "犭", "日字头": "日", "女字边": "女",
}  # fmt: skip

# (radical, rest) → surname. Both orders of a left-right pair are spelled (又字旁加个耳朵
# 邓 names 又 first, 耳朵 after it), so a pair may be listed from either side.
COMPOSED: dict[tuple[str, str], str] = {
    ("亻", "冬"): "佟", ("亻", "可"): "何", ("亻", "壬"): "任", ("亻", "寸"): "付",
    ("亻", "五"): "伍", ("亻", "中"): "仲", ("亻", "二"): "仁", ("亻", "兒"): "倪",
    ("亻", "儿"): "倪", ("饣", "尧"): "饶",
    ("氵", "工"): "江", ("氵", "王"): "汪", ("氵", "尤"): "沈", ("氵", "番"): "潘",
    ("氵", "共"): "洪", ("氵", "也"): "池", ("氵", "余"): "涂", ("氵", "少"): "沙",
    ("氵", "甫"): "浦", ("氵", "满"): "满", ("氵", "胡"): "湖",
    ("艹", "田"): "苗", ("艹", "重"): "董", ("艹", "将"): "蒋", ("艹", "肃"): "萧",
    ("艹", "肖"): "萧",  # 草字头的肖: 萧 said as the grass radical over the 肖 it sounds like
    ("艹", "化"): "花", ("艹", "矛"): "茅", ("艹", "监"): "蓝", ("艹", "卢"): "芦",
    ("艹", "宛"): "苑", ("艹", "祭"): "蔡", ("艹", "乂"): "艾", ("艹", "方"): "芳",
    ("宀", "木"): "宋", ("宀", "女"): "安", ("宀", "丁"): "宁", ("宀", "必"): "宓",
    ("宀", "吕"): "宫",
    ("阝", "东"): "陈", ("阝", "又"): "邓", ("又", "阝"): "邓", ("又", "耳"): "邓",
    ("阝", "告"): "郜", ("阝", "广"): "邝", ("广", "阝"): "邝", ("阝", "关"): "郑",
    ("阝", "召"): "邵", ("阝", "刍"): "邹", ("阝", "赤"): "郝", ("阝", "丘"): "邱",
    ("阝", "开"): "邢", ("阝", "元"): "阮", ("阝", "者"): "都", ("阝", "示"): "祁",
    ("礻", "阝"): "祁", ("礻", "耳"): "祁", ("阝", "击"): "陆",
    ("讠", "午"): "许", ("讠", "射"): "谢", ("讠", "覃"): "谭", ("讠", "炎"): "谈",
    ("讠", "者"): "诸",
    ("木", "卯"): "柳", ("木", "土"): "杜", ("木", "每"): "梅", ("木", "卜"): "朴",
    ("木", "白"): "柏", ("木", "易"): "杨", ("木", "木"): "林",
    ("钅", "中"): "钟", ("钅", "戋"): "钱",
    ("女", "兆"): "姚", ("禾", "呈"): "程", ("禾", "火"): "秋",
    ("门", "三"): "闫", ("门", "文"): "闵", ("门", "敢"): "阚", ("门", "臽"): "阎",
    ("革", "斤"): "靳", ("革", "匊"): "鞠", ("广", "龙"): "庞", ("广", "翏"): "廖",
    ("礻", "兄"): "祝", ("衤", "者"): "褚", ("纟", "己"): "纪", ("纟", "东"): "练",
    ("彳", "余"): "徐",
    ("土", "里"): "埋", ("王", "里"): "理", ("耳", "火"): "耿", ("火", "耳"): "耿",
    ("冫", "马"): "冯", ("冫", "兄"): "况", ("冫", "先"): "冼", ("冫", "夌"): "凌",
    ("辶", "车"): "连", ("辶", "尺"): "迟", ("辶", "录"): "逯", ("辶", "力"): "边",
    ("走", "肖"): "赵", ("刂", "文"): "刘", ("马", "各"): "骆",
    ("足", "各"): "路", ("弓", "长"): "张", ("犭", "火"): "狄", ("雨", "田"): "雷",
    ("竹", "付"): "符", ("竹", "间"): "简", ("竹", "官"): "管", ("山", "隹"): "崔",
    ("女", "臣"): "姬", ("木", "可"): "柯", ("木", "亢"): "杭", ("日", "京"): "景",
    ("日", "安"): "晏", ("亻", "几"): "仉", ("氵", "仆"): "濮",
}  # fmt: skip

# Surnames spelled as one part over another: 西字头底下一个早 (覃), 上面一个卉底下一个贝
# (贲), 此字底下一个言 (訾), 麻字底下一个米 or 米字上头一个麻 (糜). (top, bottom) →
# surname, written for this project from how the characters are built.
STACKED: dict[tuple[str, str], str] = {
    ("西", "早"): "覃", ("西", "贝"): "贾", ("西", "木"): "栗", ("西", "米"): "粟",
    ("卜", "户"): "卢",
    ("四", "夕"): "罗", ("人", "示"): "佘", ("此", "言"): "訾", ("麻", "米"): "糜",
    ("卉", "贝"): "贲", ("木", "旦"): "查", ("日", "京"): "景", ("雨", "田"): "雷",
    ("竹", "间"): "简", ("竹", "官"): "管", ("竹", "付"): "符", ("丘", "山"): "岳",
    ("龙", "共"): "龚", ("黑", "土"): "墨", ("口", "天"): "吴", ("立", "早"): "章",
    ("山", "今"): "岑", ("山", "隹"): "崔", ("耳", "双"): "聂", ("米", "女"): "娄",
    ("鱼", "日"): "鲁", ("日", "兆"): "晁", ("加", "贝"): "贺", ("弗", "贝"): "费",
    ("艹", "句"): "苟", ("公", "羽"): "翁", ("羽", "隹"): "翟", ("艹", "田"): "苗",
    ("艹", "早"): "草", ("宀", "木"): "宋", ("宀", "女"): "安", ("宀", "必"): "宓",
    ("厶", "牛"): "牟", ("私", "牛"): "牟", ("非", "衣"): "裴", ("羊", "女"): "姜",
    ("艹", "办"): "苏", ("雨", "隹"): "霍", ("日", "勿"): "易", ("艹", "曷"): "葛",
}  # fmt: skip
_TOP_NAMES = {"草": "艹", "宝盖": "宀", "宝": "宀"}
_PLACE = "(?:[字自子]头?)?"  # 字 heard as 自 or 子 (米自底下一个女, 西子头底下一个早)
_BELOW = "(?:下面|底下|下边|下头)"
_ABOVE = "(?:上面|上头|上边)"
_ONE = "(?:是|再)?(?:加个|加一个|一个|个|一)?"
# 上面一个卉底下一个贝 / 卉字底下一个贝 / 米字上头一个麻 (the bottom named first).
_TOP_FIRST = re.compile(f"(?:{_ABOVE}{_ONE})?(.){_PLACE}{_BELOW}{_ONE}(.)")
_BOTTOM_FIRST = re.compile(f"(.){_PLACE}{_ABOVE}{_ONE}(.)")
# What may come between the radical and the rest (一个, 加个, 右边, 下面一个 …; 加个 is
# often heard 家个).
_FILLER = re.compile("(?:就是|再)?(?:加上|加|家|右边|左边|旁边|下面|上面|里面|里头|底下"
                     "|下边|上边|里边|右面|左面)?(?:加|家)?(?:一个|一|个|那个|的)?")
# A rest described by a word it is in: 冬天的冬, 必须的必, 勇敢的敢.
_DESCRIBED = re.compile("(.{2,3})的(.)")
_DIGIT_WORDS = str.maketrans("0123456789", "零一二三四五六七八九")
_RADICAL_COST = 0.8
_REST_COST = 0.45
# A part of a stacked spelling may be heard as a homophone of another tone (不 for 卜).
_STACKED_COST = 0.5


@lru_cache(maxsize=1)
def _radicals() -> SoundIndex:
    # A two-character name (草头, 耳朵) only as said or near it (要投 is no 草头).
    return SoundIndex(RADICALS, limit=lambda name: _RADICAL_COST if len(name) > 2 else 0.4)


@lru_cache(maxsize=1)
def _rests() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for radical, rest in COMPOSED:
        out.setdefault(radical, []).append(rest)
    return {r: tuple(rests) for r, rests in out.items()}


@lru_cache(maxsize=1)
def _surnames_with() -> dict[str, frozenset[str]]:
    """Radical → the surnames of the table built with it."""
    out: dict[str, set[str]] = {}
    for (radical, _rest), surname in COMPOSED.items():
        out.setdefault(radical, set()).add(surname)
    return {r: frozenset(v) for r, v in out.items()}


def _surname_named(radical: str, heard: str) -> str | None:
    """The surname of the table built with ``radical`` that ``heard`` is, or is an exact
    homophone of (广字头的料 → 廖): a caller who names the radical then says the surname
    itself, which the ASR writes as a commoner character."""
    surnames = _surnames_with().get(radical, frozenset())
    if heard in surnames:
        return heard
    same = [s for s in surnames if char_cost(s, heard) == 0]
    return same[0] if len(same) == 1 else None


def _rest_of(radical: str, heard: str) -> str | None:
    """The rest the table has for ``radical`` that ``heard`` is, or sounds like."""
    rests = _rests().get(radical, ())
    if heard in rests:
        return heard
    near = [(char_cost(r, heard), r) for r in rests]
    best = min(near, default=None)
    return best[1] if best is not None and best[0] <= _REST_COST else None


def _stacked_of(top: str, bottom: str) -> str | None:
    """The surname of the table with ``top`` over ``bottom``, or whose parts these sound
    like, one at most a near homophone (上面一个龙 下面一个供 → 龚, 不 over 户 → 卢)."""
    found = STACKED.get((top, bottom))
    if found is not None:
        return found
    near = min(((cost, surname) for (t, b), surname in STACKED.items()
                if (cost := char_cost(t, top) + char_cost(b, bottom)) <= _STACKED_COST),
               default=None)
    return near[1] if near is not None else None


def _stacked(text: str, start: int, stop: int) -> tuple[str, int, int] | None:
    """A surname spelled as one part over another, the spelling starting in
    ``[start, stop)``; a part may be named by a word it is in (句子的句)."""
    for at in range(max(0, start), min(stop, len(text))):
        for pattern, top_first in ((_TOP_FIRST, True), (_BOTTOM_FIRST, False)):
            m = pattern.match(text, at)
            if m is None:
                continue
            first, second, end = m.group(1), m.group(2), m.end()
            described = _DESCRIBED.match(text, m.start(2))
            if described and second in described.group(1):
                second, end = described.group(2), described.end()  # 句子的句
            top, bottom = (first, second) if top_first else (second, first)
            found = _stacked_of(_TOP_NAMES.get(top, top), bottom)
            if found is not None:
                return found, m.start(), end
    return None


# 将军的将 加个草字头 / 将 上面加个草字头: the rest named first (maybe by a word it is in),
# then the radical added to it.
_REST_FIRST = re.compile(
    f"(?:(.{{1,3}})的)?(.)[字自]?(?:{_ABOVE}|右边|左边|旁边)?再?(?:加个|加一个|加上|家个|一个)")


def _rest_first(text: str, start: int, stop: int) -> tuple[str, int, int] | None:
    for at in range(max(0, start), min(stop, len(text))):
        m = _REST_FIRST.match(text, at)
        if m is None:
            continue
        word, named = m.group(1) or "", m.group(2)
        if len(word) == 3 and any(char_cost(ch, named) <= _REST_COST for ch in word[1:]):
            continue  # 邱美玲 丘陵的丘: the word is 丘陵, starting one on
        heard = [named, *(ch for ch in word if char_cost(ch, named) <= _REST_COST)]
        for name, hit in _radicals().find(text, m.end(), m.end() + 1):
            if hit.start != m.end():
                continue
            radical = RADICALS[name]
            for ch in heard:
                rest = _rest_of(radical, ch)
                if rest is not None:
                    return COMPOSED[(radical, rest)], at, hit.end
    return None


def spelled_by_parts(text: str, start: int, stop: int) -> tuple[str, int, int] | None:
    """A surname spelled by its parts, its radical heard starting in ``[start, stop)``
    (or the rest, where the radical is added after it): the surname, and where the
    spelling starts and ends."""
    text = text.translate(_DIGIT_WORDS)  # 3点水 is 三点水, character for character
    found = [f for f in (_by_radical(text, start, stop), _stacked(text, start, stop),
                         _rest_first(text, start, stop)) if f is not None]
    return min(found, key=lambda f: f[1]) if found else None


def _by_radical(text: str, start: int, stop: int) -> tuple[str, int, int] | None:
    hits = _radicals().find(text, max(0, start), min(stop, len(text)))
    for name, hit in sorted(hits, key=lambda nh: (nh[1].start, nh[1].cost, -len(nh[0]))):
        radical = RADICALS[name]
        at = _FILLER.match(text, hit.end)
        after = at.end() if at else hit.end
        if after < len(text) and (named := _surname_named(radical, text[after])) is not None:
            return named, hit.start, after + 1  # 草字头那个蔡: the surname itself, named
        candidates: list[tuple[str, int]] = []
        described = _DESCRIBED.match(text, after)
        if described:
            # 勇敢的感: the word's character that the one after 的 sounds like.
            word, named = described.group(1), described.group(2)
            candidates += [(ch, described.end()) for ch in word
                           if char_cost(ch, named) <= _REST_COST]
        if after < len(text):
            candidates.append((text[after], after + 1))
        if (rest_stacked := _stacked(text, after, after + 1)) is not None:
            # 言字旁 右边上面一个西下面一个早: the rest spelled in its turn (覃 → 谭)
            candidates.append((rest_stacked[0], rest_stacked[2]))
        for heard, end in candidates:
            rest = _rest_of(radical, heard)
            if rest is not None:
                return COMPOSED[(radical, rest)], hit.start, end
    return None
