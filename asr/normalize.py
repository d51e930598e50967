"""ASR text for downstream use: Simplified script, no spaces between Chinese characters.

Digits and 幺 stay as spoken (the drafter reads them); spaces between digit groups stay,
since "138 1122 3344" is one number written in groups.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_AFTER_CJK = re.compile(rf"(?<=[{_CJK}])\s+")
_SPACE_BEFORE_CJK = re.compile(rf"\s+(?=[{_CJK}])")
_PUNCT = re.compile(r"[，。？！、；：“”‘’（）《》【】…—,.?!;:\"'()\[\]<>]+")
# Whisper writes phone numbers in dashed groups ("159-102-030"); a group is a space here.
_DIGIT_DASH = re.compile(r"(?<=\d)\s*[-‐‑–]\s*(?=\d)")


def normalize_text(text: str) -> str:
    """Full-width forms folded, punctuation dropped, CJK spacing removed."""
    text = unicodedata.normalize("NFKC", text)
    text = _DIGIT_DASH.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    text = _SPACE_AFTER_CJK.sub("", text)
    text = _SPACE_BEFORE_CJK.sub("", text)
    return re.sub(r"\s+", " ", text).strip()
