"""The rules hotlines follow when calling citizens back, as pure functions of time.

Calling hours (local time, default 08:00-21:00): an attempt falling outside them moves to
the next opening. After an unanswered attempt the next one waits by outcome (busy, no
answer, other failures), doubled after each attempt, at least the callee's Retry-After,
until ``max_attempts``. :class:`TrunkGate` caps one trunk's calls up at once and new
attempts per second (a token bucket); time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import CallbackSettings


@dataclass(frozen=True)
class CallingHours:
    """A daily window ``start``-``end`` in ``zone`` (end exclusive; may not wrap)."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> CallingHours:
        """``"08:00-21:00"``; raises ``ValueError`` on anything else."""
        try:
            a, b = (time.fromisoformat(p.strip()) for p in text.split("-"))
        except ValueError as exc:
            raise ValueError(f"calling hours must be HH:MM-HH:MM, not {text!r}") from exc
        if a >= b:
            raise ValueError(f"calling hours must start before they end: {text!r}")
        return cls(a, b, ZoneInfo(zone))

    def allows(self, when: datetime) -> bool:
        local = when.astimezone(self.zone).time()
        return self.start <= local < self.end

    def next_open(self, when: datetime) -> datetime:
        """``when`` if calls are allowed then, else the next opening."""
        if self.allows(when):
            return when
        local = when.astimezone(self.zone)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.start, self.zone).astimezone(when.tzinfo)


RETRY_OUTCOMES = ("busy", "no-answer", "failed")


def next_attempt(
    outcome: str,
    attempts_made: int,
    now: datetime,
    settings: CallbackSettings,
    hours: CallingHours,
    retry_after: int | None = None,
) -> datetime | None:
    """When to try again after an unanswered attempt, or None: no more attempts (the
    limit is reached, or the callee rejected the call: a 603 is an answer)."""
    if outcome not in RETRY_OUTCOMES or attempts_made >= settings.max_attempts:
        return None
    base = {"busy": settings.retry_busy_s, "no-answer": settings.retry_no_answer_s}.get(
        outcome, settings.retry_failed_s)
    wait = max(base * 2 ** max(0, attempts_made - 1), float(retry_after or 0))
    return hours.next_open(now + timedelta(seconds=wait))


@dataclass
class TrunkGate:
    """Per-trunk caps: ``max_concurrent`` calls up and ``per_second`` new attempts."""

    max_concurrent: int
    per_second: float
    active: int = 0
    _tokens: float = field(default=-1.0, repr=False)
    _at: float = field(default=0.0, repr=False)

    def free_slots(self, now: float) -> int:
        """How many attempts may start at ``now`` (monotonic seconds)."""
        self._refill(now)
        return max(0, min(self.max_concurrent - self.active, int(self._tokens)))

    def started(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1
        self.active += 1

    def ended(self) -> None:
        self.active = max(0, self.active - 1)

    def _refill(self, now: float) -> None:
        burst = max(1.0, self.per_second)
        if self._tokens < 0:
            self._tokens, self._at = burst, now
            return
        self._tokens = min(burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
