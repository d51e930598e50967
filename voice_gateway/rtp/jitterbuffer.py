"""Jitter buffer: put one RTP stream's packets back in sequence order.

How it works. The buffer follows one SSRC and keeps the extended (wrap-free) sequence number
of the next slot to release. A packet for that slot is released at once, together with any
queued packets that follow it, so in-order traffic passes through with no delay. A packet
further ahead waits in the queue; once the newest queued packet is ``depth`` or more slots
past a missing one, the missing slot is given up and released as a gap (``packet is None``)
for the caller to conceal. Anything for a slot already released is dropped: a duplicate if
that packet was released, late otherwise. A packet implausibly far from the expected slot
(RFC 3550 A.1: MAX_DROPOUT ahead, MAX_MISORDER behind) is held on probation: if the next
packet follows it, the sender restarted its numbering and the buffer resynchronises. A new
SSRC is a new stream: what is queued is flushed, then the buffer starts over.

There is no clock: the buffer is synchronous and pure. ``flush`` releases everything queued
(at a timeout or hang-up, so nothing that arrived is lost).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from voice_gateway.rtp.packet import RtpPacket

SEQ_MOD = 1 << 16


@dataclass(frozen=True, slots=True)
class JitterFrame:
    """One released slot: the packet, or None when it was lost."""

    sequence_number: int
    packet: RtpPacket | None


@dataclass(slots=True)
class JitterStats:
    """Counters since the buffer was created (they survive stream resets)."""

    received: int = 0
    released: int = 0
    lost: int = 0
    duplicate: int = 0
    late: int = 0
    reordered: int = 0
    out_of_window: int = 0
    resets: int = 0


class JitterBuffer:
    """Reorders one RTP stream, drops duplicates and late packets, reports gaps.

    ``depth`` is how many packets past a hole the buffer waits for the missing one before
    declaring it lost: at 20 ms packets, depth 3 absorbs 60 ms of reordering.
    """

    def __init__(self, depth: int = 3, max_dropout: int = 3000, max_misorder: int = 100) -> None:
        if depth < 1:
            raise ValueError(f"jitter buffer depth must be at least 1, got {depth}")
        self.depth = depth
        self.max_dropout = max_dropout
        self.max_misorder = max_misorder
        self.stats = JitterStats()
        self._ssrc: int | None = None
        self._next = 0
        self._highest = 0
        self._queue: dict[int, RtpPacket] = {}
        self._released: set[int] = set()
        self._released_order: deque[int] = deque()
        self._probation: int | None = None

    @property
    def ssrc(self) -> int | None:
        """SSRC of the stream being followed (None before the first packet)."""
        return self._ssrc

    def add(self, packet: RtpPacket) -> list[JitterFrame]:
        """Add one packet; return the slots that became ready, in order."""
        self.stats.received += 1
        out: list[JitterFrame] = []
        if self._ssrc is None:
            self._start(packet)
        elif packet.ssrc != self._ssrc:
            out = self.flush()
            self.stats.resets += 1
            self._start(packet)

        ext = self._extend(packet.sequence_number)
        delta = ext - self._next
        if delta > self.max_dropout or delta < -self.max_misorder:
            if self._probation == packet.sequence_number:
                out.extend(self.flush())
                self.stats.resets += 1
                self._start(packet)
                ext = self._next
            else:
                self._probation = (packet.sequence_number + 1) % SEQ_MOD
                self.stats.out_of_window += 1
                return out
        self._probation = None

        if ext < self._next:
            if ext in self._released:
                self.stats.duplicate += 1
            else:
                self.stats.late += 1
            return out
        if ext in self._queue:
            self.stats.duplicate += 1
            return out
        if ext < self._highest:
            self.stats.reordered += 1
        self._highest = max(self._highest, ext)
        self._queue[ext] = packet
        out.extend(self._release(force=False))
        return out

    def flush(self) -> list[JitterFrame]:
        """Release everything queued, gaps included; the stream goes on afterwards."""
        return self._release(force=True)

    def _start(self, packet: RtpPacket) -> None:
        self._ssrc = packet.ssrc
        self._next = packet.sequence_number
        self._highest = self._next - 1
        self._queue.clear()
        self._released.clear()
        self._released_order.clear()
        self._probation = None

    def _extend(self, seq: int) -> int:
        """Map a 16-bit sequence number to the extended one nearest the next slot."""
        delta = (seq - self._next + SEQ_MOD // 2) % SEQ_MOD - SEQ_MOD // 2
        return self._next + delta

    def _release(self, force: bool) -> list[JitterFrame]:
        out: list[JitterFrame] = []
        while self._queue:
            packet = self._queue.pop(self._next, None)
            if packet is not None:
                self._remember(self._next)
                out.append(JitterFrame(self._next % SEQ_MOD, packet))
            elif force or self._highest - self._next >= self.depth:
                self.stats.lost += 1
                out.append(JitterFrame(self._next % SEQ_MOD, None))
            else:
                break
            self._next += 1
        self.stats.released += len(out)
        return out

    def _remember(self, ext: int) -> None:
        # Enough history to tell a duplicate of a released packet from a late one.
        self._released.add(ext)
        self._released_order.append(ext)
        if len(self._released_order) > self.max_misorder:
            self._released.discard(self._released_order.popleft())
