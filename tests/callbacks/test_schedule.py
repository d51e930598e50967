"""Calling hours, back-off and per-trunk caps, on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.settings import CallbackSettings
from voice_gateway.callbacks.schedule import CallingHours, TrunkGate, next_attempt

HOURS = CallingHours.parse("08:00-21:00", "Asia/Shanghai")
S = CallbackSettings(max_attempts=3, retry_busy_s=600, retry_no_answer_s=1800,
                     retry_failed_s=900)  # fmt: skip


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    """Beijing local time on 2026-06-<day>, as UTC."""
    return datetime(2026, 6, day, hour - 8 if hour >= 8 else hour + 16, minute,
                    tzinfo=UTC) - (timedelta(days=1) if hour < 8 else timedelta())  # fmt: skip


@pytest.mark.parametrize(("when", "allowed", "opens"), [
    (bj(3, 7, 59), False, bj(3, 8)),
    (bj(3, 8), True, bj(3, 8)),
    (bj(3, 20, 59), True, bj(3, 20, 59)),
    (bj(3, 21), False, bj(4, 8)),
    (bj(3, 23, 30), False, bj(4, 8)),
])  # fmt: skip
def test_calling_hours(when: datetime, allowed: bool, opens: datetime) -> None:
    assert HOURS.allows(when) is allowed
    assert HOURS.next_open(when) == opens


def test_bad_hours_are_refused() -> None:
    for text in ("8-21", "21:00-08:00", "08:00"):
        with pytest.raises(ValueError):
            CallingHours.parse(text, "Asia/Shanghai")


def test_back_off_doubles_per_attempt_and_stops_at_the_limit() -> None:
    now = bj(3, 10)
    assert next_attempt("busy", 1, now, S, HOURS) == now + timedelta(minutes=10)
    assert next_attempt("busy", 2, now, S, HOURS) == now + timedelta(minutes=20)
    assert next_attempt("busy", 3, now, S, HOURS) is None
    assert next_attempt("no-answer", 1, now, S, HOURS) == now + timedelta(minutes=30)
    assert next_attempt("failed", 1, now, S, HOURS) == now + timedelta(minutes=15)
    assert next_attempt("rejected", 1, now, S, HOURS) is None


def test_retry_after_and_calling_hours_push_the_next_attempt() -> None:
    assert next_attempt("failed", 1, bj(3, 10), S, HOURS, retry_after=3600) == bj(3, 11)
    assert next_attempt("busy", 1, bj(3, 20, 55), S, HOURS) == bj(4, 8)


def test_trunk_gate_caps_concurrency_and_rate() -> None:
    gate = TrunkGate(max_concurrent=2, per_second=1.0)
    assert gate.free_slots(0.0) == 1  # one attempt a second
    gate.started(0.0)
    assert gate.free_slots(0.5) == 0
    assert gate.free_slots(1.0) == 1
    gate.started(1.0)
    assert gate.free_slots(5.0) == 0  # two up: the concurrency cap
    gate.ended()
    assert gate.free_slots(5.0) == 1
