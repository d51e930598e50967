"""Placeholder drafter: phone only. Replaced by the full drafter (issue 5)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from workorders.draft import Draft, FieldValue

_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "要": "1", "二": "2", "两": "2",
           "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}


def draft(
    transcript: str,
    caller_number: str | None,
    now: datetime,
    *,
    settings: object | None = None,
    keypad_phone: str | None = None,
) -> Draft:
    text = "".join(_DIGITS.get(ch, ch) for ch in re.sub(r"[\s\-]", "", transcript))
    phones = list(re.finditer(r"(?<!\d)1[3-9]\d{9}(?!\d)", text))
    if phones:
        phone = FieldValue(phones[-1].group(), 0.8, phones[-1].span())
    else:
        phone = FieldValue(caller_number, 0.6 if caller_number else 0.0, None)
    return Draft(phone=phone, due_at=FieldValue(now + timedelta(days=7), 0.9))
