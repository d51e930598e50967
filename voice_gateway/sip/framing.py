"""Content-Length framing of SIP over a byte stream (RFC 3261 §18.3), without I/O.

Bytes go in with :meth:`StreamFramer.feed` in whatever chunks the socket delivers; whole
messages come out, ready for :func:`~voice_gateway.sip.message.parse_message` with
``stream=True``. A double CRLF between messages is an RFC 5626 keep-alive ping and comes
out as :data:`KEEPALIVE` (answer it with a single CRLF); stray single CRLFs are skipped.

Once the framing is lost (an unreadable or oversized Content-Length) the stream cannot be
resynchronised: the framer hands out the header section alone, so that the core can answer
400/413 from it, sets :attr:`StreamFramer.broken`, and the transport closes the connection.
"""

from __future__ import annotations

import enum

from voice_gateway.sip import grammar
from voice_gateway.sip.errors import MessageTooLarge
from voice_gateway.sip.message import DEFAULT_LIMITS, Limits


class KeepAlive(enum.Enum):
    """Marker type of :data:`KEEPALIVE`."""

    PING = "ping"


KEEPALIVE = KeepAlive.PING


class StreamFramer:
    """Cut a SIP byte stream into messages."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._header_pending = False
        self.broken = False

    def feed(self, data: bytes) -> list[bytes | KeepAlive]:
        """Add received bytes; return every message (or ping) completed by them.

        Raises :class:`MessageTooLarge` (513) when a header section grows past the limit
        without ending; the connection must then be closed.
        """
        self._header_pending = False
        if self.broken:
            return []
        self._buffer += data
        out: list[bytes | KeepAlive] = []
        while self._buffer:
            if self._buffer.startswith(b"\r\n\r\n"):
                del self._buffer[:4]
                out.append(KEEPALIVE)
                continue
            if self._buffer.startswith(b"\r\n"):
                if len(self._buffer) < 4 and b"\r\n\r\n".startswith(bytes(self._buffer)):
                    break  # maybe the first half of a ping
                del self._buffer[:2]
                continue
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._limits.max_header_bytes:
                    self.broken = True
                    self._buffer.clear()
                    raise MessageTooLarge("Header section too large", 513)
                self._header_pending = True
                break
            if end > self._limits.max_header_bytes:
                self.broken = True
                self._buffer.clear()
                raise MessageTooLarge("Header section too large", 513)
            length = _content_length(bytes(self._buffer[:end]))
            if length is None or length > self._limits.max_body_bytes:
                # Hand the header section to the parser, which produces the 400/413.
                out.append(bytes(self._buffer[: end + 4]))
                self.broken = True
                self._buffer.clear()
                break
            total = end + 4 + length
            if len(self._buffer) < total:
                break
            out.append(bytes(self._buffer[:total]))
            del self._buffer[:total]
        return out

    @property
    def header_pending(self) -> bool:
        """A message has begun and its header section has not ended yet (the transport
        times this: RFC 3261 gives no bound, a slow sender could hold a connection)."""
        return self._header_pending

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer)


def _content_length(head: bytes) -> int | None:
    """Content-Length of a header section (0 if absent); ``None`` if unusable."""
    found: list[bytes] = []
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            found.append(value.strip())
    if not found:
        return 0
    if len(found) > 1 or not grammar.DIGITS_RE.fullmatch(found[0].decode("latin-1")):
        return None
    return int(found[0])
