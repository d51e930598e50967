"""Spoken choices: matching ASR text (Whisper: Simplified Chinese, homophones, Arabic
digits) against menu keywords, and the phrase list for a Vosk runtime grammar.

A keyword matches at one of three levels, best first: the characters themselves; the same
toneless pinyin (咨询/资讯, 投诉/投述 misheard as the same syllables); or "loose" pinyin that
merges the pairs southern speakers and ASR confuse (z/zh, c/ch, s/sh, n/l, an/ang, en/eng,
in/ing). A caller saying a key ("按1", "一", "零号键") chooses that key outright.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin

from ivr.model import CollectNode, MenuNode, Node, Option

_DIGIT_CHARS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2",
                "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8",
                "九": "9", "勾": "9"}
_DIGIT_WORDS = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九")
_KEY_NAMES = {"星号": "*", "米字": "*", "井号": "#", "井字": "#"}
_SPOKEN_KEY = re.compile(
    r"^(?:我)?(?:要|想)?(?:按|选|选择|摁)?(?:第)?"
    r"([0-9零一二两三四五六七八九幺]|星号|井号|米字|井字)(?:号|个|项)?(?:键)?(?:吧|啊|呀)?$"
)
_YES = ("对的", "对", "是的", "是", "确认", "没错", "正确", "没问题", "好的")
_NO = ("不对", "不是", "错了", "错", "重新", "不正确")
_OWN_NUMBER = ("本机", "这个号码", "这个电话", "来电号码", "当前号码", "就这个", "这个手机")
_LOOSE = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_LOOSE_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Simplified, half-width, lower-case, without spaces and punctuation."""
    text = unicodedata.normalize("NFKC", _t2s().convert(text)).lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in "*#")


_CJK_RUNS = re.compile(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+")


@lru_cache(maxsize=4096)
def _syllables(norm: str) -> tuple[str, ...]:
    """Toneless pinyin per Chinese character; other characters stand for themselves, so
    that "按1" and "按一" differ but "按 1" and "按1" do not."""
    out: list[str] = []
    for run in _CJK_RUNS.findall(norm):
        if "\u4e00" <= run[0] <= "\u9fff":
            out.extend(lazy_pinyin(run, style=Style.NORMAL))  # whole run: polyphones in context
        else:
            out.extend(run)
    return tuple(out)


def _loose(syllable: str) -> str:
    for a, b in _LOOSE:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    for a, b in _LOOSE_FINALS:
        if syllable.endswith(a):
            return syllable[: -len(a)] + b
    return syllable


def _contains(hay: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(tuple(hay[i : i + n]) == tuple(needle) for i in range(len(hay) - n + 1))


@dataclass(frozen=True)
class SpokenChoice:
    """The option an utterance chose, how (``key``, ``chars``, ``pinyin``, ``loose``), and
    the keyword that matched."""

    option: Option
    level: str
    keyword: str


_LEVELS = {"chars": 3, "pinyin": 2, "loose": 1}


def spoken_key(text: str) -> str | None:
    """The DTMF key a short utterance names ("按1", "二", "零号键", "井号"), else None."""
    m = _SPOKEN_KEY.match(normalise(text))
    if m is None:
        return None
    word = m.group(1)
    return _KEY_NAMES.get(word) or _DIGIT_CHARS.get(word, word)


def match_option(options: Iterable[Option], text: str) -> SpokenChoice | None:
    """The option ``text`` chooses, or None when it chooses none or two equally well."""
    options = tuple(options)
    key = spoken_key(text)
    if key is not None:
        for option in options:
            if option.key == key:
                return SpokenChoice(option, "key", key)
    norm = normalise(text)
    if not norm:
        return None
    heard = _syllables(norm)
    heard_loose = tuple(_loose(s) for s in heard)
    best: list[tuple[int, int, SpokenChoice]] = []
    for option in options:
        for word in option.keywords:
            w = normalise(word)
            if not w:
                continue
            level = None
            if w in norm:
                level = "chars"
            elif len(w) >= 2:  # one syllable alone matches far too much speech
                syl = _syllables(w)
                if _contains(heard, syl):
                    level = "pinyin"
                elif _contains(heard_loose, tuple(_loose(s) for s in syl)):
                    level = "loose"
            if level is not None:
                best.append((_LEVELS[level], len(w), SpokenChoice(option, level, word)))
    if not best:
        return None
    best.sort(key=lambda b: (b[0], b[1]), reverse=True)
    top = best[0]
    rivals = {b[2].option for b in best if (b[0], b[1]) == (top[0], top[1])}
    return top[2] if len(rivals) == 1 else None


def spoken_digits(text: str) -> str:
    """The longest run of digits in ``text``, Chinese numerals included
    ("幺三八 0013 八千" → "1380013"). Used for a phone number said instead of keyed."""
    runs: list[str] = []
    current = ""
    for ch in normalise(text):
        digit = ch if ch.isascii() and ch.isdigit() else _DIGIT_CHARS.get(ch)
        if digit is None:
            if current:
                runs.append(current)
            current = ""
        else:
            current += digit
    runs.append(current)
    return max(runs, key=len)


def is_yes(text: str) -> bool | None:
    """True for a spoken confirmation (对/是的/确认), False for a denial (不对/重新), else None."""
    norm = normalise(text)
    if any(w in norm for w in _NO):
        return False
    if any(w in norm for w in _YES):
        return True
    return None


def means_own_number(text: str) -> bool:
    """The caller asks to use the number they are calling from (本机/就这个号码)."""
    norm = normalise(text)
    return any(w in norm for w in _OWN_NUMBER)


def grammar_for(node: Node) -> list[str]:
    """Phrases for a Vosk runtime grammar while the caller is at ``node``.

    Menu nodes: every keyword and the spoken form of every key, plus ``[unk]`` so that
    out-of-grammar speech (the caller describing the problem) comes back as ``[unk]`` and
    the session can switch to free recognition. Collect nodes: the digits. Other nodes
    take free speech: the empty list means "no grammar".
    """
    phrases: list[str] = []
    if isinstance(node, MenuNode):
        for option in node.options:
            phrases.extend(normalise(k) for k in option.keywords)
            if option.key is not None and option.key.isdigit():
                phrases.append(_DIGIT_WORDS[int(option.key)])
    elif isinstance(node, CollectNode):
        phrases.extend(_DIGIT_WORDS)
    else:
        return []
    return [*dict.fromkeys(p for p in phrases if p), "[unk]"]
