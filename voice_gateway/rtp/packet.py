"""RTP packets (RFC 3550 §5.1): parse from and serialize to wire bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
RTP_HEADER_SIZE = 12

_HEADER = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")


def is_rtcp(data: bytes) -> bool:
    """Whether a datagram is RTCP rather than RTP.

    RFC 5761 §4: with RTP and RTCP on one port, a second byte in 192-223 is RTCP (SR 200,
    RR 201, SDES 202, BYE 203, APP 204 and the rest of the range), never an RTP marker+PT.
    """
    return len(data) >= 8 and data[0] >> 6 == RTP_VERSION and 192 <= data[1] <= 223


def rtp_header(
    payload_type: int, sequence_number: int, timestamp: int, ssrc: int, marker: bool = False
) -> bytes:
    """The 12 header bytes of a packet with no CSRC, extension or padding: what
    ``RtpPacket(...).serialize()`` gives before the payload, without building a packet (the
    send path runs 50 times a second per call)."""
    second = (0x80 if marker else 0) | payload_type
    return _HEADER.pack(
        RTP_VERSION << 6,
        second,
        sequence_number & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc & 0xFFFFFFFF,
    )


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet.

    ``extension_profile`` is None when the packet has no header extension; ``extension`` holds
    the extension body (a multiple of 4 bytes). ``padding`` is the number of padding bytes
    (including the count byte) to append on serialize; parse records what it removed.
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raise ValueError with the reason if it is not valid RTP."""
        if len(data) < RTP_HEADER_SIZE:
            raise ValueError(f"RTP packet too short: {len(data)} bytes (minimum {RTP_HEADER_SIZE})")
        first, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        if first == 0x80:
            # Version 2 with no padding, extension or CSRC: what telephone peers send, 50
            # times a second per call. The same packet as below, without the steps for
            # the parts it does not have.
            return cls(second & 0x7F, seq, timestamp, ssrc, data[RTP_HEADER_SIZE:],
                       bool(second & 0x80))
        version = first >> 6
        if version != RTP_VERSION:
            raise ValueError(f"RTP version must be 2, got {version}")
        has_padding = bool(first & 0x20)
        has_extension = bool(first & 0x10)
        csrc_count = first & 0x0F

        pos = RTP_HEADER_SIZE + 4 * csrc_count
        if pos > len(data):
            raise ValueError(f"RTP packet too short for {csrc_count} CSRCs")
        csrc = struct.unpack_from(f"!{csrc_count}I", data, RTP_HEADER_SIZE)

        extension_profile: int | None = None
        extension = b""
        if has_extension:
            if pos + 4 > len(data):
                raise ValueError("RTP header extension truncated")
            extension_profile, words = _EXTENSION.unpack_from(data, pos)
            pos += 4
            if pos + 4 * words > len(data):
                raise ValueError("RTP header extension truncated")
            extension = data[pos : pos + 4 * words]
            pos += 4 * words

        end = len(data)
        padding = 0
        if has_padding:
            padding = data[-1]
            if padding == 0:
                raise ValueError("RTP padding count is zero")
            if padding > end - pos:
                raise ValueError(f"RTP padding count {padding} exceeds payload")
            end -= padding

        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[pos:end],
            marker=bool(second & 0x80),
            csrc=csrc,
            extension_profile=extension_profile,
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        """Wire bytes of the packet; raise ValueError if a field is out of range."""
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"RTP payload type out of range: {self.payload_type}")
        if len(self.csrc) > 15:
            raise ValueError(f"RTP CSRC list too long: {len(self.csrc)} (maximum 15)")
        if len(self.extension) % 4:
            raise ValueError("RTP header extension length must be a multiple of 4")
        if not 0 <= self.padding <= 255:
            raise ValueError(f"RTP padding out of range: {self.padding}")
        first = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | self.payload_type
        parts = [
            _HEADER.pack(
                first,
                second,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            ),
            struct.pack(f"!{len(self.csrc)}I", *self.csrc),
        ]
        if self.extension_profile is not None:
            parts.append(_EXTENSION.pack(self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)
