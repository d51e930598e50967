"""Confusion-aware matching: how far a heard stretch of text sounds from a word looked for.

Speech recognition writes words the drafter looks for as other characters that sound
alike (区 → 七, 街道 → 接到, 举报 → 去报, 我姓 → 我信). Matching by cost finds them:

- a character costs nothing against itself or a homophone (any reading, tones ignored);
- against a character whose syllable the engine is *measured* to write instead
  (``config/data/syllable_confusions.json``, rebuilt by ``scripts/build_confusions.py``
  from the engine's transcripts of the dev calls), a cost that falls with how often it
  happens;
- against a syllable an input method's fuzzy pinyin pairs with it (z/zh, c/ch, s/sh,
  n/l, f/h, r/l, in/ing, en/eng, an/ang), a small fixed cost;
- against a syllable sharing its initial or its final, a larger one; anything else, 1.

A phrase matches a window of the text by edit distance over characters with those
substitution costs (a missing or extra character costs 1). Callers keep their exact look-up
first and use this only for what the exact path did not find, so exact text reads as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config.data import shipped
from workorders.pinyin import plain_readings

CONFUSIONS_FILE = "syllable_confusions.json"

_IME_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("f", "h"), ("r", "l"))
_IME_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j",
             "q", "x", "r", "z", "c", "s", "y", "w")

IME_COST = 0.35  # a fuzzy-pinyin pair: the same syllable to many speakers
SHARED_COST = 0.75  # the same initial or the same final
INDEL_COST = 1.0
RARE_READING_COST = 0.5


def split_syllable(syllable: str) -> tuple[str, str]:
    """``"zhuang"`` → ``("zh", "uang")``; a syllable without an initial → ``("", s)``."""
    for initial in _INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial):]
    return "", syllable


def ime_fold(syllable: str) -> str:
    """The syllable with input-method fuzzy pairs folded (shang → san, neng → len)."""
    initial, final = split_syllable(syllable)
    for long, short in _IME_INITIALS:
        if initial == long:
            initial = short
            break
    for long, short in _IME_FINALS:
        if final == long:
            final = short
            break
    return initial + final


@dataclass(frozen=True)
class ConfusionTable:
    """Measured syllable substitutions: ``(said, written) → count`` and per-syllable totals."""

    pairs: dict[tuple[str, str], int]
    totals: dict[str, int]

    def cost(self, said: str, written: str) -> float | None:
        """A cost in (0, 1) for a measured substitution, None when never seen."""
        seen = self.pairs.get((said, written), 0) + self.pairs.get((written, said), 0)
        if not seen:
            return None
        share = seen / (self.totals.get(said, 0) + self.totals.get(written, 0) + 10)
        if seen == 1:
            return 0.55  # once may be chance: a little below sharing an initial or a final
        # Each repeat makes it cheaper, and so does its share of the syllables' use:
        # 街道 → 街等 seen twice costs about 0.42, 区 → 七 (a third of all 区) 0.2.
        return round(max(0.2, 0.55 - 0.05 * seen - share), 3)


def load_confusions(path: Path | None = None) -> ConfusionTable:
    """Read a table written by ``scripts/build_confusions.py``."""
    raw = json.loads((path or shipped(CONFUSIONS_FILE)).read_text(encoding="utf-8"))
    pairs = {(str(a), str(b)): int(n) for a, b, n in raw["pairs"]}
    totals = {str(k): int(v) for k, v in raw["totals"].items()}
    return ConfusionTable(pairs, totals)


@lru_cache(maxsize=1)
def confusions() -> ConfusionTable:
    """The shipped table, loaded once; an empty table when the file is missing."""
    try:
        return load_confusions()
    except FileNotFoundError:
        return ConfusionTable({}, {})


@lru_cache(maxsize=65536)
def syllable_cost(a: str, b: str) -> float:
    """Cost of hearing syllable ``a`` written as ``b`` (symmetric, tones already gone)."""
    if a == b:
        return 0.0
    cost = 1.0
    if ime_fold(a) == ime_fold(b):
        cost = IME_COST
    else:
        ia, fa = split_syllable(a)
        ib, fb = split_syllable(b)
        if (ia and ia == ib) or fa == fb:
            cost = SHARED_COST
    measured = confusions().cost(a, b)
    return min(cost, measured) if measured is not None else cost


@lru_cache(maxsize=65536)
def char_cost(x: str, y: str) -> float:
    """Cost of hearing character ``x`` written as ``y``: the cheapest pair of readings."""
    if x == y:
        return 0.0
    rx, ry = plain_readings(x), plain_readings(y)
    if not rx or not ry:
        return 1.0  # a digit, a letter: only itself
    # A character's rarer readings (盖 read ge, 奋 read kang) cost a little more.
    return min(min(1.0, syllable_cost(a, b) + RARE_READING_COST * ((i > 0) + (j > 0)))
               for i, a in enumerate(rx) for j, b in enumerate(ry))


@lru_cache(maxsize=65536)
def heard_cost(said: str, ch: str) -> float:
    """Cost of hearing syllable ``said`` (a phrase's reading in context) written as ``ch``."""
    readings = plain_readings(ch)
    if not readings:
        return 0.0 if said == ch else 1.0
    return min(min(1.0, syllable_cost(said, r) + RARE_READING_COST * (i > 0))
               for i, r in enumerate(readings))


def context_readings(phrase: str) -> tuple[str, ...]:
    """Toneless readings of a phrase's characters in context (pypinyin's phrase table):
    长 in 长阳 is chang, in 弓长张 zhang. A non-Han character reads as itself."""
    from pypinyin import Style, lazy_pinyin

    out = lazy_pinyin(phrase, style=Style.NORMAL, errors="default")
    if len(out) == len(phrase) and all(plain_readings(c) or o == c for c, o in zip(
            phrase, out, strict=True)):
        return tuple(out)
    return tuple((plain_readings(c) or (c,))[0] for c in phrase)


def phrase_cost(phrase: str, heard: str) -> float:
    """Weighted edit distance from ``phrase`` to ``heard`` (substitutions by sound)."""
    prev = [j * INDEL_COST for j in range(len(heard) + 1)]
    for i, p in enumerate(phrase, 1):
        cur = [i * INDEL_COST]
        for j, h in enumerate(heard, 1):
            cur.append(min(prev[j] + INDEL_COST, cur[j - 1] + INDEL_COST,
                           prev[j - 1] + char_cost(p, h)))
        prev = cur
    return prev[-1]


def substitution_cost(phrase: str, heard: str) -> float:
    """Cost when ``heard`` has the phrase's length: the sum of the characters' costs."""
    return sum(char_cost(p, h) for p, h in zip(phrase, heard, strict=True))


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    cost: float


def budget(phrase: str) -> float:
    """The most a match of ``phrase`` may cost: about one confusable syllable in two
    characters, more for longer phrases."""
    return {1: 0.0, 2: 0.6, 3: 0.9}.get(len(phrase), 0.3 * len(phrase) + 0.1)


def find_by_sound(text: str, phrase: str, max_cost: float | None = None,
                  start: int = 0, stop: int | None = None,
                  lengths: bool = False) -> Iterator[Hit]:
    """Windows of ``text`` that sound like ``phrase`` within ``max_cost`` (default
    :func:`budget`), left to right; an exact occurrence is a hit of cost 0. With
    ``lengths``, windows one character shorter or longer are tried too (phrases of 3+)."""
    limit = budget(phrase) if max_cost is None else max_cost
    n = len(phrase)
    stop = len(text) if stop is None else min(stop, len(text))
    sizes = (n, n - 1, n + 1) if lengths and n >= 3 else (n,)
    for i in range(start, stop):
        best: Hit | None = None
        for size in sizes:
            if i + size > len(text):
                continue
            window = text[i:i + size]
            cost = (substitution_cost(phrase, window) if size == n
                    else phrase_cost(phrase, window))
            if cost <= limit and (best is None or cost < best.cost):
                best = Hit(i, i + size, cost)
        if best is not None:
            yield best


def best_by_sound(text: str, phrases: Iterable[str], max_cost: float | None = None,
                  start: int = 0, stop: int | None = None) -> tuple[str, Hit] | None:
    """The phrase heard most clearly anywhere in ``text[start:stop]`` (cost relative to its
    length), or None."""
    best: tuple[float, str, Hit] | None = None
    for phrase in phrases:
        for hit in find_by_sound(text, phrase, max_cost, start, stop):
            score = hit.cost / len(phrase)
            if best is None or score < best[0]:
                best = (score, phrase, hit)
    return None if best is None else (best[1], best[2])


@lru_cache(maxsize=1)
def _inventory() -> dict[str, tuple[str, ...]]:
    """Every toneless syllable pypinyin knows, grouped by :func:`ime_fold`."""
    from pypinyin.pinyin_dict import pinyin_dict

    from workorders.pinyin import _strip_tone

    groups: dict[str, set[str]] = {}
    for raw in pinyin_dict.values():
        for reading in raw.split(","):
            plain = _strip_tone(reading)
            groups.setdefault(ime_fold(plain), set()).add(plain)
    return {k: tuple(sorted(v)) for k, v in groups.items()}


@lru_cache(maxsize=4096)
def near_syllables(syllable: str, limit: float = 0.45) -> frozenset[str]:
    """Syllables within ``limit`` of ``syllable``: its fuzzy-pinyin partners (when the
    limit allows them) and the measured confusions cheap enough."""
    near = set(_inventory().get(ime_fold(syllable), ())) if limit >= IME_COST else set()
    table = confusions()
    for a, b in table.pairs:
        other = b if a == syllable else a if b == syllable else None
        if other is not None and syllable_cost(syllable, other) <= limit:
            near.add(other)
    near.discard(syllable)
    return frozenset(near)


_HEARD: dict[tuple[str, str], float] = {}  # heard_cost without lru_cache's call overhead


class SoundIndex:
    """Phrases filed by the readings of their first two characters. A text position looks
    up the phrases whose first character is a homophone of the text's, or whose second is
    a homophone of the next one's; each candidate is then costed whole (same length). At
    most one character in two may differ in sound (a homophone costs nothing): a phrase
    heard with every syllable a little off is not heard, nor one with a character that
    sounds nothing like the phrase's (neither initial nor final in common)."""

    def __init__(self, phrases: Iterable[str], max_cost: float | None = None,
                 min_length: int = 2, limit: Callable[[str], float] | None = None,
                 near_pairs: bool = False, near_cost: float = 0.45) -> None:
        chosen = tuple(dict.fromkeys(p for p in phrases if len(p) >= min_length))
        self.phrases = chosen
        self._limits = {p: (limit(p) if limit is not None
                            else budget(p) if max_cost is None else max_cost) for p in chosen}
        self._said = {p: context_readings(p) for p in chosen}
        # reading → (phrase, offset): the phrase's first (offset 0) or second (offset 1)
        # character reads so.
        self._by_reading: dict[str, list[tuple[str, int]]] = {}
        # With ``near_pairs``, two-character phrases are filed by both readings instead,
        # each as said or as a near syllable (:func:`near_syllables`), one of the two as
        # said: a text position looks up its own two readings. Much faster, for phrase
        # lists whose budget for two characters allows no more than that.
        # near_pairs: (first reading, second reading, offset of the pair in the phrase).
        self._by_pair: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for phrase in chosen:
            said = self._said[phrase]
            if near_pairs and len(phrase) == 2:
                r0, r1 = said
                keys = {(r0, r1)} | {(r0, n) for n in near_syllables(r1, near_cost)} | {
                    (n, r1) for n in near_syllables(r0, near_cost)}
                for key in keys:
                    self._by_pair.setdefault(key, []).append((phrase, 0, 1))
                continue
            if near_pairs:
                # At most one character in two differs: some two of the first three (or
                # two next to each other further on) are heard as said.
                for k in range(len(said) - 1):
                    self._by_pair.setdefault((said[k], said[k + 1]), []).append((phrase, k, 1))
                    if k + 2 < len(said):
                        self._by_pair.setdefault((said[k], said[k + 2]), []).append(
                            (phrase, k, 2))
                continue
            self._by_reading.setdefault(said[0], []).append((phrase, 0))
            if said[1] != said[0]:
                self._by_reading.setdefault(said[1], []).append((phrase, 1))

    def find(self, text: str, start: int = 0, stop: int | None = None) -> list[tuple[str, Hit]]:
        """Every (phrase, hit) heard in ``text[start:stop]`` within the phrase's budget,
        exact occurrences (cost 0) included."""
        n = len(text)
        stop = n if stop is None else min(stop, n)
        out: list[tuple[str, Hit]] = []
        seen: set[tuple[str, int]] = set()
        by_pair = self._by_pair
        if by_pair:
            for j in range(start, min(stop + 1, n - 1)):
                for gap in (1, 2):
                    if j + gap >= n:
                        continue
                    for a in plain_readings(text[j]) or (text[j],):
                        for b in plain_readings(text[j + gap]) or (text[j + gap],):
                            for phrase, k, g in by_pair.get((a, b), ()):
                                i = j - k
                                end = i + len(phrase)
                                if (g != gap or i < start or i >= stop or end > n
                                        or (phrase, i) in seen):
                                    continue
                                seen.add((phrase, i))
                                cost = self._cost(phrase, text, i)
                                if cost is not None:
                                    out.append((phrase, Hit(i, end, cost)))
        for j in range(start, min(stop + 1, n)):
            for reading in plain_readings(text[j]) or (text[j],):
                for phrase, offset in self._by_reading.get(reading, ()):
                    i = j - offset
                    end = i + len(phrase)
                    if i < start or i >= stop or end > n or (phrase, i) in seen:
                        continue
                    seen.add((phrase, i))
                    cost = self._cost(phrase, text, i)
                    if cost is not None:
                        out.append((phrase, Hit(i, end, cost)))
        return out

    def cost_at(self, phrase: str, text: str, i: int) -> float:
        """What hearing ``phrase`` at ``text[i:]`` costs, read as the phrase is said (no
        budget); the phrase must be one of the index's."""
        return sum(heard_cost(said, text[i + k]) for k, said in enumerate(self._said[phrase]))

    def _cost(self, phrase: str, text: str, i: int) -> float | None:
        limit = self._limits[phrase]
        changed_left = len(phrase) // 2
        cost = 0.0
        known = _HEARD
        for k, said in enumerate(self._said[phrase]):
            key = (said, text[i + k])
            c = known.get(key)
            if c is None:
                c = known[key] = heard_cost(said, text[i + k])
            if c > 0:
                cost += c
                changed_left -= 1
                if cost > limit or changed_left < 0 or c >= 1.0:
                    return None  # too much, or a character that sounds nothing alike
        return cost


def strict_budget(phrase: str) -> float:
    """For phrases that decide a field on their own (category, appeal, urgency): a
    two-character phrase may differ only by a fuzzy-pinyin pair or a confusion measured
    often (没事 is not 没水, though shi/shui were confused twice); longer ones as
    :func:`budget`."""
    return IME_COST if len(phrase) == 2 else budget(phrase)


def best_hits(index: SoundIndex, text: str,
              taken: Iterable[tuple[int, int]] = ()) -> dict[str, Hit]:
    """The cheapest (then first) hit of each phrase of ``index`` in ``text``, leaving out
    hits that overlap a ``taken`` span (a word written exactly that means something else:
    我姓王电话 holds no 网店)."""
    spans = tuple(taken)
    best: dict[str, Hit] = {}
    for phrase, hit in index.find(text):
        if any(hit.start < end and start < hit.end for start, end in spans):
            continue
        old = best.get(phrase)
        if old is None or (hit.cost, hit.start) < (old.cost, old.start):
            best[phrase] = hit
    return best
