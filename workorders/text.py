"""Transcript normalisation with a map back to the original characters.

ASR text comes with or without spaces, sometimes with punctuation, full-width digits and
hyphenated digit groups. Extractors work on a compact form (separators removed, full-width
folded, ASCII lower-cased, two variant characters read as the usual ones) and report
spans in the original transcript through ``origin``.
Where a separator was removed is kept in ``breaks``: spaces often mark word boundaries,
which helps to cut names and digit groups.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

# Separators: whitespace, ASCII and CJK punctuation, and the hyphen Whisper puts in numbers.
_SEPARATORS = frozenset(" \t\r\n\u3000,.;:!?-_/~·、，。；：！？…“”‘’\"'()（）《》【】[]—")


# Characters Whisper writes for the ones the phrase lists use, read as those: the variant
# 帐 in 安全帐户 / 结帐 (账), the traditional-usage 著 in 亮著 / 接著 (着).
_VARIANTS = {"帐": "账", "著": "着"}


def _fold(ch: str) -> str:
    ch = _VARIANTS.get(ch, ch)
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII block
        ch = chr(code - 0xFEE0)
    return ch.lower() if ch.isascii() else ch


@dataclass(frozen=True)
class Compact:
    """The transcript without separators, and where each character came from."""

    text: str
    origin: tuple[int, ...]
    breaks: frozenset[int]

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """Original-transcript span of ``text[start:end]``."""
        if start >= end or end > len(self.origin):
            return None
        return (self.origin[start], self.origin[end - 1] + 1)

    def own(self, span: tuple[int, int]) -> tuple[int, int]:
        """The span of ``text`` that an original-transcript span covers (the inverse of
        :meth:`span`)."""
        return bisect_left(self.origin, span[0]), bisect_left(self.origin, span[1])


def compact(transcript: str) -> Compact:
    """Strip separators and fold width/case, keeping the origin of every character."""
    chars: list[str] = []
    origin: list[int] = []
    breaks: set[int] = set()
    pending_break = False
    for index, raw in enumerate(transcript):
        ch = _fold(raw)
        if ch in _SEPARATORS or ch.isspace():
            pending_break = True
            continue
        if pending_break and chars:
            breaks.add(len(chars))
        pending_break = False
        chars.append(ch)
        origin.append(index)
    return Compact("".join(chars), tuple(origin), frozenset(breaks))


def edit_distance(a: str, b: str) -> int:
    """Characters added, dropped or replaced to turn ``a`` into ``b`` (Levenshtein)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]
