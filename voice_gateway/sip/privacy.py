"""Keeping caller numbers out of logs."""

from __future__ import annotations

import re

_DIGIT_RUN_RE = re.compile(r"\d{4,}")


def mask_digits(text: str, keep: int = 2) -> str:
    """Mask every run of four or more digits but its last ``keep`` digits.

    ``"sip:13812345678@10.0.0.1"`` becomes ``"sip:*********78@10.0.0.1"``; short runs
    (IPv4 address parts) stay readable.
    """

    def mask(match: re.Match[str]) -> str:
        run = match.group(0)
        shown = run[-keep:] if keep else ""
        return "*" * (len(run) - len(shown)) + shown

    return _DIGIT_RUN_RE.sub(mask, text)
