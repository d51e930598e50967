"""The sans-IO user agent client: our own INVITEs (outbound calls, e.g. 回访 callbacks).

How it works. :class:`UserAgent` is the UAS core (:mod:`voice_gateway.sip.uas`) plus a
client half, so one core serves one socket set: the callee's BYE, INFO and re-INVITE in a
dialog we created are handled by the very code that handles them in a dialog we accepted,
because once our INVITE is answered its dialog joins the same call table.

An outbound attempt (:meth:`UserAgent.invite`) walks :data:`OUTBOUND_TRANSITIONS`:
``calling`` until a provisional, ``ringing`` after it, ``cancelling`` once our CANCEL is
out (RFC 3261 §9.1: never before a provisional, so ``cancel-pending`` waits for one), and
``ended`` on a final response. Each INVITE runs in its own
:class:`~voice_gateway.sip.transactions.InviteClientTransaction` (Timers A, B, D; the ACK
for a non-2xx). A 2xx is acknowledged here (a new branch, to the remote target, again for
each retransmission) and the dialog confirmed at once. A 401/407 is answered once with
digest credentials (again only for ``stale=true``), a 3xx is followed at most
``OutboundRoute.max_redirects`` times to a host the route allows; both send a new INVITE
in the same call (Call-ID, From tag) with the next CSeq. The ring timeout is a core
timer: it sends the CANCEL itself. Outcomes come out as
:class:`~voice_gateway.sip.events.OutboundProgress`, ``OutboundAnswered`` and
``OutboundFailed``. Like the UAS, nothing here reads a clock, a socket or a random source
it was not given.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from voice_gateway.sip import bodies
from voice_gateway.sip.auth import authorization, pick_challenge
from voice_gateway.sip.dialog import CallState, Dialog
from voice_gateway.sip.errors import LocalProtocolError, SdpError
from voice_gateway.sip.events import (
    Address,
    CallHandle,
    Event,
    OutboundAnswered,
    OutboundFailed,
    OutboundProgress,
    Transport,
)
from voice_gateway.sip.headers import Headers, NameAddress, SipUri, Via
from voice_gateway.sip.message import Request, Response
from voice_gateway.sip.sdp import (
    AudioPolicy,
    NegotiatedAudio,
    SessionDescription,
    negotiated_from_answer,
)
from voice_gateway.sip.transactions import (
    MAGIC_COOKIE,
    InviteClientTransaction,
    NonInviteClientTransaction,
    Transaction,
)
from voice_gateway.sip.uas import (
    RequestScreen,
    SecureSource,
    UasConfig,
    UserAgentServer,
    _default_id,
)

logger = logging.getLogger(__name__)

_RETRY_AFTER_RE = re.compile(r"\s*(\d{1,9})")


@dataclass(frozen=True)
class OutboundRoute:
    """Where and as whom our INVITEs go: the trunk (or outbound proxy) and its rules."""

    proxy: Address | None = None  # the next hop; None: the target URI's own host and port
    transport: Transport = Transport.UDP
    username: str | None = None  # digest credentials the trunk challenges for
    password: str | None = None
    caller_id: str = "12345"  # the From user: the hotline's number
    domain: str | None = None  # the From host; None: our advertised host
    display_name: str | None = None
    ring_timeout_s: float = 45.0  # then CANCEL (no answer)
    max_redirects: int = 1  # 3xx followed at most this many times
    redirect_hosts: tuple[str, ...] = ()  # hosts a 3xx may send us to, beside the target's


class Phase(enum.Enum):
    """Where one outbound attempt stands before it is a dialog."""

    CALLING = "calling"  # INVITE sent, nothing (or only a retry's silence) heard yet
    RINGING = "ringing"  # a provisional came
    CANCEL_PENDING = "cancel-pending"  # we want to stop; CANCEL waits for a provisional
    CANCELLING = "cancelling"  # CANCEL sent, the INVITE's final (487) awaited
    ENDED = "ended"


class OutInput(enum.Enum):
    PROVISIONAL = "provisional"
    RETRY = "retry"  # a challenge answered or a redirect followed: a new INVITE
    ANSWERED = "answered"
    FAILED = "failed"  # a final error, Timer B, or an unusable answer
    CANCEL = "cancel"  # the ring timeout or the application


P, OI = Phase, OutInput
OUTBOUND_TRANSITIONS: dict[tuple[Phase, OutInput], Phase] = {
    (P.CALLING, OI.PROVISIONAL): P.RINGING,
    (P.CALLING, OI.RETRY): P.CALLING,
    (P.CALLING, OI.ANSWERED): P.ENDED,
    (P.CALLING, OI.FAILED): P.ENDED,
    (P.CALLING, OI.CANCEL): P.CANCEL_PENDING,
    (P.RINGING, OI.PROVISIONAL): P.RINGING,
    (P.RINGING, OI.RETRY): P.CALLING,
    (P.RINGING, OI.ANSWERED): P.ENDED,
    (P.RINGING, OI.FAILED): P.ENDED,
    (P.RINGING, OI.CANCEL): P.CANCELLING,
    (P.CANCEL_PENDING, OI.PROVISIONAL): P.CANCELLING,
    (P.CANCEL_PENDING, OI.ANSWERED): P.ENDED,  # too late: ACK, then BYE
    (P.CANCEL_PENDING, OI.FAILED): P.ENDED,
    (P.CANCEL_PENDING, OI.CANCEL): P.CANCEL_PENDING,
    (P.CANCELLING, OI.PROVISIONAL): P.CANCELLING,
    (P.CANCELLING, OI.ANSWERED): P.ENDED,  # the 200 crossed our CANCEL: ACK, then BYE
    (P.CANCELLING, OI.FAILED): P.ENDED,
    (P.CANCELLING, OI.CANCEL): P.CANCELLING,
}


def failure_outcome(status: int | None) -> str:
    """How a final failure counts for a callback: busy, no-answer, rejected or failed."""
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "no-answer"
    if status in (403, 603):
        return "rejected"
    return "failed"


@dataclass
class _Attempt:
    handle: CallHandle  # (Call-ID, our From tag, "")
    route: OutboundRoute
    offer: SessionDescription
    policy: AudioPolicy
    from_value: str
    to_value: str
    target: str  # the current Request-URI
    dest: Address
    cseq: int
    txn: InviteClientTransaction
    phase: Phase = Phase.CALLING
    cancel_outcome: str = "no-answer"
    redirects: int = 0
    challenges: int = 0
    nonce_count: int = 0
    timers: dict[str, int] = field(default_factory=dict)  # "ring" / "cancel" -> key
    dialog: Dialog | None = None
    ack: bytes | None = None


class UserAgent(UserAgentServer):
    """The UAS core with outbound calls (see the module docstring)."""

    def __init__(
        self,
        config: UasConfig | None = None,
        *,
        new_id: Callable[[], str] = _default_id,
        screen: RequestScreen | None = None,
        secure_source: SecureSource | None = None,
    ) -> None:
        super().__init__(config, new_id=new_id, screen=screen, secure_source=secure_source)
        self._attempts: dict[CallHandle, _Attempt] = {}
        # every INVITE transaction of ours, retries included, until it terminates
        self._invites: dict[tuple[str, ...], tuple[_Attempt, InviteClientTransaction]] = {}
        self._cancels: dict[tuple[str, ...], NonInviteClientTransaction] = {}
        self._call_timers: dict[int, tuple[CallHandle, str]] = {}

    # --- operations -------------------------------------------------------------------

    def invite(
        self,
        target: str,
        offer: SessionDescription,
        route: OutboundRoute,
        *,
        policy: AudioPolicy | None = None,
    ) -> CallHandle:
        """Call ``target`` (a SIP URI) with our SDP ``offer`` through ``route``. Progress
        and the outcome come as events for the returned handle."""
        uri = SipUri.parse(target)
        if uri.opaque is not None:
            raise LocalProtocolError("an outbound target must be a sip: or sips: URI")
        dest = route.proxy or (uri.host.strip("[]"), uri.port or 5060)
        host = route.domain or self.config.local_host
        caller = NameAddress(SipUri("sip", host, user=route.caller_id),
                             route.display_name)  # fmt: skip
        handle = CallHandle(f"{self._new_id()}@{self.config.local_host}", self._new_id(), "")
        attempt = _Attempt(
            handle=handle, route=route, offer=offer, policy=policy or self.config.audio,
            from_value=f"{caller};tag={handle.local_tag}", to_value=f"<{target}>",
            target=target, dest=dest, cseq=0,
            txn=None,  # type: ignore[arg-type]  # set by _send_invite
        )  # fmt: skip
        self._attempts[handle] = attempt
        self._send_invite(attempt)
        attempt.timers["ring"] = self._call_timer(attempt, "ring", route.ring_timeout_s)
        return handle

    def cancel(self, call: CallHandle) -> bool:
        """Stop an outbound call that is not answered yet (CANCEL, RFC 3261 §9.1); the
        outcome comes as ``OutboundFailed(outcome="cancelled")``. False if it is not an
        attempt under way (an answered call is ended with :meth:`hangup` on its dialog)."""
        attempt = self._attempts.get(call)
        if attempt is None:
            return False
        attempt.cancel_outcome = "cancelled"
        self._cancel(attempt)
        return True

    def next_hop(self, call: CallHandle) -> Address | None:
        """Where the in-dialog requests of a call go (its RTP peer's signalling host)."""
        dialog = self._calls.get(call)
        return dialog.next_hop() if dialog is not None else None

    def outbound_handles(self) -> list[CallHandle]:
        """The outbound attempts under way."""
        return list(self._attempts)

    @property
    def outbound_calls(self) -> int:
        """Outbound attempts not yet answered or failed."""
        return len(self._attempts)

    # --- timers -----------------------------------------------------------------------

    def handle_timer(self, key: int) -> list[Event]:
        entry = self._call_timers.pop(key, None)
        if entry is None:
            return super().handle_timer(key)
        self._queue.pop_timer(key)
        handle, name = entry
        attempt = self._attempts.get(handle)
        if attempt is None:
            return []
        attempt.timers.pop(name, None)
        if name == "ring":
            self._cancel(attempt)
            return []
        # "cancel": no final response 64·T1 after our CANCEL (RFC 3261 §9.1): the INVITE
        # transaction, stuck in Proceeding with no timer of its own, is dropped too.
        self._invites.pop(attempt.txn.key, None)
        return self._fail(attempt, None, "no final response after CANCEL",
                          attempt.cancel_outcome)  # fmt: skip

    def _call_timer(self, attempt: _Attempt, name: str, delay: float) -> int:
        key = self._queue.start_timer(attempt.txn, name, delay)
        self._call_timers[key] = (attempt.handle, name)
        return key

    def _on_timeout(self, txn: Transaction) -> list[Event]:
        entry = self._invites.get(txn.key)
        if entry is not None:
            attempt, invite = entry
            if invite is txn and attempt.txn is txn:
                return self._fail(attempt, None, "no response (Timer B)", "failed")
            return []
        if txn.key in self._cancels:
            return []  # the CANCEL went unanswered; Timer B or the cancel guard decides
        return super()._on_timeout(txn)

    def _forget(self, txn: Transaction) -> None:
        if txn.terminated:
            entry = self._invites.get(txn.key)
            if entry is not None and entry[1] is txn:
                del self._invites[txn.key]
            elif self._cancels.get(txn.key) is txn:
                del self._cancels[txn.key]
        super()._forget(txn)

    # --- responses --------------------------------------------------------------------

    def _on_response(self, response: Response) -> list[Event]:
        key = (response.branch or "", response.cseq.method)
        entry = self._invites.get(key)
        if entry is not None:
            attempt, txn = entry
            events: list[Event] = []
            for notice in txn.receive_response(response):
                answer = notice.response
                # An earlier INVITE of the call (before a retry) only matters if answered.
                if answer is not None and (txn is attempt.txn or 200 <= answer.status < 300):
                    events += self._on_invite_response(attempt, answer)
            self._forget(txn)
            return events
        cancel = self._cancels.get(key)
        if cancel is not None:
            cancel.receive_response(response)
            self._forget(cancel)
            return []
        return super()._on_response(response)

    def _on_invite_response(self, attempt: _Attempt, response: Response) -> list[Event]:
        status = response.status
        if 200 <= status < 300:
            return self._on_2xx(attempt, response)
        if attempt.phase is Phase.ENDED:
            return []
        if status < 200:
            return self._on_provisional(attempt, response)
        if status in (401, 407) and self._retry_with_credentials(attempt, response):
            return []
        if 300 <= status < 400 and self._follow_redirect(attempt, response):
            return []
        outcome = failure_outcome(status)
        if status == 487 and attempt.phase in (Phase.CANCELLING, Phase.CANCEL_PENDING):
            outcome = attempt.cancel_outcome
        return self._fail(attempt, status, response.reason, outcome,
                          _retry_after(response))  # fmt: skip

    def _on_provisional(self, attempt: _Attempt, response: Response) -> list[Event]:
        before = attempt.phase
        self._advance(attempt, OutInput.PROVISIONAL)
        if before is Phase.CANCEL_PENDING:
            self._send_cancel(attempt)
        if response.status == 100 or before not in (Phase.CALLING, Phase.RINGING):
            return []
        media: NegotiatedAudio | None = None
        raw = bodies.find_sdp(response)
        if raw is not None:
            try:
                media = negotiated_from_answer(attempt.offer, SessionDescription.parse(raw),
                                               attempt.policy)  # fmt: skip
            except SdpError:
                media = None
        return [OutboundProgress(attempt.handle, response.status, media)]

    def _on_2xx(self, attempt: _Attempt, response: Response) -> list[Event]:
        dialog = attempt.dialog
        if dialog is not None:
            if response.to_tag == dialog.handle.remote_tag and attempt.ack is not None:
                self._queue.transmit(attempt.ack, dialog.next_hop(), dialog.transport)
            else:  # another fork answered too: acknowledge it and end it (§13.2.2.4)
                self._ack_and_bye(attempt, self._dialog_for(attempt, response))
            return []
        dialog = self._dialog_for(attempt, response)
        attempt.dialog = dialog
        wanted = attempt.phase in (Phase.CALLING, Phase.RINGING)
        self._advance(attempt, OutInput.ANSWERED)
        raw = bodies.find_sdp(response)
        media: NegotiatedAudio | None = None
        if raw is not None:
            try:
                media = negotiated_from_answer(attempt.offer, SessionDescription.parse(raw),
                                               attempt.policy)  # fmt: skip
            except SdpError:
                media = None
        if not wanted or media is None:
            self._ack_and_bye(attempt, dialog)
            reason = "no usable SDP answer" if wanted else "answered after our CANCEL"
            outcome = "failed" if wanted else attempt.cancel_outcome
            return self._close(attempt, OutboundFailed(attempt.handle, response.status,
                                                       reason, outcome))  # fmt: skip
        dialog.media, dialog.on_hold = media, media.on_hold
        self._calls[dialog.handle] = dialog
        attempt.ack = self._ack_2xx(dialog, attempt)
        return self._close(attempt, OutboundAnswered(attempt.handle, dialog.handle, media),
                           keep_invite=True)  # fmt: skip

    def _dialog_for(self, attempt: _Attempt, response: Response) -> Dialog:
        """The dialog a 2xx creates on our side (RFC 3261 §12.1.2)."""
        contact = response.contact
        invite = attempt.txn.request
        return Dialog(
            handle=CallHandle(attempt.handle.call_id, attempt.handle.local_tag,
                              response.to_tag or ""),
            invite=invite, source=attempt.dest, transport=attempt.route.transport,
            local_uri=attempt.from_value.rsplit(";tag=", 1)[0],
            remote_uri=attempt.to_value,
            remote_target=contact.uri if contact is not None else None,
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            remote_cseq=0, local_cseq=attempt.cseq, state=CallState.CONFIRMED,
            local_sdp=attempt.offer, policy=attempt.policy,
        )  # fmt: skip

    def _ack_2xx(self, dialog: Dialog, attempt: _Attempt) -> bytes:
        """The ACK of a 2xx (RFC 3261 §13.2.2.4): its own branch, the INVITE's CSeq
        number, to the remote target through the route set; sent now."""
        headers = Headers()
        headers.add("Via", str(self._client_via(dialog.transport)))
        headers.add("Max-Forwards", "70")
        for route in dialog.route_set:
            headers.add("Route", route)
        headers.add("From", attempt.from_value)
        headers.add("To", f"{dialog.remote_uri};tag={dialog.handle.remote_tag}")
        headers.add("Call-ID", dialog.handle.call_id)
        headers.add("CSeq", f"{attempt.cseq} ACK")
        uri = str(dialog.remote_target) if dialog.remote_target else attempt.target
        data = Request("ACK", uri, headers).serialize()
        self._queue.transmit(data, dialog.next_hop(), dialog.transport)
        return data

    def _ack_and_bye(self, attempt: _Attempt, dialog: Dialog) -> None:
        self._ack_2xx(dialog, attempt)
        self._send_bye(dialog)

    # --- retries: digest and redirects ------------------------------------------------

    def _retry_with_credentials(self, attempt: _Attempt, response: Response) -> bool:
        route = attempt.route
        if route.username is None or route.password is None:
            return False
        proxy = response.status == 407
        challenge = pick_challenge(
            response.headers.get_all("Proxy-Authenticate" if proxy else "WWW-Authenticate"))
        if challenge is None or (attempt.challenges >= 1 and not challenge.stale):
            return False  # our credentials were refused: do not loop
        if attempt.challenges >= 2 or not self._can_retry(attempt):
            return False
        attempt.challenges += 1
        attempt.nonce_count = 1
        value = authorization(challenge, route.username, route.password, "INVITE",
                              attempt.target, cnonce=self._new_id())  # fmt: skip
        header = "Proxy-Authorization" if proxy else "Authorization"
        self._send_invite(attempt, extra=[(header, value)])
        return True

    def _follow_redirect(self, attempt: _Attempt, response: Response) -> bool:
        route = attempt.route
        if attempt.redirects >= route.max_redirects or not self._can_retry(attempt):
            return False
        allowed = {SipUri.parse(attempt.target).host.lower(),
                   *(h.lower() for h in route.redirect_hosts)}  # fmt: skip
        for value in response.headers.get_all("Contact"):
            try:
                uri = NameAddress.parse(value).uri
            except ValueError:
                continue
            if uri.opaque is None and uri.scheme in ("sip", "sips") and uri.host.lower() in allowed:
                attempt.redirects += 1
                attempt.target = str(uri)
                if route.proxy is None:
                    attempt.dest = (uri.host.strip("[]"), uri.port or 5060)
                self._send_invite(attempt)
                return True
        logger.info("3xx to a target outside the route's policy: not followed")
        return False

    def _can_retry(self, attempt: _Attempt) -> bool:
        return (attempt.phase, OutInput.RETRY) in OUTBOUND_TRANSITIONS

    # --- sending ----------------------------------------------------------------------

    def _send_invite(self, attempt: _Attempt, extra: list[tuple[str, str]] | None = None) -> None:
        if attempt.cseq:
            self._advance(attempt, OutInput.RETRY)
        attempt.cseq += 1
        transport = attempt.route.transport
        headers = Headers()
        headers.add("Via", str(self._client_via(transport)))
        headers.add("Max-Forwards", "70")
        headers.add("From", attempt.from_value)
        headers.add("To", attempt.to_value)
        headers.add("Call-ID", attempt.handle.call_id)
        headers.add("CSeq", f"{attempt.cseq} INVITE")
        headers.add("Contact", self._client_contact(transport))
        headers.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY")
        for name, value in extra or []:
            headers.add(name, value)
        if self.config.server_name:
            headers.add("User-Agent", self.config.server_name)
        headers.add("Content-Type", bodies.SDP_TYPE)
        request = Request("INVITE", attempt.target, headers, attempt.offer.serialize())
        txn = InviteClientTransaction(self._queue, self.config.timers, request, attempt.dest,
                                      transport)  # fmt: skip
        attempt.txn = txn
        self._invites[txn.key] = (attempt, txn)
        txn.start()

    def _cancel(self, attempt: _Attempt) -> None:
        before = attempt.phase
        if not self._advance(attempt, OutInput.CANCEL):
            return
        if before is Phase.RINGING:
            self._send_cancel(attempt)

    def _send_cancel(self, attempt: _Attempt) -> None:
        """CANCEL (RFC 3261 §9.1): the INVITE's Request-URI, top Via (its branch), Call-ID,
        From, To and CSeq number, in its own non-INVITE transaction."""
        invite = attempt.txn.request
        headers = Headers()
        headers.add("Via", invite.headers.get_all("Via")[0])
        headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            headers.add(name, invite.headers.get(name) or "")
        headers.add("CSeq", f"{invite.cseq.number} CANCEL")
        request = Request("CANCEL", invite.uri, headers)
        txn = NonInviteClientTransaction(self._queue, self.config.timers, request,
                                         attempt.dest, attempt.txn.transport)  # fmt: skip
        self._cancels[txn.key] = txn
        txn.start()
        timer = attempt.timers.pop("ring", None)
        if timer is not None:
            self._queue.cancel_timer(timer)
            self._call_timers.pop(timer, None)
        attempt.timers["cancel"] = self._call_timer(attempt, "cancel",
                                                    64 * self.config.timers.t1)  # fmt: skip

    def _client_via(self, transport: Transport) -> Via:
        return Via(transport.value, self.config.local_host, self.config.port_for(transport),
                   {"branch": MAGIC_COOKIE + self._new_id(), "rport": None})  # fmt: skip

    def _client_contact(self, transport: Transport) -> str:
        config = self.config
        uri = f"sip:{config.contact_user}@{config.local_host}:{config.port_for(transport)}"
        if transport is not Transport.UDP:
            uri += f";transport={transport.value.lower()}"
        return f"<{uri}>"

    # --- the end of an attempt --------------------------------------------------------

    def _advance(self, attempt: _Attempt, event: OutInput) -> bool:
        target = OUTBOUND_TRANSITIONS.get((attempt.phase, event))
        if target is None:
            return False
        attempt.phase = target
        return True

    def _fail(self, attempt: _Attempt, status: int | None, reason: str, outcome: str,
              retry_after: int | None = None) -> list[Event]:  # fmt: skip
        if attempt.phase is not Phase.ENDED:
            self._advance(attempt, OutInput.FAILED)
        return self._close(attempt, OutboundFailed(attempt.handle, status, reason, outcome,
                                                   retry_after))  # fmt: skip

    def _close(self, attempt: _Attempt, event: Event, *, keep_invite: bool = False) -> list[Event]:
        """The attempt is over: stop its timers and forget it (its INVITE transaction
        lives on to absorb retransmissions, and a 2xx's repeats are ACKed while the
        transaction is Accepted)."""
        if self._attempts.pop(attempt.handle, None) is None:
            return []
        for key in attempt.timers.values():
            self._queue.cancel_timer(key)
            self._call_timers.pop(key, None)
        attempt.timers.clear()
        return [event]


def _retry_after(response: Response) -> int | None:
    match = _RETRY_AFTER_RE.match(response.headers.get("Retry-After") or "")
    return int(match.group(1)) if match else None
