"""A call on the UAS side: its lifecycle table and its dialog state (RFC 3261 §12).

How it works: :data:`CALL_TRANSITIONS` lists every legal ``(state, input) -> state``
move of a call, from the INVITE to the end; the core looks the move up before acting, so
an operation the table lacks (answering a cancelled call, hanging up twice) is refused in
one place. :class:`Dialog` keeps what in-dialog requests need: tags, CSeq counters, the
remote target and route set, and builds our own requests (BYE).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from voice_gateway.sip import grammar
from voice_gateway.sip.errors import NoCommonCodec
from voice_gateway.sip.events import Address, CallHandle, HoldChanged, MediaChanged, Transport
from voice_gateway.sip.headers import Headers, NameAddress, SipUri, Via
from voice_gateway.sip.message import Request
from voice_gateway.sip.sdp import (
    AudioPolicy,
    NegotiatedAudio,
    SessionDescription,
    answer_offer,
    negotiated_from_answer,
)


class CallState(enum.Enum):
    """Where a call stands."""

    INCOMING = "incoming"  # INVITE received, no final response yet
    ANSWERED = "answered"  # 200 sent, waiting for the ACK
    HANGUP_PENDING = "hangup-pending"  # we want to hang up but the ACK has not come yet
    CONFIRMED = "confirmed"  # ACK received: the call is up
    TERMINATING = "terminating"  # our BYE is in flight
    ENDED = "ended"


class CallInput(enum.Enum):
    """What can happen to a call."""

    PROVISIONAL = "provisional"
    ANSWER = "answer"
    REJECT = "reject"
    CANCEL = "cancel"
    ACK = "ack"
    ACK_TIMEOUT = "ack-timeout"
    REINVITE = "reinvite"
    INFO = "info"
    REMOTE_BYE = "remote-bye"
    HANGUP = "hangup"
    BYE_DONE = "bye-done"  # final response to our BYE, or Timer F


C, CI = CallState, CallInput
CALL_TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (C.INCOMING, CI.PROVISIONAL): C.INCOMING,
    (C.INCOMING, CI.ANSWER): C.ANSWERED,
    (C.INCOMING, CI.REJECT): C.ENDED,
    (C.INCOMING, CI.CANCEL): C.ENDED,
    (C.INCOMING, CI.HANGUP): C.ENDED,  # answered 480 instead of a BYE
    (C.ANSWERED, CI.ACK): C.CONFIRMED,
    (C.ANSWERED, CI.ACK_TIMEOUT): C.TERMINATING,  # we send BYE (RFC 3261 §13.3.1.4)
    (C.ANSWERED, CI.REMOTE_BYE): C.ENDED,
    (C.ANSWERED, CI.HANGUP): C.HANGUP_PENDING,  # no BYE before the ACK (§15)
    (C.ANSWERED, CI.INFO): C.ANSWERED,
    (C.HANGUP_PENDING, CI.ACK): C.TERMINATING,
    (C.HANGUP_PENDING, CI.ACK_TIMEOUT): C.TERMINATING,
    (C.HANGUP_PENDING, CI.REMOTE_BYE): C.ENDED,
    (C.HANGUP_PENDING, CI.HANGUP): C.HANGUP_PENDING,
    (C.CONFIRMED, CI.ACK): C.CONFIRMED,
    (C.CONFIRMED, CI.REINVITE): C.CONFIRMED,
    (C.CONFIRMED, CI.INFO): C.CONFIRMED,
    (C.CONFIRMED, CI.REMOTE_BYE): C.ENDED,
    (C.CONFIRMED, CI.HANGUP): C.TERMINATING,
    (C.TERMINATING, CI.ACK): C.TERMINATING,
    (C.TERMINATING, CI.INFO): C.TERMINATING,
    (C.TERMINATING, CI.HANGUP): C.TERMINATING,
    (C.TERMINATING, CI.REMOTE_BYE): C.ENDED,
    (C.TERMINATING, CI.BYE_DONE): C.ENDED,
}


@dataclass
class Dialog:
    """One call and its dialog, from the UAS's side."""

    handle: CallHandle
    invite: Request
    source: Address
    transport: Transport
    local_uri: str  # the INVITE's To (without tag): our From in requests we send
    remote_uri: str  # the INVITE's From (without tag)
    remote_target: SipUri | None
    route_set: list[str]
    remote_cseq: int
    local_cseq: int = 0
    state: CallState = CallState.INCOMING
    offer: SessionDescription | None = None  # the remote offer (INVITE or re-INVITE)
    local_sdp: SessionDescription | None = None
    media: NegotiatedAudio | None = None
    policy: AudioPolicy = field(default_factory=AudioPolicy)  # this call's (SRTP or not)
    on_hold: bool = False
    end_reported: bool = False
    # CSeq number -> key of an INVITE transaction whose 2xx awaits its ACK
    invite_keys: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_invite(
        cls, invite: Request, local_tag: str, source: Address, transport: Transport
    ) -> Dialog:
        """The dialog an INVITE would create (RFC 3261 §12.1.1)."""
        contact = invite.contact
        return cls(
            handle=CallHandle(invite.call_id, local_tag, invite.from_tag or ""),
            invite=invite,
            source=source,
            transport=transport,
            local_uri=_without_tag(invite.headers.get("To") or ""),
            remote_uri=_without_tag(invite.headers.get("From") or ""),
            remote_target=contact.uri if contact is not None else None,
            route_set=invite.headers.get_all("Record-Route"),
            remote_cseq=invite.cseq.number,
        )

    def advance(self, event: CallInput) -> bool:
        """Take the move for ``event`` if the table has one; tell whether it did."""
        target = CALL_TRANSITIONS.get((self.state, event))
        if target is None:
            return False
        self.state = target
        return True

    def allows(self, event: CallInput) -> bool:
        """Whether the table has a move for ``event`` now."""
        return (self.state, event) in CALL_TRANSITIONS

    def renegotiate(
        self, offer: SessionDescription, policy: AudioPolicy
    ) -> list[HoldChanged | MediaChanged]:
        """Answer a re-INVITE's offer from our current local SDP (same address and port;
        the session version goes up when the answer changes). Raises
        :class:`~voice_gateway.sip.errors.SdpError` (400/488): the call then goes on as it
        was. Returns the hold or media change the offer brought."""
        local = self.local_sdp
        media = next((m for m in local.media if m.port), None) if local else None
        connection = (media.connection if media else None) or (local.connection if local else None)
        if local is None or media is None or connection is None:
            raise NoCommonCodec("no local audio stream to renegotiate")
        answer, negotiated = answer_offer(
            offer, policy, connection.address, media.port,
            session_id=local.origin.session_id, session_version=local.origin.session_version,
            prefer=self.media.codec if self.media else None,
            srtp_key=self.media.srtp.local_key if self.media and self.media.srtp else None,
        )  # fmt: skip
        if answer.serialize() != local.serialize():
            answer.origin.session_version += 1
        previous = self.media
        self.local_sdp, self.media, self.offer = answer, negotiated, offer
        if negotiated.on_hold != self.on_hold:
            self.on_hold = negotiated.on_hold
            return [HoldChanged(self.handle, negotiated.on_hold, negotiated)]
        if previous is not None and previous != negotiated:
            return [MediaChanged(self.handle, negotiated)]
        return []

    def take_answer(self, answer: SessionDescription, policy: AudioPolicy) -> NegotiatedAudio:
        """The peer's answer (in the ACK) to the offer in our 200 (the INVITE had none).
        Raises :class:`~voice_gateway.sip.errors.NoCommonCodec` if it agrees to nothing we
        offered; the call then has no media."""
        if self.local_sdp is None:
            raise NoCommonCodec("no offer of ours to answer")
        negotiated = negotiated_from_answer(self.local_sdp, answer, policy)
        self.media, self.on_hold = negotiated, negotiated.on_hold
        return negotiated

    def build_request(self, method: str, via: Via, max_forwards: int = 70) -> Request:
        """An in-dialog request (RFC 3261 §12.2.1.1), with the next local CSeq."""
        self.local_cseq = max(self.local_cseq, self.remote_cseq) + 1
        uri = str(self.remote_target) if self.remote_target else _uri_of(self.remote_uri)
        headers = Headers()
        headers.add("Via", str(via))
        headers.add("Max-Forwards", str(max_forwards))
        for route in self.route_set:  # the UAS uses Record-Route in its order (§12.1.1)
            headers.add("Route", route)
        headers.add("From", f"{self.local_uri};tag={self.handle.local_tag}")
        headers.add("To", f"{self.remote_uri};tag={self.handle.remote_tag}")
        headers.add("Call-ID", self.handle.call_id)
        headers.add("CSeq", f"{self.local_cseq} {method}")
        return Request(method, uri, headers)

    def next_hop(self) -> Address:
        """Where in-dialog requests go: first route or the remote target when they name an
        IP literal; otherwise (a host name needing DNS) the INVITE's source."""
        uri: SipUri | None = None
        if self.route_set:
            try:
                uri = NameAddress.parse(self.route_set[0]).uri
            except ValueError:
                uri = None
        elif self.remote_target is not None:
            uri = self.remote_target
        if uri is not None and uri.opaque is None:
            host = uri.host.strip("[]")
            if grammar.IPV4_RE.fullmatch(host) or ":" in host:
                return (host, uri.port or 5060)
        return self.source


def _without_tag(value: str) -> str:
    try:
        address = NameAddress.parse(value)
    except ValueError:
        return value
    address.params.pop("tag", None)
    return str(address)


def _uri_of(value: str) -> str:
    try:
        return str(NameAddress.parse(value).uri)
    except ValueError:
        return value
