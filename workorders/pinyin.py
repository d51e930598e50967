"""Toneless, fuzzy pinyin per character, for matching ASR homophones (清和 → 清河).

pypinyin's phrase segmentation costs a third of a millisecond per transcript, more than
the whole drafting budget, so this reads its single-character table once and caches the
readings of each character. Every reading of a polyphone is kept: the gazetteer name and
the heard character match when any reading agrees.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict

# Merges that Mandarin speakers and ASR confuse often: retroflex/flat initials and
# front/back nasal finals. n/l is left apart: merging it makes too many 2-syllable names
# collide.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


def _strip_tone(reading: str) -> str:
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fuzzy(syllable: str) -> str:
    """Fold a toneless syllable so that near-homophones compare equal."""
    for long, short in _INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FINALS:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


@lru_cache(maxsize=8192)
def readings(ch: str) -> frozenset[str]:
    """Fuzzy toneless readings of one character; a non-Han character reads as itself."""
    raw = pinyin_dict.get(ord(ch))
    if raw is None:
        return frozenset((ch,))
    return frozenset(fuzzy(_strip_tone(r)) for r in raw.split(","))


@lru_cache(maxsize=8192)
def plain_readings(ch: str) -> tuple[str, ...]:
    """Exact toneless readings of one character, most common first; empty if not Han."""
    raw = pinyin_dict.get(ord(ch))
    if raw is None:
        return ()
    return tuple(dict.fromkeys(_strip_tone(r) for r in raw.split(",")))


_TONE_MARKS = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}


@lru_cache(maxsize=8192)
def tones(ch: str) -> tuple[tuple[str, int], ...]:
    """(toneless reading, tone 1-4, 5 for the neutral tone) of each reading of ``ch``, most
    common first; empty if not Han."""
    raw = pinyin_dict.get(ord(ch))
    if raw is None:
        return ()
    out: list[tuple[str, int]] = []
    for reading in raw.split(","):
        marks = [_TONE_MARKS[c] for c in unicodedata.normalize("NFD", reading)
                 if c in _TONE_MARKS]
        out.append((_strip_tone(reading), marks[0] if marks else 5))
    return tuple(out)


def sounds_alike(a: str, b: str) -> bool:
    """Whether two strings of equal length could be heard as each other."""
    return len(a) == len(b) and all(
        x == y or readings(x) & readings(y) for x, y in zip(a, b, strict=True)
    )

