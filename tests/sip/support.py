"""Builders for SIP test messages and a fake-clock harness around the sans-IO core."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from voice_gateway.sip.events import Event, TimerCancel, TimerRequest, Transmit, Transport
from voice_gateway.sip.message import Response, parse_message
from voice_gateway.sip.uas import UasConfig, UserAgentServer

SRC = ("127.0.0.1", 5061)

OFFER = (
    "v=0\r\n"
    "o=caller 1 1 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 8 0 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
)


def request(
    method: str = "INVITE",
    *,
    uri: str = "sip:12345@127.0.0.1",
    branch: str = "z9hG4bKb1",
    call_id: str = "call-1",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str = "ft1",
    to_tag: str | None = None,
    body: str = "",
    content_type: str | None = None,
    extra: str = "",
    via_transport: str = "UDP",
) -> bytes:
    """A well-formed request, CRLF line ends, Content-Length right."""
    to = "<sip:12345@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    if content_type is None and body:
        content_type = "application/sdp"
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{via_transport} 127.0.0.1:5061;branch={branch}",
        "Max-Forwards: 70",
        f"From: <sip:13812345678@127.0.0.1>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:caller@127.0.0.1:5061>",
    ]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [line for line in extra.split("\r\n") if line]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def invite(**kwargs: object) -> bytes:
    """An INVITE carrying :data:`OFFER` unless ``body`` says otherwise."""
    kwargs.setdefault("body", OFFER)
    return request("INVITE", **kwargs)  # type: ignore[arg-type]


def counter_ids() -> object:
    """Deterministic ids: id0, id1, ..."""
    numbers = itertools.count()
    return lambda: f"id{next(numbers)}"


@dataclass
class Sent:
    at: float
    data: bytes
    dest: tuple[str, int]
    transport: Transport

    @property
    def response(self) -> Response:
        message = parse_message(self.data)
        assert isinstance(message, Response)
        return message


@dataclass
class Harness:
    """The core plus a fake clock: timers fire when :meth:`advance` passes them."""

    config: UasConfig = field(default_factory=UasConfig)
    now: float = 0.0
    sent: list[Sent] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.core = UserAgentServer(self.config, new_id=counter_ids())  # type: ignore[arg-type]
        self._heap: list[tuple[float, int, int]] = []
        self._live: set[int] = set()
        self.timer_log: list[TimerRequest] = []

    def feed(self, data: bytes, transport: Transport = Transport.UDP) -> list[Event]:
        events = self.core.receive_data(data, SRC, transport)
        self._collect()
        self.events += events
        return events

    def _collect(self) -> None:
        for action in self.core.drain_actions():
            if isinstance(action, Transmit):
                self.sent.append(Sent(self.now, action.data, action.dest, action.transport))
            elif isinstance(action, TimerRequest):
                self.timer_log.append(action)
                heapq.heappush(self._heap, (self.now + action.delay, action.key, action.key))
                self._live.add(action.key)
            elif isinstance(action, TimerCancel):
                self._live.discard(action.key)

    def op(self, result: object) -> object:
        """Wrap a core operation: collect its actions."""
        self._collect()
        return result

    def advance(self, seconds: float) -> list[Event]:
        end = self.now + seconds
        events: list[Event] = []
        while self._heap and self._heap[0][0] <= end:
            when, _, key = heapq.heappop(self._heap)
            if key not in self._live:
                continue
            self._live.discard(key)
            self.now = when
            fired = self.core.handle_timer(key)
            self._collect()
            events += fired
        self.now = end
        self.events += events
        return events

    def take(self) -> list[Sent]:
        sent, self.sent = self.sent, []
        return sent

    def statuses(self) -> list[int]:
        """Status codes sent (read from the status line: error responses may copy
        malformed header fields and would not parse)."""
        return [int(s.data[8:11]) for s in self.take() if s.data.startswith(b"SIP/2.0 ")]

    @property
    def live_timers(self) -> int:
        return len(self._live)
