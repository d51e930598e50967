"""What the SIP core hands out: events for the application, actions for the I/O driver.

Events (frozen dataclasses) describe what happened to a call; the application reacts by
calling :class:`~voice_gateway.sip.uas.UserAgentServer` operations. Actions are what the
driver must perform: :class:`Transmit` bytes, start (:class:`TimerRequest`) or cancel
(:class:`TimerCancel`) a timer, and call ``handle_timer(key)`` when one fires.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from voice_gateway.sip.message import Request
from voice_gateway.sip.sdp import AudioPolicy, NegotiatedAudio, SessionDescription

Address = tuple[str, int]


class Transport(enum.Enum):
    """Transport protocol a message came in on or goes out on."""

    UDP = "UDP"
    TCP = "TCP"
    TLS = "TLS"  # over TCP (RFC 3261 §26.2); the only one SDES keys may cross (RFC 4568 §8.3)

    @property
    def reliable(self) -> bool:
        """Reliable transports need no retransmissions (RFC 3261 §17)."""
        return self is not Transport.UDP


@dataclass(frozen=True)
class CallHandle:
    """Identifies one call (one INVITE and the dialog it creates). Hashable."""

    call_id: str
    local_tag: str
    remote_tag: str


# --- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Transmit:
    """Send ``data`` to ``dest`` over ``transport``."""

    data: bytes
    dest: Address
    transport: Transport


@dataclass(frozen=True)
class TimerRequest:
    """Call ``handle_timer(key)`` after ``delay`` seconds (``name`` is the RFC timer)."""

    name: str
    delay: float
    key: int


@dataclass(frozen=True)
class TimerCancel:
    """The timer ``key`` is no longer needed."""

    key: int


Action = Transmit | TimerRequest | TimerCancel


# --- events ---------------------------------------------------------------------------


class EndReason(enum.Enum):
    """Why a call ended."""

    REMOTE_BYE = "remote-bye"  # the caller hung up
    LOCAL_BYE = "local-bye"  # our BYE got a final response
    LOCAL_BYE_TIMEOUT = "local-bye-timeout"  # our BYE got no answer (Timer F)
    ACK_TIMEOUT = "ack-timeout"  # our 200 was never acknowledged (Timer H); BYE sent
    REJECTED = "rejected"  # we answered the INVITE with a final error


@dataclass(frozen=True)
class IncomingCall:
    """A new INVITE. Answer with ``answer``/``reject``; 100 Trying is already sent.

    ``offer`` is ``None`` for an INVITE without SDP (delayed offer): the 200 then carries
    our offer, and the ACK brings the peer's answer, reported as :class:`MediaAnswered` or
    :class:`MediaAnswerFailed` right after :class:`AckReceived`. An offer that is
    unparsable (400) or has no codec of the core's
    :class:`~voice_gateway.sip.sdp.AudioPolicy` (488) is rejected by the core itself and
    produces no event.

    ``policy`` is the audio policy of this call: the core's, with SRTP allowed over TLS
    (required from a secure source) and refused otherwise. The answer (or our offer) is
    made with it.
    """

    call: CallHandle
    request: Request
    offer: SessionDescription | None
    source: Address
    transport: Transport
    policy: AudioPolicy = field(default_factory=AudioPolicy)


@dataclass(frozen=True)
class CallCancelled:
    """The caller sent CANCEL before we answered; 487 and 200 have been sent."""

    call: CallHandle


@dataclass(frozen=True)
class AckReceived:
    """The ACK for our 200 arrived; ``answer`` is set if it carried SDP (late offer)."""

    call: CallHandle
    answer: SessionDescription | None = None


@dataclass(frozen=True)
class MediaAnswered:
    """The ACK answered the offer in our 200 (the INVITE had none): what was agreed."""

    call: CallHandle
    media: NegotiatedAudio


@dataclass(frozen=True)
class MediaAnswerFailed:
    """The ACK brought no usable answer to the offer in our 200 (none, unparsable, or no
    stream we offered). The call is up but has no media: the application hangs up."""

    call: CallHandle
    reason: str


@dataclass(frozen=True)
class CallEnded:
    """The call is over; ``status`` is the final status of our BYE, if one was sent."""

    call: CallHandle
    reason: EndReason
    status: int | None = None


@dataclass(frozen=True)
class Dtmf:
    """A digit from SIP INFO (application/dtmf-relay or application/dtmf)."""

    call: CallHandle
    digit: str
    duration_ms: int | None


@dataclass(frozen=True)
class HoldChanged:
    """A re-INVITE put the call on hold or took it off; the core already answered it."""

    call: CallHandle
    on_hold: bool
    media: NegotiatedAudio


@dataclass(frozen=True)
class MediaChanged:
    """A re-INVITE changed the remote media address or codec (hold state unchanged)."""

    call: CallHandle
    media: NegotiatedAudio


@dataclass(frozen=True)
class OptionsPing:
    """An OPTIONS request, already answered 200."""

    source: Address
    in_dialog: bool


@dataclass(frozen=True)
class TransferProgress:
    """How our REFER (RFC 3515) is going. ``status`` is the REFER's own response when it
    was refused (or 202 when accepted), then the status line of each NOTIFY's sipfrag: the
    transferee's INVITE towards the target. ``None``: the REFER got no answer. ``done``
    once nothing more will come; ``ok`` when the transferee reached the target."""

    call: CallHandle
    status: int | None
    done: bool

    @property
    def ok(self) -> bool:
        return self.done and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class OutboundProgress:
    """Our INVITE got a provisional response (180, 183 ...); ``media`` is set when it
    carried an answer to our offer (early media)."""

    call: CallHandle
    status: int
    media: NegotiatedAudio | None = None


@dataclass(frozen=True)
class OutboundAnswered:
    """Our INVITE was answered (2xx) and acknowledged: the call is up. ``dialog`` is the
    handle its in-dialog events (:class:`CallEnded`, :class:`Dtmf` ...) and operations
    (``hangup``) use."""

    call: CallHandle
    dialog: CallHandle
    media: NegotiatedAudio


@dataclass(frozen=True)
class OutboundFailed:
    """Our INVITE ended without a call. ``outcome``: ``busy`` (486/600), ``no-answer``
    (480, 408, our CANCEL on ring timeout), ``rejected`` (603, 403), ``cancelled`` (the
    application cancelled it) or ``failed`` (anything else, Timer B included).
    ``retry_after`` comes from the response's Retry-After, in seconds."""

    call: CallHandle
    status: int | None
    reason: str
    outcome: str
    retry_after: int | None = None


Event = (
    IncomingCall
    | CallCancelled
    | AckReceived
    | MediaAnswered
    | MediaAnswerFailed
    | CallEnded
    | Dtmf
    | HoldChanged
    | MediaChanged
    | OptionsPing
    | TransferProgress
    | OutboundProgress
    | OutboundAnswered
    | OutboundFailed
)
