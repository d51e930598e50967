"""RTP port allocation from a configured range.

How it works: the even ports of the range (RTP convention; the odd neighbour is left for
RTCP) wait in a FIFO. ``acquire`` takes the oldest free port and ``release`` puts a port back
at the end, so a port that just carried a call is reused last and stray packets of the old
call are unlikely to reach a new one.
"""

from __future__ import annotations

from collections import deque


class RtpPortsExhausted(RuntimeError):
    """Every port of the range is in use."""


class PortAllocator:
    """Hands out even UDP ports in ``[low, high]`` (both inclusive, as in the settings)."""

    def __init__(self, low: int = 20000, high: int = 29999) -> None:
        if not 0 < low <= high <= 65535:
            raise ValueError(f"bad RTP port range: {low}-{high}")
        first = low + (low % 2)
        self._free: deque[int] = deque(range(first, high + 1, 2))
        if not self._free:
            raise ValueError(f"RTP port range {low}-{high} holds no even port")
        self._in_use: set[int] = set()

    @property
    def free(self) -> int:
        """How many ports can still be acquired."""
        return len(self._free)

    def acquire(self) -> int:
        """Take a free port; RtpPortsExhausted when none is left."""
        if not self._free:
            raise RtpPortsExhausted("no free RTP port")
        port = self._free.popleft()
        self._in_use.add(port)
        return port

    def release(self, port: int) -> None:
        """Give a port back; releasing a port not in use is a no-op."""
        if port in self._in_use:
            self._in_use.remove(port)
            self._free.append(port)
