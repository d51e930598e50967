"""The caller's own name and surname.

Only self-introductions count: 我姓X / 免贵姓X (ASR: 我信X, 我性X), 我叫XY, 我的名字是XY,
我是X女士 / 叫我X阿姨, and spelled surnames (弓长张, 木子李). A name mentioned in passing
(隔壁姓刘的, 楼上张先生) is not the caller's. A refusal (不想留名字) clears the full name; a
surname given in the same breath (名字就不留了 我姓王) is still kept.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from config.data import shipped
from workorders.draft import FieldValue
from workorders.knowledge import common_words, knowledge
from workorders.parts import spelled_by_parts
from workorders.phone import DIGITS
from workorders.pinyin import plain_readings, tones
from workorders.sound import (
    SoundIndex,
    char_cost,
    heard_cost,
    ime_fold,
    split_syllable,
    substitution_cost,
    syllable_cost,
)
from workorders.text import Compact, compact

COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "长孙",
    "宇文",
    "夏侯",
    "端木",
    "司徒",
    "申屠",
    "呼延",
    "独孤",
    "南宫",
    "西门",
    "轩辕",
    "澹台",
)
# Rare surnames: taken as written or spelled, never for a character that sounds like them
# (我性子急 is no 訾).
_RARE = "濮仉糜贲訾郗逄蹇隗郏佴厍钭缑禚芈贝弓宓郦庹酆钮荀於羿汲邴蓟韶莘璩暨庾殳夔蒯竺桓乜邗"
# Common single-character surnames, then the rare ones. Characters that are far more often
# words after 我叫 or 我姓 (叫师傅来, 叫房东, 我信任) are left out even where they are also
# rare surnames.
_SURNAME_ORDER = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康洪赖施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟"
    "殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛"
    "靳柴蒙鲍华喻祁蒲滕屈饶牟艾尤阳穆农司卓古吉缪简芦麦褚娄窦戚岑景党宫费卜"
    "冷晏席卫米柏宗瞿桂佟臧闵苟邬卞姬仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查"
    "麻苑迟邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺厉伊仝郜阚"
    "权帅屠豆朴盖练廉禹井祖漆巴丰支卿狄计索宣晋芮扈晁阙浦戈鹿项"
    "薄邸雍辜裘亓修邰赫杭宿鲜逯茹诸慕亢嵇湛戎茅尉冶斯束檀昝奉衡鄂"
    + _RARE
)
_WRITTEN_ONLY = frozenset(_RARE)
SURNAMES = frozenset(_SURNAME_ORDER)
# Surnames that are everyday words after 我叫 / 我姓 (叫车, 叫房东, 解 read jiě): taken only
# when the caller describes the character by a word it is in (汽车的车, 房子的房, 边疆的边,
# 解放的解, 马路的路, 满意的满), never by sound, and never ranked as surnames above.
DESCRIBED_ONLY = frozenset("房车边解全花那商步拓路满门续寿水云明强应山双怀")


_RANK = {surname: rank for rank, surname in enumerate(_SURNAME_ORDER)}
_PRIMARY = {surname: plain_readings(surname)[0] for surname in _SURNAME_ORDER}
_PRIMARY_TONE = {surname: tones(surname)[0][1] for surname in _SURNAME_ORDER}
# Surnames ranked below this stand for themselves even when a commoner one sounds the same.
_COMMON = 100
# How far a heard character may sound from the surname it is taken for (one fuzzy-pinyin
# pair, or a measured confusion).
_SURNAME_COST = 0.45
# Pronouns and particles: after a misheard 姓 (我信他们) they are the sentence going on.
_NEVER_SURNAME = frozenset("他她它你您我咱们的了吗呢吧啊呀嘛这那哪谁")
# Spelled-out surnames: callers spell a surname to tell homophones apart (张 vs 章).
# "X的Y" forms (耳东的陈) are matched too: 的 is dropped before looking up.
SPELLED = {
    "弓长张": "张",
    "立早章": "章",
    "耳东陈": "陈",
    "木子李": "李",
    "口天吴": "吴",
    "双木林": "林",
    "古月胡": "胡",
    "言午许": "许",
    "草头黄": "黄",
    "三横王": "王",
    "文刀刘": "刘",
    "木易杨": "杨",
    "走肖赵": "赵",
    "人可何": "何",
    "双口吕": "吕",
    "禾口程": "程",
    "关耳郑": "郑",
    "子小孙": "孙",
    "水工江": "江",
    "雨中雷": "雷",
    "草头萧": "萧",
    "草头蒋": "蒋",
    "双人徐": "徐",
    "宝盖宋": "宋",
    "二马冯": "冯",
    "两点水冯": "冯",
    "禾火秋": "秋",
    "土里金": "金",
    "单人旁何": "何",
    "三点水江": "江",
    "三点水汪": "汪",
    "三点水沈": "沈",
    "草字头黄": "黄",
    "草字头范": "范",
    "走之连": "连",
    "提手扬": "扬",
    "口十叶": "叶",
    "山丘岳": "岳",
    "小月肖": "肖",
    "西贝贾": "贾",
    "言身寸谢": "谢",
    "木土杜": "杜",
    "赤耳郝": "郝",
    "干钩于": "于",
    "干勾于": "于",
    "西早覃": "覃",
    "草头蔡": "蔡",
    "草字头蔡": "蔡",
}
SPELLED = {k: v for k, v in SPELLED.items() if v in SURNAMES}
_SPELLED_BY_LENGTH = sorted(SPELLED.items(), key=lambda kv: -len(kv[0]))
_SPELLED_RE = re.compile(
    "|".join("的?".join(k[:-1]) + "的?" + k[-1] for k in sorted(SPELLED, key=len, reverse=True))
)

# 姓 is often heard as 信/性/幸/兴; 免贵 and 本人 mark a self-introduction as well as 我
# (免贵 itself is sometimes heard as 脸跪, 连贵: its 贵 is enough). 复姓: 欧阳 follows.
_SELF_SURNAME = re.compile("(?:我|俺|免贵|[贵跪]|本人|我的)复?(姓|信|性|幸|兴)(?:是)?")
# 复姓 (a compound surname follows) as heard: 复 or a homophone, then 姓 or one (复兴, 附近).
_COMPOUND_CUE = re.compile("我|免贵|本人")
_COMPOUND_REACH = 3
_BARE_SURNAME = re.compile("(?<![家个位是叫那这])姓(?!名)")
# Digits in a row after 姓 are a number, not a surname that sounds like one (一 → 易).
_NUMBER_RUN = 3
_SELF_NAME = re.compile("我叫|俺叫|我名叫|我的名字叫|我的名字是|我名字叫|名字叫|名字是|本人叫")
_SELF_IS = re.compile("我是|我就是|本人是")
_TITLE = re.compile("女士|先生|阿姨|大爷|大妈|师傅|老师|大姐|大哥|奶奶|爷爷")
_NICKNAME = re.compile("(?:叫我|我是|我叫|就叫|就写|写我)(?:小|老)")
_SELF_TITLE = re.compile("(?:我是|我叫|叫我|我|联系人|就是|姓)$")
_REFUSAL = re.compile(
    "不想留名|不留名|不愿留名|不方便留名|不想透露|不愿透露|不方便透露|匿名|名字就不留|名字就不说|"
    "不想说名字|不想告诉你名字|名字不留|姓名不留|不留姓名|名字保密|不用留名|名字就算了|不说名字"
)
# Where a given name ends: words that start the next clause, and digits.
_NAME_END = re.compile(
    "电话|手机|号码|联系|住在|家住|今年|谢谢|麻烦|就是|那个|然后|女士|先生|阿姨|身份证|"
    "[我你他她的在住是要想就呢啊吧呀吗嗯哦那这有从到给和跟也都还请帮反投举咨了叫"
    "零〇一二三四五六七八九幺两几0-9]"
)
# 我姓汤 喝汤的汤 / 姓曾 曾经的曾: the caller names the character by a word it is in.
_CONFIRMED = re.compile(".{0,3}的")
# 姓冯 两点水一个马的冯: a description of the character said in a few words, ending 的冯.
_DESCRIBED_AFTER = re.compile("[^的]{1,7}的")
_CORRECTION = re.compile("不对|错了|说错|是说|重说|更正|应该是")
_CORRECTED = re.compile("(?:不对|错了|说错了|更正)(?:是|我姓|姓|应该是)(.)")
# After a surname said without 我 (姓黄 电话…), only contact details or the end may follow.
_CONTACT_AFTER = re.compile("电话|手机|号码|联系|谢谢|叫|$")

_Found = tuple[str, int, int, float]  # value, start, end (compact), confidence


# A full name is accepted only when every character of its given name is one that given
# names use (config/data/given_name_chars.json); otherwise the surname stands and the
# given name is reported at this confidence, for the agent to check (王剧强, 马利坚).
IMPLAUSIBLE_NAME_CONFIDENCE = 0.3
GIVEN_NAME_FILE = "given_name_chars.json"


@lru_cache(maxsize=1)
def given_name_chars() -> frozenset[str]:
    """Characters used in given names (the shipped list)."""
    data = json.loads(shipped(GIVEN_NAME_FILE).read_text(encoding="utf-8"))
    return frozenset(data["chars"])


def plausible_given_name(given: str) -> bool:
    """Whether every character of ``given`` is one that given names use."""
    chars = given_name_chars()
    return bool(given) and all(ch in chars for ch in given)


def _given_heard(given: str) -> bool:
    """A given name plausible as written, or two characters the ASR wrote for a common
    given name they sound like (白袖枝 for 白秀芝), right after the surname was settled."""
    return plausible_given_name(given) or (given not in common_words() and _sounds_common(given))


def _sounds_common(given: str) -> bool:
    """Whether ``given`` (two characters or more) sounds like a common given name."""
    return len(given) > 1 and common_given_name(given) in _common_names()


COMMON_GIVEN_FILE = "common_given_names.json"


@lru_cache(maxsize=1)
def _common_given() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The common given names (config/data/common_given_names.json) by their toneless
    syllables, the more usual characters first (by the counts of given_name_chars.json)."""
    data = json.loads(shipped(COMMON_GIVEN_FILE).read_text(encoding="utf-8"))
    counts = json.loads(shipped(GIVEN_NAME_FILE).read_text(encoding="utf-8"))["chars"]
    by_sound: dict[tuple[str, ...], list[str]] = {}
    for line in data["names"]:
        for name in line.split():
            if all(plain_readings(ch) for ch in name):
                key = tuple(plain_readings(ch)[0] for ch in name)
                by_sound.setdefault(key, []).append(name)
    return {k: tuple(sorted(v, key=lambda n: -min(counts.get(ch, 0) for ch in n)))
            for k, v in by_sound.items()}


@lru_cache(maxsize=1)
def _common_fuzzy() -> dict[tuple[str, ...], tuple[str, ...]]:
    out: dict[tuple[str, ...], list[str]] = {}
    for key, names in _common_given().items():
        out.setdefault(tuple(ime_fold(k) for k in key), []).extend(names)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _common_names() -> frozenset[str]:
    return frozenset(n for names in _common_given().values() for n in names)


def common_given_name(given: str) -> str:
    """A given name the ASR wrote as a homophone of a common one (贵英 for 桂英, 小燕 for
    晓燕, 红眉 for 红梅) → that common one, if one sounds the same in every syllable
    (tones too where the heard characters are plausible in names; a plausible single
    character stays). A listed or unmatched name stays as heard."""
    if not given or given in _common_names():
        return given
    options: list[str] = []
    for key in itertools.product(*(plain_readings(ch) or (ch,) for ch in given)):
        options.extend(_common_given().get(key, ()))
    if not options and len(given) > 1:
        # no homophone: a near one, by the input methods' fuzzy pairs (建新 heard 健兴)
        for key in itertools.product(*(tuple(ime_fold(r) for r in plain_readings(ch)) or (ch,)
                                       for ch in given)):
            options.extend(_common_fuzzy().get(key, ()))
    if not plausible_given_name(given):
        return options[0] if options else given
    if len(given) == 1:
        return given  # 嘉, 雨, 瑞: one plausible character is a name as it stands
    same_tone = [o for o in options
                 if all({t for _r, t in tones(a)} & {t for _r, t in tones(b)}
                        for a, b in zip(o, given, strict=True))]
    return same_tone[0] if same_tone else given


def _commonly_spelt(name: str) -> str:
    """A full name with its given name read as the common name it sounds like."""
    surname = _surname_at(name, 0) or name[0]
    given = name[len(surname):]
    if given.startswith(surname):
        return name  # 陈 陈志强 read as 陈陈: the surname said twice, no given name
    return surname + common_given_name(given)


@dataclass(frozen=True)
class CallerName:
    name: FieldValue[str]
    surname: FieldValue[str]


def _surname_at(text: str, i: int) -> str | None:
    for compound in COMPOUND_SURNAMES:
        if text.startswith(compound, i):
            return compound
    return text[i] if i < len(text) and text[i] in SURNAMES else None


def _given_end(compact: Compact, start: int) -> int:
    """End of a given name starting at ``start``: at most two characters, maybe none.

    A space ends the name, except between single characters: ASR often spaces out the
    characters of a name it does not know as a word (胡 小 兰).
    """
    text = compact.text
    end = start
    if text.startswith("一", start) and text[start : start + 2] in _common_names():
        end += 1  # 章一鸣, 李一诺: 一 starts a common given name, not a number
    while end < len(text) and end - start < 2:
        if (
            end > start
            and end in compact.breaks
            and not (end - 1 in compact.breaks and end + 1 in compact.breaks | {len(text)})
        ):
            break
        if _NAME_END.match(text, end):
            break
        end += 1
    return end


def _name_after_surname(compact: Compact, surname: _Found) -> _Found | None:
    """我姓马 马秀英: the full name said straight after the surname, starting with it, its
    given name plausible and ending where a name may end (a space, a number, the end)."""
    text = compact.text
    char, at = surname[0], surname[2]
    if not text.startswith(char, at):
        return None
    start = at + len(char)
    end = _given_end(compact, start)
    given = text[start:end]
    if not given or not _given_heard(given) or _place_starts(text, at):
        return None
    if not (_word_ends(compact, end) or _number_starts(text, end)) or text.startswith(
            "的", end):
        return None  # 我姓项 项羽的项: a description
    return text[at:end], surname[1], end, min(surname[3], 0.8)


def _word_ends(compact: Compact, at: int) -> bool:
    """Whether a name may end at ``at``: a space, the end, or the next clause."""
    text = compact.text
    return at >= len(text) or at in compact.breaks or bool(_NAME_END.match(text, at))


def _number_starts(text: str, at: int) -> bool:
    """Whether a run of digits (spoken or written) starts at ``at``: 一一五二…, 幺三八…"""
    run = text[at : at + _NUMBER_RUN]
    return len(run) == _NUMBER_RUN and all(ch in DIGITS for ch in run)


def _self_surname(compact: Compact) -> _Found | None:
    text = compact.text
    said: list[_Found] = []
    for m in _SELF_SURNAME.finditer(text):
        if _number_starts(text, m.end()):
            continue  # 我姓一一五二…: the number said (or heard) where the surname was
        found = _surname_at(text, m.end())
        if not found:
            filler = 2 if text.startswith("就是", m.end() + 1) else 0  # 我姓那 就是那个的那
            described = _word_description(text, m.end() + 1 + filler)
            if described is not None and _names_a_surname(text, m.end() + 1 + filler,
                                                          described):
                # 我姓所 左右的左: the character the caller describes, not the one heard.
                said.append((described[0], m.start(), described[1], 0.9))
                continue
            heard = _heard_surname(compact, m.end())
            if (heard and m.group(1) != "姓"
                    and text[m.end(1) - 1 : m.end(1) + 1] in common_words()):
                continue  # 别透露我信息: the cue misheard is a word with what follows
            if heard:
                said.append((heard, m.start(), m.end() + 1, 0.6))
            elif m.group(1) == "姓" and m.end() < len(text) \
                    and (exact := surname_by_sound(text[m.end()])) is not None \
                    and exact[1] == 0 and not _is_word(text[m.end() : m.end() + 2]):
                # 免贵姓假教假德福: after 姓 itself the next character is the surname, however
                # the name runs on (贾, an exact homophone), unless it starts a word.
                said.append((exact[0], m.start(), m.end() + 1, 0.55))
            continue
        end = m.end() + len(found)
        # 我信任… is not 我姓任: after a misheard 姓 the name must end right away.
        misheard = m.group(1) != "姓"
        if misheard and not (
            _word_ends(compact, end)
            or _SPELLED_RE.match(text, end)
            or text.startswith("叫", end)
            or _spelling_by_sound(text, end) is not None
        ):
            continue
        if len(found) == 1 and _ordinary_character(found) and (
            misheard or _RANK[found] >= _COMMON) and not (
            (c := _CONFIRMED.match(text, end)) and text.startswith(found, c.end())
        ):
            # The cue was misheard, so the surname may be too; and a rare surname with a
            # much commoner homophone of the same tone is taken for that one (谈 → 谭,
            # 章 → 张), unless a spelling says otherwise (立早章, 喝汤的汤): the
            # frequency prior. Only for a character that is an ordinary one too: a
            # surname-only character (佟, 逯) was written because it was heard.
            # (信封: the cue and the surname heard as one word have the word's tones)
            in_word = text[m.end(1) - 1 : m.end(1) + 1] in common_words()
            prior = (surname_by_sound(found, by_tone=not in_word) or (found, 0.0))[0]
            if prior != found and (misheard or (_same_tone(found, prior)
                                                and _RANK[prior] < _COMMON)):
                said.append((prior, m.start(), end, 0.8))
                continue
        said.append((found, m.start(), end, 0.95))
    if said:
        # 我姓张 不对 我姓章: a correction between two introductions keeps the later one.
        if len(said) > 1 and _CORRECTION.search(text, said[0][2], said[-1][1]):
            return said[-1]
        return said[0]
    for m in _BARE_SURNAME.finditer(text):
        found = _surname_at(text, m.end())
        if m.start() > 0 and text[m.start() - 1] == "的":
            # 楼上姓刘的: someone else; 我是外地来旅游的 姓岳 岳飞的岳: the caller, who
            # goes on to describe or spell it
            if found and (_SPELLED_RE.match(text, m.end() + len(found))
                          or _describes(text, m.end() + len(found), found)):
                return found, m.start(), m.end() + len(found), 0.8
            continue
        if not found:
            heard = _heard_surname(compact, m.end())
            if heard and ((_CONTACT_AFTER.match(text, m.end() + 1) and m.end() + 1 < len(text))
                          or _parts_after(text, m.end() + 1)):
                return heard, m.start(), m.end() + 1, 0.6  # 姓菜 电话… → 蔡; 姓风 两点水…
            continue
        end = m.end() + len(found)
        if _SPELLED_RE.match(text, end) or _describes(text, end, found) or _parts_after(
                text, end):
            return found, m.start(), end, 0.85  # 姓冯 两点水一个马的冯 / 姓糜 麻字底下一个米
        if text.startswith("的", end) or not _CONTACT_AFTER.match(text, _given_end(compact, end)):
            continue  # 楼上姓刘的: someone else
        return found, m.start(), end, 0.8
    for m in _BARE_SURNAME_HEARD.finditer(text):
        # 条路性神 手机…: 姓沈 said without 我, 姓 and the surname both heard as homophones;
        # only right before contact details, and neither a word (信息, 幸福, 性别 …).
        at = m.end()
        if at + 1 >= len(text) or not (_CONTACT_AFTER.match(text, at + 1)
                                       or _parts_after(text, at + 1)):
            continue  # (性工 上面一个龙下面一个供: the parts settle it)
        pair = text[m.start() : at + 1]
        if pair in common_words() or _is_word(pair) or _is_word(text[at : at + 2]):
            continue
        by_sound = surname_by_sound(text[at])
        if by_sound is not None and by_sound[1] == 0:
            return by_sound[0], m.start(), at + 1, 0.5
    return None


# 姓 as the ASR writes it in place of 姓 said without 我 (see _self_surname).
_BARE_SURNAME_HEARD = re.compile("(?<![的家个位是叫那这我])[性信幸]")


# A character in at least this many words of pypinyin's phrase table is an ordinary one
# (章 59, 谈 90, 汤 81): the ASR may well have written it for a commoner surname. Surname
# characters (佟 0, 逯 0, 覃 2, 鞠 5) are written only when heard as such.
_ORDINARY_IN_WORDS = 20


@lru_cache(maxsize=1)
def _word_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in _words():
        for ch in set(word):
            counts[ch] = counts.get(ch, 0) + 1
    return counts


def _ordinary_character(ch: str) -> bool:
    return _word_counts().get(ch, 0) >= _ORDINARY_IN_WORDS


def _same_tone(heard: str, surname: str) -> bool:
    return _PRIMARY_TONE[surname] in {t for _r, t in tones(heard)}


def _describes(text: str, at: int, ch: str) -> bool:
    """A description of ``ch`` in a few words right after ``at``, ending 的 + ``ch``."""
    m = _DESCRIBED_AFTER.match(text, at)
    return m is not None and text.startswith(ch, m.end())


def _word_description(text: str, at: int) -> tuple[str, int] | None:
    """左右的左 / 孟子的孟 starting at ``at``: a word, 的, and a character of that word, the
    way callers say which character they mean; the character and where it ends."""
    for size in (2, 3):
        word_end = at + size
        if text.startswith("的", word_end) and word_end + 1 < len(text):
            ch = text[word_end + 1]
            if ch in text[at:word_end]:
                return ch, word_end + 2
    return None


def _names_a_surname(text: str, at: int, described: tuple[str, int]) -> bool:
    """Whether a description found by :func:`_word_description` at ``at`` names a surname:
    a listed one, or one of :data:`DESCRIBED_ONLY` named by a real word (继续的续, 寿命的寿;
    not 干心的干, the ASR's 甘心的甘 with the surname misheard in both places)."""
    ch, end = described
    if ch in SURNAMES:
        return True
    word = text[at : end - 2]
    return ch in DESCRIBED_ONLY and (word in common_words() or word in _description_set())


@lru_cache(maxsize=1)
def _description_set() -> frozenset[str]:
    return frozenset(w for words in _description_words().values() for w, _c, _r in words)


def _described(text: str, at: int) -> int | None:
    """隋 隋朝的隋 / 孟 孟子的孟: the character at ``at`` described by a word it is in, right
    after it; where the description ends."""
    described = _word_description(text, at + 1)
    if at < len(text) and described is not None and described[0] == text[at]:
        return described[1]
    return None


DESCRIPTION_WORDS_FILE = "description_words.json"
# How far a heard description word may sound from the real word it stands for (李明 →
# 黎明 0, 机工 → 鞠躬 0.55: one shared initial or final).
_DESCRIPTION_COST = 0.6
# How far after the surname (or the full name) a description of it may start.
_DESCRIPTION_REACH = 4


@lru_cache(maxsize=1)
def _description_words() -> dict[int, tuple[tuple[str, int, tuple[str, ...]], ...]]:
    """The shipped words callers describe a surname's character by, by length: (word,
    corpus count, toneless reading in context)."""
    data = json.loads(shipped(DESCRIPTION_WORDS_FILE).read_text(encoding="utf-8"))
    by_length: dict[int, list[tuple[str, int, tuple[str, ...]]]] = {}
    for word, (count, reading) in data["words"].items():
        by_length.setdefault(len(word), []).append((word, count, tuple(reading.split())))
    return {size: tuple(words) for size, words in by_length.items()}


def word_described(heard: str, at: int) -> tuple[str, float] | None:
    """The character a caller names by the word ``heard`` (as the ASR wrote it), the one at
    ``at``: the character of the real word the heard one most likely was, by sound and
    then by how common the word is (李明 → 黎明 → 黎, 之马 → 芝麻 → 麻, 齐联山 → 祁连山 →
    祁), and the cost of hearing it so. Only words whose character there is a surname
    count, and a heard surname gives way only to an exact homophone."""
    target = heard[at]
    best: tuple[float, int, str] | None = None
    for word, count, reading in _description_words().get(len(heard), ()):
        ch = word[at]
        if char_cost(ch, target) > _SURNAME_COST and not (
                target not in SURNAMES and _u_heard_i(target, reading[at])):
            continue
        if ch not in SURNAMES and ch not in DESCRIBED_ONLY:
            continue
        if ch != target and target in SURNAMES and heard_cost(reading[at], target) > 0:
            continue  # 喝汤的汤 is not 何谈的谈: a surname heard is changed only for an
            # exact homophone (李明的李 → 黎明的黎)
        cost = sum(heard_cost(r, h) for r, h in zip(reading, heard, strict=True))
        if cost <= _DESCRIPTION_COST and (best is None or (cost, -count) < (best[0], -best[1])):
            best = (cost, count, ch)
    return (best[2], best[0]) if best is not None else None


def _u_heard_i(heard: str, said: str) -> bool:
    """Whether ``heard``'s usual reading is the syllable ``said`` with its ü written i (机 ji
    for the ju of 鞠躬, 里 li for lü): a vowel Whisper often writes so. A character that is
    no surname may be heard for one this way (机工的机 → 鞠躬的鞠)."""
    readings = plain_readings(heard)
    if not readings:
        return False
    initial, final = split_syllable(said)
    if initial in ("j", "q", "x", "y") and final.startswith("u"):
        final = "v" + final[1:]
    return "v" in final and readings[0] == initial + final.replace("v", "i")


# A description word heard this close to itself names its character even when the
# character after 的 was misheard (腾网格的彭 → 滕王阁的滕, 令相辱的力 → 蔺相如的蔺).
_MISHEARD_WORD_COST = 0.3
_MISHEARD_WORD_SIZE = 3
_MISHEARD_CHAR_COST = 0.6
# The character after 的 of a description word heard exactly may be this far from the one
# it names (one fuzzy-pinyin pair: 安宁的您).
_FUZZY_CHAR_COST = 0.35


def _description_near(text: str, start: int, stop: int) -> tuple[str, int, int] | None:
    """A description 'word + 的 + one of its characters' starting in ``[start, stop)``, the
    first one: the character it names, resolved by :func:`word_described`, and where the
    description starts and ends."""
    for p in range(max(0, start), min(stop, len(text))):
        for size in (2, 3):
            end = p + size
            if end + 1 >= len(text) or text[end] != "的":
                continue
            heard, ch = text[p:end], text[end + 1]
            at = heard.find(ch)
            if at < 0:
                at = next((i for i, h in enumerate(heard) if char_cost(h, ch) == 0), -1)
            if at < 0 and heard in _description_set():
                # 安宁的您: the word heard as itself, the character after 的 one fuzzy
                # pair from one of its surnames (ning → nin)
                near_chars = [(char_cost(h, ch), i) for i, h in enumerate(heard)
                              if (h in SURNAMES or h in DESCRIBED_ONLY)
                              and char_cost(h, ch) <= _FUZZY_CHAR_COST]
                if near_chars:
                    return heard[min(near_chars)[1]], p, end + 2
            if at < 0:
                if size != _MISHEARD_WORD_SIZE:
                    continue
                # 滕王阁的滕 heard as 腾网格的彭: a three-character word heard nearly as
                # itself names its character, and the one after 的 was heard as something
                # like it (two characters are near too many words: 一竖的王 is no 余数).
                near = [(f[1], i, f[0]) for i in range(size)
                        if (f := word_described(heard, i)) is not None
                        and f[1] <= _MISHEARD_WORD_COST
                        and char_cost(f[0], ch) <= _MISHEARD_CHAR_COST]
                if near:
                    _cost, _i, char = min(near)
                    return char, p, end + 2
                continue
            found = word_described(heard, at)
            if found is not None:
                return found[0], p, end + 2
    return None


def _heard_surname(compact: Compact, at: int) -> str | None:
    """我姓攀 / 我信猴: ASR wrote a homophone of the surname; map it by sound."""
    text = compact.text
    if at >= len(text) or not (_word_ends(compact, at + 1) or _SPELLED_RE.match(text, at + 1)
                               or _spelling_by_sound(text, at + 1) is not None
                               or _described(text, at) is not None
                               or _parts_after(text, at + 1)):
        return None  # 我信湖古岳湖 / 我信红红水的红 / 姓风 两点水一个马: a spelling or a
        # description settles it
    heard = surname_by_sound(text[at])
    return heard[0] if heard is not None else None


def _full_name(compact: Compact, surname: _Found | None) -> _Found | None:
    text = compact.text
    run_on: _Found | None = None  # a name with no word end heard: only if none has one
    for m in _SELF_NAME.finditer(text):
        start = m.end()
        found = _surname_at(text, start)
        if found is not None:
            end = _given_end(compact, start + len(found))
            if text.startswith(found, start + len(found)) and (
                    again := _stumble(compact, start + len(found), found)) is not None:
                return text[start + len(found) : again], m.start(), again, 0.8  # 戴戴红旗
            if text[start + len(found) : end] == found:
                continue  # 我叫龙 龙 龙海 嗯 我叫龙海波: a stumble, the surname said again
            if end - 1 > start + len(found) and _describes_from(text, end - 1, found):
                end -= 1  # 我叫李明黎明的黎, 我叫魏然 魏是魏国的魏: a one-character given name
            if (end - 1 > start + len(found) and _place_starts(text, end - 1)
                    and plausible_given_name(text[start + len(found) : end - 1])):
                # 我叫刘洋丰台区: the place starts inside the run-on given name
                return text[start : end - 1], m.start(), end - 1, 0.8
            if end > start + len(found) and _word_ends(compact, end):
                return text[start:end], m.start(), end, 0.9
            if end > start + len(found) and _describes_from(text, end, found):
                # 我叫武海燕武术的武: the description ends the name; the given name ran on
                # unspaced, so it is less sure than one the ASR set apart.
                return text[start:end], m.start(), end, 0.7
            if run_on is None and _run_on_name(text, start + len(found), end):
                run_on = text[start:end], m.start(), end, 0.7
        elif (heard := _heard_full_name(compact, start)) is not None:
            return heard[0], m.start(), heard[1], 0.6
    if run_on is not None:
        return run_on
    for m in _SELF_IS.finditer(text):
        # 我是王小明 电话…: only a surname and a plausible given name that ends the clause
        # (我是业主, 我是马路对面的, 我是万达的员工 are no names).
        start = m.end()
        found = _surname_at(text, start)
        if found is None and (stop := _everyday_surname_name(compact, start)) is not None and (
                plausible_given_name(text[start + 1 : stop]) and not _is_word(text[start:stop])
                and text[start:stop] not in common_words()):
            return text[start:stop], m.start(), stop, 0.8  # 我是满桂芬 满是满意的满
        if found is None:
            continue
        end = _given_end(compact, start + len(found))
        given = text[start + len(found) : end]
        if (given and _word_ends(compact, end) and not text.startswith("的", end)
                and plausible_given_name(given) and not _is_word(text[start : start + 2])):
            return text[start:end], m.start(), end, 0.85
    if surname is not None:
        # 我姓张 弓长张 叫张建华 / 我姓张 叫建华.
        after = surname[2]
        spelled = _SPELLED_RE.match(text, after)
        described = None
        if spelled:
            after = spelled.end()
        else:
            # 我姓马 马是骑马的马 叫马富贵 / 我姓穆 禾木旁的那个穆 叫穆秀英: a description
            # of the character (…的…) before 叫 and the surname again.
            at = text.find("叫" + surname[0], after, after + _DESCRIPTION_BEFORE_CALLED)
            if at < 0 and len(surname[0]) == 1:
                # 我新上 高上的上 叫上国强: the surname said again as a homophone
                at = next((i for i in range(after, min(len(text) - 1,
                                                      after + _DESCRIPTION_BEFORE_CALLED))
                           if text[i] == "叫" and char_cost(text[i + 1], surname[0]) == 0
                           and "的" in text[surname[1]:i]), -1)
            if at == after and "的" in text[surname[1]:after]:
                after = at  # the description inside the surname's span: 叫 right after it
            elif at > after and ("的" in text[after:at] or text[after:at].endswith(surname[0])
                               or _PARTS_WORDS.search(text, after, at)):
                # (or a spelling of it that ends with it: 我姓覃 西早覃 叫覃海燕; or its
                # parts: 我姓牟 牛上面一个私字边 叫牟晓丽)
                after = at
            elif (described := _description_end(text, after, surname[0])) is not None:
                after = described  # 我姓宋 宋朝的宋 宋海燕
        called = text.startswith("叫", after) or (
            # 弓长张 教张健华: 叫 heard as a homophone, the surname said again after it
            text.startswith(_CALLED_HEARD, after)
            and text.startswith(surname[0], after + 1)
            and (spelled or described is not None or _spelt_before(text, after, surname[0])))
        if called:
            start = after + 1
            if text.startswith(surname[0], start) or (
                    len(surname[0]) == 1 and start < len(text)
                    and char_cost(text[start], surname[0]) == 0):
                start += len(surname[0])
            end = _given_end(compact, start)
            if end > start and (_word_ends(compact, end) or (
                    _CONTACT_AFTER.match(text, end) and end < len(text)
                    and plausible_given_name(text[start:end]))):
                return surname[0] + text[start:end], surname[1], end, 0.85
        elif ((spelled or described is not None or surname[3] >= _SPELT)
              and (text.startswith(surname[0], after)
                   or (described is not None and after < len(text) and len(surname[0]) == 1
                       and char_cost(text[after], surname[0]) == 0))
              and _SELF_SURNAME.match(text, surname[1])):
            # 我姓徐 双人徐 徐国强 / 我姓宋 宋朝的宋 宋海燕: the full name right after the
            # spelling or the description, a word of its own (after 我姓 only: a spelling
            # alone may be of someone else's name); after a description the surname may be
            # heard as a homophone (我性苗 和描的描 描桂兰).
            start = after + len(surname[0])
            end = _given_end(compact, start)
            if (end > start and _word_ends(compact, end)
                    and _given_heard(text[start:end])
                    and not _place_starts(text, after)):
                return surname[0] + text[start:end], surname[1], end, 0.8
        if _SELF_SURNAME.match(text, surname[1]) or text.startswith("姓", surname[1]):
            return _full_name_after_description(compact, surname)
    return None


def _stumble(compact: Compact, at: int, surname: str) -> int | None:
    """我叫戴戴红旗 电话…: the surname said twice, then a plausible given name that ends
    there; where it ends, else None."""
    text = compact.text
    start = at + len(surname)
    if text.startswith(surname, start):
        return None  # 龙 龙 龙海: more stumbling
    end = _given_end(compact, start)
    if end > start and plausible_given_name(text[start:end]) and (
            _word_ends(compact, end) or _CONTACT_AFTER.match(text, end)):
        return end
    return None


def _description_end(text: str, at: int, surname: str) -> int | None:
    """Where a description of ``surname`` starting at ``at`` ends (宋朝的宋; the character
    it names may be a homophone of a one-character surname, 和描的描 for 苗), else None."""
    found = _description_near(text, at, at + 1)
    if found is None or not (found[0] in surname or (
            len(surname) == 1 and char_cost(found[0], surname) == 0)):
        return None
    return found[2]


# Words of a spelling by parts (牛上面一个私字边, 门字里面一个敢).
_PARTS_WORDS = re.compile("上面|下面|底下|上头|下头|里面|里头|旁边|字旁|字边|字头|字底|加个|加一个")
# How far after 我姓X the full name may come, the surname described at length before it.
_DESCRIPTION_BEFORE_FULL = 20


def _full_name_after_description(compact: Compact, surname: _Found) -> _Found | None:
    """我姓邸 左边一个氐 右边一个耳刀的那个邸 邸卫东 / 我姓单 单位的单 念善 单丽娟 / 姓郝 赤耳郝
    郝建国: the surname described at length (a word with 的, or a spelling ending with the
    surname), then said again starting a word of its own, with a given name that ends
    there. Only where words are marked (spaces): run-on text has no word to start."""
    text = compact.text
    after = surname[2]
    described_in_span = "的" in text[surname[1] : after]  # 我姓车 汽车的车 | 车振华
    for at in sorted(b for b in compact.breaks
                     if after <= b < after + _DESCRIPTION_BEFORE_FULL):
        if not text.startswith(surname[0], at) or text[at - 1] == "的":
            continue  # (诸葛亮的诸葛: the description's end, not the name said again)
        between = text[after:at]
        if at == after and not described_in_span:
            continue
        if not ("的" in between or between.endswith(surname[0]) or described_in_span
                or spelled_by_parts(text, after, after + 2) is not None
                or _PARTS_WORDS.search(between)):  # 亦字下面一个木: parts we cannot compose
            return None
        start = at + len(surname[0])
        end = _given_end(compact, start)
        if (end > start and _word_ends(compact, end) and _given_heard(text[start:end])
                and not _place_starts(text, at)):
            return surname[0] + text[start:end], surname[1], end, 0.75
        return None
    return None


def _place_starts(text: str, at: int) -> bool:
    """Whether a gazetteer name starts at ``at`` (我姓宋 宋朝的宋 宋庄镇那边 names a town)."""
    places = knowledge().taxonomy.places
    return any(text[at : at + size] in places for size in range(2, 6))


# The confidence of a surname the caller spelled (弓长张, 双人徐): find_name's.
_SPELT = 0.97
# 叫 as the ASR writes it (jiào): only right after a spelling and before the surname again.
_CALLED_HEARD = ("教", "较", "轿")


def _spelt_before(text: str, at: int, surname: str) -> bool:
    """Whether a spelling of ``surname`` (弓长张, or as heard: 宫长张) ends at ``at``."""
    return any(value == surname and at >= len(key) and sum(
        char_cost(a, b) for a, b in zip(text[at - len(key) : at], key, strict=True)) <= 0.5
        for key, value in SPELLED.items())

# How far after 我姓X a description of X (…的X) and 叫X may reach.
_DESCRIPTION_BEFORE_CALLED = 14


def _heard_full_name(compact: Compact, start: int) -> tuple[str, int] | None:
    """我叫引红霞 / 我叫好桂芝: after 我叫 the ASR wrote an exact homophone (tones aside) of a
    surname, and a plausible given name follows and ends there; the name with the surname
    put back, and where it ends. A word (我叫物业, 我叫人来) is never a name."""
    text = compact.text
    if start + 1 >= len(text):
        return None
    if (end := _everyday_surname_name(compact, start)) is not None:
        return text[start : end], end  # 我叫房立军 房子的房: the caller says which one
    if _is_word(text[start : start + 2]):
        return None
    heard = surname_by_sound(text[start])
    if heard is None or heard[1] > 0:
        return None
    end = _given_end(compact, start + 1)
    given = text[start + 1 : end]
    if not given:
        return None
    if _describes_from(text, end, heard[0]):
        # 叫前书针 前是金字旁的钱: the caller spells the surname after the name, which
        # settles it however the given name was heard
        return heard[0] + given, end
    # 隔离评 / 行跪放: characters no given name uses, but every one a homophone of a
    # common given name's (丽萍, 桂芳)
    # (not where the surname and the next character are a word: 我叫师傅来修 is no 石福来)
    sounds_common = _sounds_common(given) and text[start : start + 2] not in common_words()
    if not (plausible_given_name(given) or sounds_common) or not (
            _word_ends(compact, end) or _run_on_name(text, start + 1, end)
            or _description_follows(text, end, text[start])):
        return None
    return heard[0] + given, end


def _everyday_surname_name(compact: Compact, start: int) -> int | None:
    """我叫房立军 房子的房 / 我是满桂芬 满是满意的满: a surname that is an everyday word
    (:data:`DESCRIBED_ONLY`) at ``start``, a given name after it and a real word describing
    the surname right after that; where the name ends, else None."""
    text = compact.text
    if start >= len(text) or text[start] not in DESCRIBED_ONLY:
        return None
    end = _given_end(compact, start + 1)
    return end if end > start + 1 and _word_described_after(text, end, text[start]) else None


def _said_again(text: str, at: int, ch: str) -> list[int]:
    """Where a description may start once ``ch`` is said again at ``at`` (魏 是魏国的魏,
    那 就是那个的那): after it, after 就是 or 是; none when ``ch`` is not at ``at``."""
    if not text.startswith(ch, at):
        return []
    after = at + len(ch)
    return [after + len(lead) for lead in ("就是", "是", "") if text.startswith(lead, after)]


def _word_described_after(text: str, at: int, ch: str) -> bool:
    """Whether ``ch`` is described by a real word right after ``at`` (满意的满, 满 是满意的满)."""
    for start in [at, *_said_again(text, at, ch)]:
        described = _word_description(text, start)
        if (described is not None and described[0] == ch
                and _names_a_surname(text, start, described)):
            return True
    return False


def _description_follows(text: str, at: int, ch: str) -> bool:
    """Whether a description of ``ch`` (or of a homophone of it) starts at ``at``: the name
    before it ends there, however the words run on (我叫武海燕武术的武)."""
    described = _description_near(text, at, at + 1)
    # ``ch`` may be a compound surname (欧阳海燕 欧洲的欧): a description of either character
    return described is not None and any(char_cost(described[0], c) == 0 for c in ch)


def _describes_from(text: str, at: int, ch: str) -> bool:
    """Whether the caller describes the surname ``ch`` from ``at`` on: a word with it
    (黎明的黎), its spelling (口天吴), the surname and then its word (魏 是魏国的魏), or its
    parts (禾字旁的那个程)."""
    if _description_follows(text, at, ch):
        return True
    spelt = _SPELLED_RE.match(text, at)
    if spelt is not None and SPELLED[spelt.group().replace("的", "")] == ch:
        return True  # 我叫吴敏口天吴: its spelling
    for start in _said_again(text, at, ch):  # the surname again, then its word
        if (found := _word_description(text, start)) is not None:
            return found[0] == ch
    parts = spelled_by_parts(text, at, at + 1)
    if parts is not None and parts[0] == ch:
        return True
    if len(ch) == 1 and at < len(text) and char_cost(text[at], ch) == 0:
        # 叫前书针 前是金字旁的钱: the surname said again as heard, then its parts
        parts = spelled_by_parts(text, at + 1, at + 3)
        return parts is not None and parts[0] == ch
    return False


def _run_on_name(text: str, start: int, end: int) -> bool:
    """A two-character given name at ``text[start:end]`` that runs straight on into the
    next words, as unspaced ASR text does (我叫任国庆里就用…): taken when both characters
    are ones given names use and they are not a word of their own (我叫王师傅过来)."""
    given = text[start:end]
    return len(given) == 2 and (
        (plausible_given_name(given) and not _is_word(given))
        # a common given name, or one that sounds like it, even where it is also a word
        # (我叫罗长春门头沟…, 我叫唐叔分通州…)
        or common_given_name(given) in _common_names())


def _nearest_spelling(text: str, at: int) -> re.Match[str] | None:
    """The spelling (弓长张) said nearest ``at``; one the caller denies (黎明的黎 不是木子李)
    names no surname."""
    found = [m for m in _SPELLED_RE.finditer(text)
             if "不是" not in text[max(0, m.start() - 3) : m.start()]]
    return min(found, key=lambda m: abs(m.start() - at)) if found else None


# A spelling heard by sound may cost this much: 宫长张 (0), 耳东城 (0.35), 三红王 (0.75).
_SPELLING_COST = 0.8
_SPELLED_INDEX = SoundIndex(SPELLED, max_cost=_SPELLING_COST)


def _spelling_by_sound(text: str, after: int, reach: int = 3) -> tuple[str, int] | None:
    """弓长张 heard as 宫长张 / 耳东城: a spelling starting within ``reach`` characters of
    ``after``, matched by sound (:mod:`workorders.sound`); the cheapest one wins."""
    hits = _SPELLED_INDEX.find(text, after, min(after + reach, len(text)))
    if not hits:
        return None
    spelled, hit = min(hits, key=lambda ph: (ph[1].cost, ph[1].start, -len(ph[0])))
    return SPELLED[spelled], hit.end


# The ASR's tone slips too (冯 feng2 written 凤 feng4, 李 li3 written 立 li4): against one of
# the commonest surnames, this many, far commoner than any rare homophone, the frequency
# prior outweighs the tone (凤 → 冯, not 奉; 立 → 李, not 栗).
_PRIOR_OVER_TONE = 30


def surname_by_sound(ch: str, by_tone: bool = True) -> tuple[str, float] | None:
    """The surname a heard character most likely stands for, and the cost of hearing it so.

    A character that is a common surname stands for itself. Otherwise the candidates are
    the surnames that sound like it (its usual reading first; the others cost a little more;
    fuzzy-pinyin and measured confusions cost what :mod:`workorders.sound` says), and among
    equally close ones the more frequent surname wins: the homophone prior. A rarer
    surname heard as itself (章) gives way to a commoner homophone (张) only when it ranks
    below ``_COMMON``; a spelling (立早章) said nearby settles it either way. A surname with
    the character's usual syllable and tone comes before the others, rare or not (but not
    before one of the commonest, see :data:`_PRIOR_OVER_TONE`), unless ``by_tone`` is false
    (the character was heard as part of a word, whose tones it has)."""
    if ch in SURNAMES and _RANK[ch] < _COMMON:
        return ch, 0.0
    if ch in _NEVER_SURNAME:
        return None
    readings = plain_readings(ch)
    if not readings:
        return None
    heard_tones = tones(ch)
    usual = heard_tones[0] if heard_tones else None
    # (cost, not the usual syllable and tone, rare, tone differs, rank, surname): a
    # surname with the heard character's usual syllable and tone comes first, rare or not
    # (繁 fan2 → 樊 fan2, not 范 fan4; 燕 yan4 → 晏, not 闫 yan2): the ASR wrote the tone
    # it heard. Among the rest the common surnames come first, one with a tone of any
    # reading of the character before the others (路 lu4 → 陆 lu4, not 卢 lu2; 使 shi3 →
    # 史, not 石), then the more frequent; a rare surname only after them (神 shen2 → 沈).
    # The tone only breaks ties: it never makes a match.
    keys: list[tuple[float, bool, bool, bool, int, str]] = []
    for order, reading in enumerate(readings[:3]):
        tones_of_reading = {t for r, t in heard_tones if r == reading}
        for surname, primary in _PRIMARY.items():
            if surname in _WRITTEN_ONLY:
                continue
            cost = syllable_cost(reading, primary) + 0.3 * order
            if cost > _SURNAME_COST or (cost > 0 and _RANK[surname] >= _COMMON):
                continue  # only a common surname is worth a guess by near sound
            as_usual = by_tone and usual == (primary, _PRIMARY_TONE[surname])
            keys.append((cost, not as_usual, _RANK[surname] >= _COMMON,
                         _PRIMARY_TONE[surname] not in tones_of_reading, _RANK[surname],
                         surname))
    if not keys:
        return (ch, 0.0) if ch in SURNAMES else None
    best = min(keys)
    prior = min(keys, key=lambda k: k[:1] + k[2:])  # the same order, the usual tone aside
    if prior[-2] < _PRIOR_OVER_TONE:
        best = prior
    if ch in SURNAMES and best[0] > 0:
        return ch, 0.0  # a rarer surname with no commoner homophone: as heard
    return best[-1], best[0]


_SELF = "我"
_BY_SOUND_CUES = ("姓", "叫")
_CUE_COST = 0.45
# A name of at most three characters, then the caller's number.
_CONTACT_SOON = re.compile(".{0,2}(?:我的?)?(?:电话|手机|号码|联系)")


def _introduction_by_sound(compact: Compact) -> _Found | None:
    """我姓 / 我叫 heard by sound (我信, 我性, 我行, 我新, 卧信), the surname after it heard by
    sound too (我兴奋 → 冯, 我信礼物 → 李, 我叫无名 → 吴), or settled by a spelling heard
    by sound right after it (我新城耳东城 → 陈).

    Of several, one the caller goes on to spell (by its parts, or by a word it is in) wins
    over an earlier one that nothing confirms (我先找了个 … 我先攀 三点水一个翻 → 潘)."""
    text = compact.text
    plain: _Found | None = None
    for i in range(len(text) - 2):
        if text[i] != _SELF and char_cost(_SELF, text[i]) > _CUE_COST:
            continue  # 我, or a homophone of it (卧信罗)
        cue = next((c for c in _BY_SOUND_CUES if char_cost(c, text[i + 1]) <= _CUE_COST), None)
        if cue is None:
            continue
        at = i + 2
        if _number_starts(text, at):
            continue  # 我姓一一五二…, 我姓幺三八…: the number
        spelled = _spelling_by_sound(text, at, reach=3)
        if spelled is not None:
            return spelled[0], i, spelled[1], 0.75
        if cue == "叫" and text[at] not in SURNAMES and not _CONTACT_SOON.match(text, at + 1):
            # 我叫 + a homophone alone is too weak (我叫人来), unless the caller's number
            # follows the name at once (我较中伟我手机…), or the name is spelled and the
            # spelling ends with the surname again, then the number (我叫正国动 官买正 电话).
            heard = surname_by_sound(text[at])
            if heard is not None and heard[1] == 0 and (
                    _spelling_tail(text, at)
                    or _common_given_after(text, at)):
                # …or a common given name follows, however written (我叫旁雪梅 → 庞)
                return heard[0], i, at + 1, 0.6
            continue
        if _is_word(text[i + 1 : at + 1]) and not (
            _CONTACT_AFTER.match(text, at + 1)
            or (cue == "叫" and (end := _given_end(compact, at + 1)) > at + 1
                and _CONTACT_AFTER.match(text, end))
        ):
            continue  # 我信任物业, 我行为…: a word, unless contact details follow (我兴奋 电话,
            # 我叫好归之电话 → 郝; but 我叫好几次电话…: 好几 is a word)
        if text[at] in SURNAMES and (c := _CONFIRMED.match(text, at + 1)) \
                and text.startswith(text[at], c.end()):
            # 我星季 季季的季: the character heard is the one the caller describes, whatever
            # the word was heard as; not its commoner homophone.
            return text[at], i, at + 1, 0.7
        heard = surname_by_sound(text[at])
        if heard is None:
            continue
        found = (heard[0], i, at + 1, round(0.7 - 0.3 * heard[1], 3))
        if (_parts_after(text, at + 1)
                or _description_near(text, at + 1, at + 3) is not None):
            return found
        plain = plain or found
    return plain


# After a name, a spelling of its surname ends with the surname's character again.
_TAIL_FROM, _TAIL_TO = 3, 7
_NUMBER_NEXT = re.compile("电话|手机|号码|联系|[要腰幺零一二三四五六七八九0-9]|$")


def _spelling_tail(text: str, at: int) -> bool:
    """Whether the heard surname at ``at`` comes again, as an exact homophone, a few
    characters after the given name and right before the caller's number: the end of a
    spelling (正国动 官买正 电话, 鱼养 敢勾鱼 要三一…)."""
    for k in range(at + _TAIL_FROM, min(at + _TAIL_TO, len(text))):
        if char_cost(text[k], text[at]) == 0 and _NUMBER_NEXT.match(text, k + 1):
            return True
    return False


@lru_cache(maxsize=1)
def _words() -> frozenset[str]:
    from pypinyin.phrases_dict import phrases_dict

    return frozenset(phrases_dict)


def _is_word(chars: str) -> bool:
    """Whether ``chars`` is a word of pypinyin's phrase dictionary (信任, 兴奋)."""
    return chars in _words()


# 姓 as the ASR writes it (性, 信, 幸, 兴 …), just before a described character.
_SURNAME_CUE_HEARD = frozenset("姓性信幸兴")


# Surnames that are a province's one-character name, which callers name it by: 河北简称那个冀
# (简称 as Whisper may write it: 检称, 剪称 …).
_PROVINCE_NAMES = {"河北": "冀", "山东": "鲁", "山西": "晋", "湖北": "鄂", "广西": "桂",
                   "江苏": "苏", "吉林": "吉", "内蒙": "蒙", "宁夏": "宁", "甘肃": "甘"}
_PROVINCE_RE = re.compile(f"({'|'.join(_PROVINCE_NAMES)})(?:省|古)?的?[简检剪减见建][称成城程]")
# How far after the surname (or the name) the province may be named.
_PROVINCE_REACH = 6


def _province_named(text: str, start: int = 0) -> _Found | None:
    """河北简称那个冀: the surname a caller names by the province it abbreviates."""
    m = _PROVINCE_RE.search(text, start)
    if m is None:
        return None
    return _PROVINCE_NAMES[m.group(1)], m.start(), m.end(), 0.8


def _described_surname(text: str) -> _Found | None:
    """我寄武 武术的武 / 我是孟 孟子的孟: a character the caller describes by a word, just
    after 我 and a cue however heard, is their surname (a homophone of it, by sound)."""
    for i in range(1, len(text)):
        end = _described(text, i)
        if end is None or not (_SELF in text[max(0, i - 3) : i]
                               or text[i - 1] in _SURNAME_CUE_HEARD):
            continue  # 我… or 姓 as heard (二八性方 方言的方: 姓方 said without 我)
        word = text[i + 1 : end - 2]
        named = word_described(word, word.index(text[i]))
        if named is not None and named[1] == 0:
            return named[0], i, end, 0.7  # 我先车 起车的车 → 汽车的车
        if text[i] in SURNAMES or text[i] in DESCRIBED_ONLY:
            return text[i], i, end, 0.7  # 我现商 商量的商: a surname, described as itself
        heard = surname_by_sound(text[i])
        if heard is not None and heard[1] == 0:
            return heard[0], i, end, 0.7
    for i in range(1, len(text) - 3):
        # 我叫项饼 方向的项: the word written right, the character heard as a homophone of
        # the one in it, and the heard surname one too.
        if _SELF not in text[max(0, i - 3) : i]:
            continue
        described = _description_near(text, i + 1, i + 4)
        if (described is not None and char_cost(described[0], text[i]) == 0
                and char_cost(text[described[2] - 1], text[i]) == 0):
            return described[0], i, described[2], 0.7
    for i in range(1, len(text) - 3):
        # 来信和 祝贺的恨: 姓 heard as a homophone right before a homophone of the surname
        # that a word written right describes.
        if text[i - 1] not in _SURNAME_CUE_HEARD:
            continue
        described = _description_near(text, i + 1, i + 2)
        if (described is not None and described[0] in SURNAMES
                and char_cost(described[0], text[i]) == 0):
            return described[0], i, described[2], 0.6
    for i in range(len(text) - 3):
        # 我不说名字了 究竟包 包子的包 电话…: no cue heard, but a surname described as itself
        # by a word it is in, right before the contact details.
        end = _described(text, i)
        if (end is not None and (text[i] in SURNAMES or text[i] in DESCRIBED_ONLY)
                and text[i] not in _WRITTEN_ONLY and _CONTACT_AFTER.match(text, end)):
            return text[i], i, end, 0.6
    return None


def _called_surname(compact: Compact) -> _Found | None:
    """我叫李 电话…: a surname alone after 我叫, when no given name could be read."""
    text = compact.text
    for m in _SELF_NAME.finditer(text):
        found = _surname_at(text, m.end())
        if found and _word_ends(compact, m.end() + len(found)):
            return found, m.start(), m.end() + len(found), 0.7
    return None


# How far past a surname's evidence its compound may be written (我新诸葛诸葛亮的诸葛).
_COMPOUND_AFTER = 3


def _compound_written(text: str, surname: _Found) -> _Found:
    """A one-character surname that starts a compound surname written at it (我先欧阳, heard
    by sound as 欧; 诸葛亮的诸 葛 …), or that with the character after it is a compound's
    exact homophone, the second character as written (斯徒 → 司徒): the compound."""
    value, start, end, confidence = surname
    if len(value) != 1:
        return surname
    window = text[start : end + _COMPOUND_AFTER]
    for compound in COMPOUND_SURNAMES:
        at = window.find(compound) if compound[0] == value else -1
        if at >= 0 and not text.startswith("的", start + at + 2):  # 东方的东 describes 东
            return compound, start, max(end, start + at + 2), confidence
    heard = text[end - 1 : end + 1]  # the surname and the one after it
    if len(heard) < 2 or text.startswith("的", end + 1) or _a_word(text[end : end + 2]):
        return surname  # 我姓于 文化路: the next character starts a word of its own
    for compound in COMPOUND_SURNAMES:
        if heard[1] == compound[1] and substitution_cost(compound, heard) == 0:
            # 我姓斯徒 / 朱葛亮: the compound, its first character heard as an exact homophone
            return compound, start, end + 1, confidence
    return surname


def _compound_by_sound(text: str) -> _Found | None:
    """我复兴欧阳 / 免贵附近司马: 复姓 heard as words that sound like it, then a compound
    surname, heard exactly or by sound (思马 → 司马) within a few characters."""
    for m in _COMPOUND_CUE.finditer(text):
        at = m.end()
        if at + 2 >= len(text) or char_cost("复", text[at]) > _SURNAME_COST or char_cost(
                "姓", text[at + 1]) > _SURNAME_COST:
            continue
        for p in range(at + 2, min(at + 2 + _COMPOUND_REACH, len(text) - 1)):
            for compound in COMPOUND_SURNAMES:
                if substitution_cost(compound, text[p : p + 2]) <= _SURNAME_COST:
                    return compound, m.start(), p + 2, 0.8
    return None


def _nickname(compact: Compact) -> _Found | None:
    """叫我小王就行 / 我是老李: a surname in a familiar form."""
    text = compact.text
    for m in _NICKNAME.finditer(text):
        found = _surname_at(text, m.end())
        if found and _word_ends(compact, m.end() + len(found)):
            return found, m.start(), m.end() + len(found), 0.7
    return None


def _titled(text: str, *, of_oneself: bool = True) -> _Found | None:
    """我是王女士 / 叫我李阿姨 / 联系人赵先生: a surname with a title, said of oneself (or,
    without ``of_oneself``, alone, as an answer to the name question: 王女士)."""
    for m in _TITLE.finditer(text):
        for size in (2, 1):
            at = m.start() - size
            found = _surname_at(text, at) if at >= 0 else None
            if found and len(found) == size and (
                    not of_oneself or _SELF_TITLE.search(text[max(0, at - 3) : at])):
                return found, at, m.end(), 0.85
    return None


def _parts_after(text: str, at: int) -> bool:
    """Whether a spelling by parts starts right at ``at`` or one character after it."""
    return spelled_by_parts(text, at, at + 2) is not None


def _heard_at(surname: _Found, full: _Found | None) -> int:
    """Where the surname's character is in the text as heard: a full name's first, else
    the introduction's last."""
    if full is not None and full[2] == surname[2]:
        return full[2] - len(full[0])
    return surname[2] - 1


def _written_as_heard(text: str, surname: _Found, full: _Found | None) -> bool:
    """A surname-only character written as such (郜, 褚, 佟): the ASR wrote it because it
    heard it, and the caller's spelling of it (郜 告诉的告, 褚 衣字旁一个者) confirms rather
    than changes it."""
    at = _heard_at(surname, full)
    return (0 <= at < len(text) and text[at] == surname[0] and surname[0] in SURNAMES
            and not _ordinary_character(surname[0]))


def _describes_homophone(text: str, surname: _Found, full: _Found | None) -> bool:
    """我姓项 方向的向: the caller names, by a word written as such, another surname that
    sounds the same as the one written; that settles it even where the written one is a
    surname character only (a word that names no surname, 郜 告诉的告, only confirms)."""
    described = _description_near(text, *_after_name(surname, full, _DESCRIPTION_REACH))
    if described is None:
        return False
    char, start, end = described
    return (char != surname[0] and char in SURNAMES and char not in _WRITTEN_ONLY
            and char in text[start:end] and char_cost(char, surname[0]) == 0
            # (鲍 是包子的包 加个鱼字旁: the word names a part the surname is built on)
            and not text.startswith(_PART_ADDED, end))


_PART_ADDED = ("加", "再加", "旁", "边", "字", "左边", "右边", "上面", "下面", "底下")


# A spelling by parts starting this close after the surname (or the full name) spells it.
_PARTS_REACH = 4


def _after_name(surname: _Found, full: _Found | None, reach: int) -> tuple[int, int]:
    """Where a spelling or description of the surname may start: from its character as
    heard to ``reach`` characters past the surname (or the full name that starts with it)."""
    named_end = full[2] if full is not None and full[0].startswith(surname[0]) else 0
    return surname[2] - 1, max(surname[2], named_end) + reach


def _renamed(surname: _Found, full: _Found | None, char: str, end: int
             ) -> tuple[_Found, _Found | None]:
    """The surname settled as ``char`` by what the caller said up to ``end``, and the full
    name with it."""
    if full is not None and full[0].startswith(surname[0]):
        full = (char + full[0][1:], full[1], full[2], full[3])
    return (char, surname[1], max(surname[2], end), 0.9), full


def _settled_by_parts(text: str, surname: _Found, full: _Found | None
                      ) -> tuple[_Found, _Found | None] | None:
    """我姓童 单立人一个冬天的冬 → 佟: a spelling by parts (:mod:`workorders.parts`) right
    after the surname says which character it is, as 弓长张 does; None where there is none."""
    spelled = spelled_by_parts(text, *_after_name(surname, full, _PARTS_REACH))
    if spelled is None or _inside_own_word(text, surname, spelled[1]):
        return None
    if spelled[0] == surname[0]:  # 我叫中秀兰 金字旁一个中 → 钟: the spelling confirms it
        return (surname[0], surname[1], surname[2], max(surname[3], 0.9)), full
    return _renamed(surname, full, spelled[0], spelled[2])


def _inside_own_word(text: str, surname: _Found, at: int) -> bool:
    """我姓鄂 鄂尔多斯的鄂: what starts at ``at`` goes on a word that starts with the surname
    as written and is followed by 的 and the surname, a description of it (尔多 is no
    耳朵旁)."""
    char = surname[0]
    return (len(char) == 1 and surname[2] <= at - 1 < len(text) and text[at - 1] == char
            and 0 <= text.find("的" + char, at) <= at + _DESCRIPTION_REACH)


def _name_spelled_after(compact: Compact) -> tuple[_Found, _Found] | None:
    """A full name said without 我叫 (after the number, at the end of the call) and spelled
    by parts right after it: 汪建新 三点水一个王. Its given name must be plausible."""
    text = compact.text
    spelled = spelled_by_parts(text, 0, len(text))
    if spelled is None:
        return None
    char, start, end = spelled
    for size in (3, 2):
        at = start - size
        if at < 0 or text[at] != char:
            continue
        given = text[at + 1 : start]
        if plausible_given_name(given) and (at == 0 or at in compact.breaks
                                            or text[at - 1] in DIGITS):
            return (char, at, end, 0.8), (text[at:start], at, end, 0.8)
    return None


# A name said bare (孙德旺 at the end of the call, 高建军 before the number): taken only
# where nothing else names the caller, for a common surname and a common given name, a
# word of its own (or any surname and a plausible given name the caller then describes:
# 黄志远 黄色的黄, at the confidence of a described name).
_BARE_CONFIDENCE = 0.6
# Before a bare name, words that make it someone else's (村支书 李建国, 物业的 王建军); after
# it, words that go on about that someone (李建国 他贪污).
_OTHER_BEFORE = ("书记", "支书", "主任", "经理", "老板", "师傅", "队长", "站长", "局长", "所长",
                 "村长", "组长", "班长", "老师", "医生", "大夫", "物业", "保安", "司机", "民警",
                 "警官", "的", "找", "叫", "和", "跟", "给")
_OTHER_AFTER = ("他", "她", "说", "这个人", "那个人", "这人", "那人")


def _bare_start(compact: Compact, at: int) -> bool:
    """Whether a bare name may start at ``at``: the start, a pause, or just after a number
    (three digits at least: 要 or 一 alone are as often words)."""
    text = compact.text
    return (at == 0 or at in compact.breaks
            or (at >= _NUMBER_RUN and all(ch in DIGITS for ch in text[at - _NUMBER_RUN : at])))


def _bare_end(compact: Compact, at: int) -> bool:
    """Whether a bare name may end at ``at``: the end, a pause, or a number starting."""
    return at >= len(compact.text) or at in compact.breaks or _number_starts(compact.text, at)


def _bare_name(compact: Compact) -> tuple[_Found, _Found] | None:
    """The caller's name said bare (see :data:`_BARE_CONFIDENCE`): the surname and the name,
    or None when there is none, or more than one that differ."""
    text = compact.text
    found: list[tuple[_Found, _Found]] = []
    placed = {i for m in knowledge().gazetteer.mentions(text) for i in range(m.start, m.end)}
    for at, ch in enumerate(text[:-2]):
        if ch not in _RANK or ch in DESCRIBED_ONLY or ch in _NEVER_SURNAME or at in placed:
            continue
        end = at + 3
        given = text[at + 1 : end]
        if (_is_word(text[at:end]) or _is_word(text[at:at + 2])
                or {at + 1, at + 2} & compact.breaks or not plausible_given_name(given)):
            continue
        described = _word_description(text, end)
        if described is not None and described[0] == ch:
            # the description says where the name starts, with or without a pause before it
            name = (_commonly_spelt(text[at:end]), at, described[1], 0.8)
            return (ch, at, described[1], 0.8), name
        if (_RANK[ch] < _COMMON and _bare_start(compact, at) and _bare_end(compact, end)
                and common_given_name(given) in _common_names()
                and not text[:at].endswith(_OTHER_BEFORE)
                and not text.startswith(_OTHER_AFTER, end)):
            name = (ch + common_given_name(given), at, end, _BARE_CONFIDENCE)
            found.append(((ch, at, end, _BARE_CONFIDENCE), name))
    if len({name[0] for _s, name in found}) == 1:
        return found[0]
    return None


def _a_word(chars: str) -> bool:
    """Whether ``chars`` is a word of the phrase dictionary or a title (我叫师傅来修)."""
    return _is_word(chars) or _TITLE.fullmatch(chars) is not None


def _common_given_after(text: str, at: int) -> bool:
    """Whether the two characters after ``at`` sound like a common given name (一名 too:
    甄一鸣), and the character at ``at`` makes no word with the first (我叫师傅来修)."""
    return _sounds_common(text[at + 1 : at + 3]) and not _a_word(text[at : at + 2])


def _given_after_homophone(text: str, surname: _Found) -> _Found | None:
    """我叫隔离评 / 我教单历历: the surname just before ``surname``'s end, as written or as
    an exact homophone, then two characters that sound like a common given name: the name
    (葛丽萍, 单丽丽). Not after a nickname (小王 丽华小区, 老张 建国路)."""
    at = surname[2]
    if (len(surname[0]) != 1 or at < 1 or text[at - 2 : at - 1] in ("小", "老")
            or char_cost(text[at - 1], surname[0]) > 0 or not _common_given_after(text, at - 1)):
        return None
    return (surname[0] + common_given_name(text[at : at + 2]), at - 1, at + 2,
            min(surname[3], 0.6))


def _introduced_by_parts(text: str) -> _Found | None:
    """我心 门里面一个勇敢的敢: a spelling by parts just after 我 and a cue, however heard."""
    for m in re.finditer(_SELF, text):
        spelled = spelled_by_parts(text, m.end() + 1, m.end() + 3)
        if spelled is not None:
            return spelled[0], m.start(), spelled[2], 0.7
    return None


# A description starting this close after the heard surname describes it, however far
# the character it names sounds from the one heard (彭 就是 滕王阁的滕: one shared final).
_DESCRIPTION_NEXT = 3


def _settled_by_description(text: str, surname: _Found, full: _Found | None
                            ) -> tuple[_Found, _Found | None]:
    """我姓李 李明的李 / 我叫齐明亮 齐联山的齐: the word the caller names the surname's
    character by, heard by sound, settles a homophone (黎明的黎 → 黎, 祁连山的祁 → 祁), and
    the full name's surname with it. The description must name the character heard in
    the introduction, one that sounds like the surname, or come right after it."""
    described = _description_near(text, *_after_name(surname, full, _DESCRIPTION_REACH))
    if described is None:
        return surname, full
    if described[0] == surname[0]:  # 我信沾 沾天佑的沾: the description confirms it
        return (surname[0], surname[1], surname[2], max(surname[3], 0.9)), full
    char, start, end = described
    at = _heard_at(surname, full)
    heard_cost = char_cost(char, text[at]) if 0 <= at < len(text) else 1.0
    if not (heard_cost <= _SURNAME_COST or char_cost(char, surname[0]) <= _SURNAME_COST
            or (start - surname[2] <= _DESCRIPTION_NEXT
                and min(heard_cost, char_cost(char, surname[0])) < 1)):
        return surname, full
    return _renamed(surname, full, char, end)


# 应该得应, 岳飞地岳: 的 in a description written as a homophone (得, 地).
_DE_HEARD = "得地"
_DE = "的"


def _de_as_heard(compact: Compact) -> Compact:
    """``compact`` with 的 for a homophone written where a caller describes a surname by a
    word it is in (应该得应 is 应该的应): a word of two or three characters, the homophone,
    and a surname of that word right after it."""
    text = compact.text
    chars = list(text)
    for at in range(2, len(text) - 1):
        said = text[at + 1]
        if (text[at] in _DE_HEARD and (said in SURNAMES or said in DESCRIBED_ONLY)
                and said in text[max(0, at - 3) : at]):
            chars[at] = _DE
    fixed = "".join(chars)
    return compact if fixed == text else replace(compact, text=fixed)


def find_name(compact: Compact) -> CallerName:
    """The caller's name and surname; fields are empty when the caller gave none."""
    compact = _de_as_heard(compact)
    text = compact.text
    surname = _self_surname(compact)
    spelled = _nearest_spelling(text, surname[2] if surname else 0)
    if spelled and (surname is None or abs(spelled.start() - surname[2]) <= 6):
        # The spelling settles a homophone the ASR may have written (我姓章 弓长张 → 张).
        value = SPELLED[spelled.group().replace("的", "")]
        start = surname[1] if surname else spelled.start()
        surname = (value, start, spelled.end(), _SPELT)
    elif surname is not None and spelled_by_parts(text, surname[2], surname[2] + 2) is None:
        # (a spelling by parts is read below: 木字底下一个旦 is 查, not 木子李 by sound)
        heard = _spelling_by_sound(text, surname[2])
        if heard is not None:
            surname = (heard[0], surname[1], heard[1], 0.9)
    if surname is not None:
        # 我姓贺 … 不对 是贺: a corrected surname after the first one replaces it.
        fix = _CORRECTED.search(text, surname[2])
        if fix and _word_ends(compact, fix.end()) and fix.group(1) in SURNAMES:
            surname = (fix.group(1), surname[1], fix.end(), 0.9)
    full = _full_name(compact, surname)
    if full is None and surname is not None:
        full = _name_after_surname(compact, surname)
    if full is not None:
        full = (_commonly_spelt(full[0]), *full[1:])
    if (full is not None and surname is not None and surname[3] >= _SPELT
            and len(surname[0]) == 1 and not full[0].startswith(surname[0])
            and char_cost(full[0][0], surname[0]) == 0):
        # 我叫张雅琪 立早章: the spelling settles the homophone the name was written with
        full = (surname[0] + full[0][1:], full[1], full[2], full[3])
    if full is not None and (surname is None or not full[0].startswith(surname[0])):
        compound = _surname_at(full[0], 0) or full[0][0]
        surname = (compound, full[1], full[2], full[3])
    if full is not None:
        given = full[0][len(_surname_at(full[0], 0) or full[0][0]):]
        if not plausible_given_name(given):
            full = (full[0], full[1], full[2], min(full[3], IMPLAUSIBLE_NAME_CONFIDENCE))
    late = surname is None
    if surname is None:
        surname = _called_surname(compact) or _titled(text) or _nickname(compact)
    if surname is None:
        surname = _compound_by_sound(text) or _introduction_by_sound(compact)
    if surname is None:
        surname = _described_surname(text) or _province_named(text)
    if surname is not None and len(surname[0]) == 1 and surname[3] < _SPELT:
        # A spelling by parts names its character outright (我姓彭 单立人一个冬天的冬 →
        # 佟); a description only settles a homophone, so a surname-only character
        # written as heard stands (郜 告诉的告).
        parted = _settled_by_parts(text, surname, full)
        if parted is not None:
            # composed from its parts (将军的将 加个草字头 → 蒋): the description inside
            # the spelling names a part, not the surname
            surname, full = parted
        elif not _written_as_heard(text, surname, full) or _describes_homophone(
                text, surname, full):
            surname, full = _settled_by_description(text, surname, full)
    elif surname is None:
        surname = _introduced_by_parts(text)
    if surname is None and full is None:
        # 汪建新 三点水一个王: a name said bare, then its surname spelled by its parts
        bare = _name_spelled_after(compact) or _bare_name(compact)
        if bare is not None:
            surname, full = bare

    if late and surname is not None and full is None:
        # 我新上 高上的上 叫上国强: the name after the description of a surname found
        # only once the introduction was read by sound
        full = _full_name(compact, surname)
        if full is not None and full[0].startswith(surname[0]):
            full = (_commonly_spelt(full[0]), *full[1:])
        else:
            full = _given_after_homophone(text, surname)
    if surname is not None and full is None:
        surname = _compound_written(text, surname)

    if surname is not None and len(surname[0]) == 1:
        # 我叫纪长河 河北简称那个冀: the province settles the homophone
        province = _province_named(text, surname[1])
        reach = max(surname[2], full[2] if full is not None else 0) + _PROVINCE_REACH
        if (province is not None and province[0] != surname[0] and province[1] <= reach
                and char_cost(province[0], surname[0]) == 0):
            surname, full = _renamed(surname, full, province[0], province[2])

    refused = _REFUSAL.search(text)
    if refused:
        full = None
        if surname is not None and surname[1] < refused.start() and surname[3] < 0.9:
            surname = None

    def field(found: _Found | None) -> FieldValue[str]:
        if found is None:
            return FieldValue()
        return FieldValue(found[0], found[3], compact.span(found[1], found[2]))

    return CallerName(field(full), field(surname))


# A short answer to the name question that names no one else: read as a bare name.
ANSWER_MAX_CHARS = 24
_ANSWER_FILLER = re.compile("^(?:嗯|啊|呃|哦|喂|那个|就是|我|是|姓|叫|写|记|就写|你就写|你写|"
                            "免贵|本人|名字|的话)*")


def answer_name(text: str, *, bare: bool = True) -> CallerName:
    """The name in a caller's answer to the name question (您贵姓?), which often has no
    我姓 or 我叫: 耳东陈 陈志刚, 宋朝的宋, 三点水一个工, 王女士, 陈 陈志强. What
    :func:`find_name` reads comes first; a refusal names no one."""
    c = compact(text)
    found = find_name(c)
    t = c.text
    if _REFUSAL.search(t) or len(t) > ANSWER_MAX_CHARS:
        return found
    known = found.surname.value
    if known is not None:
        given = (found.name.value or "")[len(known):]
        if given.startswith(known):  # 我叫陈 陈 陈志强 read as 陈陈
            found = CallerName(FieldValue(), found.surname)
        if found.name.value is None:  # 免贵姓冯 冯卫东: the full name after the surname
            full = _full_name_after(c, known)
            if full is not None:
                conf = found.surname.confidence or 0.8
                return CallerName(FieldValue(full[0], conf, c.span(*full[1:])), found.surname)
        return found

    def named(surname: str, start: int, end: int, confidence: float) -> CallerName:
        full = _full_name_after(c, surname)
        return CallerName(
            FieldValue(full[0], confidence, c.span(*full[1:])) if full else FieldValue(),
            FieldValue(surname, confidence, c.span(start, end)))

    spelled = _nearest_spelling(t, 0)
    if spelled is not None:
        return named(SPELLED[spelled.group().replace("的", "")], spelled.start(),
                     spelled.end(), 0.85)
    parts = spelled_by_parts(t, 0, len(t))
    if parts is not None:
        return named(parts[0], parts[1], parts[2], 0.8)
    for i in range(len(t)):
        described = _word_description(t, i)
        if described is not None and _names_a_surname(t, i, described):
            return named(described[0], i, described[1], 0.8)
    titled = _titled(t, of_oneself=False) if bare else None  # else maybe someone else's
    if titled is not None:
        return named(titled[0], titled[1], titled[2], 0.8)
    filler = _ANSWER_FILLER.match(t)
    start = filler.end() if filler else 0
    surname = _surname_at(t, start)
    if surname is not None and not _is_word(t[start : start + 2]):
        read = named(surname, start, start + len(surname), 0.75)
        if bare or (read.name.value is not None and read.name.span is not None
                    and c.span(start, len(t)) == read.name.span):
            return read  # without ``bare``, only an answer that is a full name alone
    return found


def _full_name_after(c: Compact, surname: str) -> tuple[str, int, int] | None:
    """A full name under ``surname`` in a short answer (陈 陈志刚, 宋朝的宋 叫宋敏): the
    surname and a plausible given name of one or two characters, a word of its own (a
    space or the end after it; 孙子的孙, 毛巾的毛 are words, not names)."""
    text = c.text
    for m in re.finditer(re.escape(surname), text):
        end = m.end()
        if end in c.breaks and end < len(text):
            continue  # 陈 陈志强: the surname said alone first
        for size in (2, 1):
            given = text[end : end + size]
            stop = end + size
            if (len(given) == size and plausible_given_name(given) and surname not in given
                    and not _is_word(surname + given)
                    and (stop == len(text) or stop in c.breaks)):
                return _commonly_spelt(surname + given), m.start(), stop
    return None
