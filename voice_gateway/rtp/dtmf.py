"""RFC 4733 telephone events: the payload, and a detector that yields one digit per event.

How the detector works. A sender reports one key press as a run of packets that all carry
the RTP timestamp of the event's start, with a growing duration, and ends it with the E bit
set on (usually) three identical packets. The timestamp therefore names the event: the
detector reports a digit on the first packet it sees for a new (SSRC, timestamp) and ignores
the rest of that event. Hence a lost start packet costs nothing (the next packet of the event
reports it), the redundant end packets are deduplicated, and the same key pressed twice gives
two digits because the presses have different timestamps. A few recent events are
remembered so that stragglers of an earlier event arriving late do not repeat its digit.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from voice_gateway.rtp.packet import RtpPacket

DTMF_DIGITS = "0123456789*#ABCD"
_PAYLOAD = struct.Struct("!BBH")


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One telephone-event payload (RFC 4733 §2.3): event code, end bit, volume, duration."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        """Parse the first four bytes of a payload; ValueError if it is too short."""
        if len(data) < _PAYLOAD.size:
            raise ValueError(f"telephone-event payload too short: {len(data)} bytes (minimum 4)")
        event, flags, duration = _PAYLOAD.unpack_from(data)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    @classmethod
    def for_digit(
        cls, digit: str, *, end: bool = False, volume: int = 10, duration: int = 0
    ) -> TelephoneEvent:
        """The event for a DTMF key (``0``-``9``, ``*``, ``#``, ``A``-``D``)."""
        code = DTMF_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
        if code < 0:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        return cls(event=code, end=end, volume=volume, duration=duration)

    @property
    def digit(self) -> str | None:
        """The DTMF key, or None for the other events (tones, flash, ...)."""
        return DTMF_DIGITS[self.event] if self.event < len(DTMF_DIGITS) else None

    def serialize(self) -> bytes:
        """Four wire bytes; ValueError if a field is out of range."""
        if not 0 <= self.event <= 255:
            raise ValueError(f"telephone-event code out of range: {self.event}")
        if not 0 <= self.volume <= 63:
            raise ValueError(f"telephone-event volume out of range: {self.volume}")
        if not 0 <= self.duration <= 0xFFFF:
            raise ValueError(f"telephone-event duration out of range: {self.duration}")
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """A key press received in-band as RFC 4733 events."""

    digit: str
    timestamp: int
    ssrc: int


class DtmfDetector:
    """Feed it telephone-event packets; it returns a digit once per key press."""

    def __init__(self, memory: int = 16) -> None:
        self._seen: set[tuple[int, int]] = set()
        self._order: deque[tuple[int, int]] = deque()
        self._memory = memory

    def feed(self, packet: RtpPacket) -> DtmfDigit | None:
        """The digit if this packet starts a new event, else None.

        Raises ValueError if the payload is not a telephone event.
        """
        event = TelephoneEvent.parse(packet.payload)
        key = (packet.ssrc, packet.timestamp)
        if key in self._seen:
            return None
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._memory:
            self._seen.discard(self._order.popleft())
        digit = event.digit
        if digit is None:
            return None
        return DtmfDigit(digit=digit, timestamp=packet.timestamp, ssrc=packet.ssrc)
