"""Login rate limit: failed attempts per client address and per username in a window.

After ``max_failures`` failures within ``window_s`` seconds, further attempts from that
address or for that username are refused (429) until the oldest failure leaves the window.
A successful login clears the username's failures (not the address's).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        cutoff = self._clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until an attempt is allowed again, ``None`` when allowed now."""
        waits = []
        for key in keys:
            q = self._recent(key)
            if len(q) >= self.max_failures:
                waits.append(q[0] + self.window_s - self._clock())
        return max(1.0, max(waits)) if waits else None

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of usernames
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
