"""Business hours: is a service open at a given moment? The moment is always passed in."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from ivr.model import WEEKDAYS, HoursNode


def is_open(node: HoursNode, now: datetime) -> bool:
    """Open at ``now``? An aware ``now`` is converted to the node's time zone; a naive one
    is taken as local time there. A closed date wins over everything; an open date (调休
    make-up working day) replaces that weekday's hours."""
    if now.tzinfo is not None:
        now = now.astimezone(zoneinfo.ZoneInfo(node.timezone))
    day = now.date()
    if day in node.closed_dates:
        return False
    intervals = node.open_dates.get(day)
    if intervals is None:
        intervals = node.weekly.get(WEEKDAYS[now.weekday()], ())
    minute = now.hour * 60 + now.minute
    return any(i.start <= minute < i.end for i in intervals)
