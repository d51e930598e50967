"""Login throttling that holds under concurrency (OWASP ASVS V2.2.1).

Every attempt is counted *before* its password is checked, in the same step as the check of
the limits (no ``await`` between them), so 150 concurrent wrong passwords cost at most
``max_failures`` argon2 verifications; the others are refused (429) at once.

Two limits apply:

- per (account, source address) pair: ``max_failures`` attempts, then an exponential
  back-off (``backoff_s``, doubled at each further failure, at most ``max_backoff_s``).
  A pair is forgotten after a success, or after ``window_s`` without failures once its
  back-off is over. An attacker at one address cannot lock the real user out from another.
- per source address: ``source_max_failures`` failures in ``window_s``, for any accounts
  (a spray of usernames from one address).

A success clears its pair and gives the source back the attempt it was counted.
``hashing`` caps the password checks (argon2, in threads) running at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 100_000  # entries per table: bounds memory under a spray of names or addresses


@dataclass
class _Pair:
    failures: int
    first: float
    last: float


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0, *,
                 backoff_s: float = 300.0, max_backoff_s: float = 3600.0,
                 source_max_failures: int = 50, max_hashing: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.source_max_failures = source_max_failures
        self.hashing = asyncio.Semaphore(max_hashing)
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._sources: dict[str, deque[float]] = {}

    def _backoff(self, failures: int) -> float:
        extra = failures - self.max_failures
        return min(self.max_backoff_s, self.backoff_s * 2.0 ** min(extra, 32))

    def _pair(self, key: tuple[str, str], now: float) -> _Pair | None:
        pair = self._pairs.get(key)
        if pair is None:
            return None
        if pair.failures < self.max_failures:
            expired = now - pair.first >= self.window_s
        else:
            expired = now - pair.last >= self._backoff(pair.failures) + self.window_s
        if expired:
            del self._pairs[key]
            return None
        return pair

    def _source(self, source: str, now: float) -> deque[float]:
        q = self._sources.get(source)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._sources[source]
        return q

    def attempt(self, account: str, source: str) -> float | None:
        """Count an attempt for ``account`` from ``source`` before its password is checked.

        ``None``: go ahead (the attempt counts as a failure until :meth:`succeeded`); else
        the seconds to wait, and the attempt is not counted (nothing was checked)."""
        now = self._clock()
        key = (account, source)
        pair = self._pair(key, now)
        waits = []
        if pair is not None and pair.failures >= self.max_failures:
            wait = pair.last + self._backoff(pair.failures) - now
            if wait > 0:
                waits.append(wait)
        recent = self._source(source, now)
        if len(recent) >= self.source_max_failures:
            waits.append(recent[0] + self.window_s - now)
        if waits:
            return max(1.0, max(waits))
        if pair is None:
            pair = self._pairs[key] = _Pair(0, now, now)
            if len(self._pairs) > MAX_TRACKED:
                self._pairs.pop(next(iter(self._pairs)))
        pair.failures += 1
        pair.last = now
        self._sources.setdefault(source, recent).append(now)
        if len(self._sources) > MAX_TRACKED:
            self._sources.pop(next(iter(self._sources)))
        return None

    def succeeded(self, account: str, source: str) -> None:
        """The attempt's password was right: its pair is cleared and the source gets the
        attempt back."""
        self._pairs.pop((account, source), None)
        q = self._sources.get(source)
        if q:
            q.pop()

    def clear(self) -> None:
        self._pairs.clear()
        self._sources.clear()
