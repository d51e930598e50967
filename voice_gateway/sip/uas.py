"""The sans-IO user agent server: bytes and timer firings in, events and actions out.

How it works: :meth:`UserAgentServer.receive_data` parses one message (a datagram or a
framed stream message). A request first meets the transaction layer: a retransmission is
answered from its transaction's stored response and goes no further. A new request is
checked (Require, Accept, Content-Type), given a server transaction, and routed by method
and dialog (To tag) to a handler that answers and returns events. Operations
(:meth:`answer`, :meth:`reject`, :meth:`hangup` ...) go through the call table in
:mod:`voice_gateway.sip.dialog`. Every send and timer is queued as an action; the driver
takes them with :meth:`drain_actions` after each call and feeds timer firings back with
:meth:`handle_timer`. Nothing here reads a clock, a socket or a random source it was not
given.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from voice_gateway.sip import bodies, grammar
from voice_gateway.sip.dialog import CallInput, CallState, Dialog
from voice_gateway.sip.errors import (
    LocalProtocolError,
    NoCommonCodec,
    SdpError,
    SipMessageError,
)
from voice_gateway.sip.events import (
    AckReceived,
    Action,
    Address,
    CallCancelled,
    CallEnded,
    CallHandle,
    Dtmf,
    EndReason,
    Event,
    IncomingCall,
    MediaAnswered,
    MediaAnswerFailed,
    OptionsPing,
    TransferProgress,
    Transport,
)
from voice_gateway.sip.headers import Headers, Via
from voice_gateway.sip.message import (
    DEFAULT_LIMITS,
    Limits,
    Request,
    Response,
    build_response,
    stamp_received,
)
from voice_gateway.sip.message import parse_message as _parse
from voice_gateway.sip.privacy import mask_digits
from voice_gateway.sip.sdp import (
    AudioPolicy,
    NegotiatedAudio,
    SessionDescription,
    SrtpMode,
    answer_offer,
    local_srtp_key,
)
from voice_gateway.sip.transactions import (
    MAGIC_COOKIE,
    ActionQueue,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    NoticeKind,
    ServerTransaction,
    State,
    TimerConfig,
    Transaction,
    server_transaction_key,
)

logger = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY"
# Methods defined by RFCs that we do not implement: 405 with Allow. Anything else: 501.
KNOWN_METHODS = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "UPDATE", "PRACK", "PUBLISH"}
)
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset()


_PLACEHOLDER_KEY = bytes(30)  # see _on_invite


def _default_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class UasConfig:
    """Everything the core needs to know about itself; no globals."""

    local_host: str = "127.0.0.1"  # advertised in Via and Contact
    local_port: int = 5060
    timers: TimerConfig = field(default_factory=TimerConfig)
    limits: Limits = DEFAULT_LIMITS
    audio: AudioPolicy = field(default_factory=AudioPolicy)
    contact_user: str = "intake"
    server_name: str | None = "voice-intake"
    hangup_unanswered_status: int = 480
    # RFC 3261 §18.1.1: a request of ours larger than this goes over TCP, not UDP (1300
    # bytes when the path MTU is unknown, else the path MTU minus 200).
    udp_request_limit: int = 1300
    # Our SIP over TLS port (Contact and Via of calls over TLS); None: no TLS.
    tls_port: int | None = None

    def port_for(self, transport: Transport) -> int:
        """The port we advertise for ``transport``."""
        if transport is Transport.TLS and self.tls_port is not None:
            return self.tls_port
        return self.local_port


@dataclass(frozen=True)
class Refusal:
    """What a request screen answers instead of letting a request in."""

    status: int
    reason: str | None = None
    retry_after: int | None = None


# Called for every new request except ACK and CANCEL (admission: allowlist, rate limits).
RequestScreen = Callable[[Request, Address], Refusal | None]
# Takes a source IP address; True: its calls must come over TLS with SRTP media.
SecureSource = Callable[[str], bool]


@dataclass
class Stats:
    """Counters for monitoring; never holds message content."""

    requests: int = 0
    responses: int = 0
    retransmissions: int = 0
    malformed_answered: int = 0
    malformed_dropped: int = 0
    stray: int = 0
    internal_errors: int = 0


class UserAgentServer:
    """SIP UAS core without I/O (see module docstring)."""

    def __init__(
        self,
        config: UasConfig | None = None,
        *,
        new_id: Callable[[], str] = _default_id,
        screen: RequestScreen | None = None,
        secure_source: SecureSource | None = None,
    ) -> None:
        """``new_id`` makes tags and branches (inject a counter for exact-bytes tests);
        ``screen`` may refuse any new request before the core handles it;
        ``secure_source`` names the sources whose calls must be TLS and SRTP."""
        self.config = config or UasConfig()
        self._screen = screen
        self._secure_source = secure_source
        self.stats = Stats()
        self._new_id = new_id
        self._queue = ActionQueue()
        self._server: dict[tuple[str, ...], ServerTransaction] = {}
        self._client: dict[tuple[str, ...], NonInviteClientTransaction] = {}
        self._calls: dict[CallHandle, Dialog] = {}
        self._txn_call: dict[int, CallHandle] = {}
        # Calls with a REFER of ours whose subscription is open (RFC 3515): its NOTIFYs are
        # expected. True once its outcome was reported (a final status before the
        # subscription ends): a new transfer may then start.
        self._transfers: dict[CallHandle, bool] = {}

    # --- driver interface -------------------------------------------------------------

    def receive_data(
        self, data: bytes, source: Address, transport: Transport = Transport.UDP
    ) -> list[Event]:
        """Feed one whole message; return the events it caused. Never raises."""
        if not data.strip(b"\r\n\x00 "):
            return []  # keep-alive
        try:
            message = _parse(data, stream=transport.reliable, limits=self.config.limits)
        except SipMessageError as exc:
            self._refuse(exc, source, transport)
            return []
        try:
            if isinstance(message, Response):
                self.stats.responses += 1
                return self._on_response(message)
            self.stats.requests += 1
            return self._on_request(message, source, transport)
        except Exception:  # the core must never take the event loop down
            self.stats.internal_errors += 1
            logger.exception("SIP core failed on a message from %s", source[0])
            return []

    def handle_timer(self, key: int) -> list[Event]:
        """A timer from a :class:`TimerRequest` fired; stale keys are ignored."""
        entry = self._queue.pop_timer(key)
        if entry is None:
            return []
        transaction, name = entry
        events: list[Event] = []
        for notice in transaction.on_timer(name):
            if notice.kind is NoticeKind.TIMEOUT:
                events += self._on_timeout(notice.transaction)
        self._forget(transaction)
        return events

    def connection_failed(
        self, transport: Transport, dest: Address, *, refused: bool
    ) -> list[Event]:
        """The driver could not connect to ``dest`` over ``transport`` (a stream
        transport); what it had queued for it is gone. A request of ours that went to TCP
        only because of its size is sent again over UDP when the connection was refused
        (RFC 3261 §18.1.1); the others end at once as transport errors (§17.1.4) rather
        than at Timer F."""
        events: list[Event] = []
        for txn in [t for t in self._client.values()
                    if t.transport is transport and t.dest == dest and not t.terminated]:
            if refused and txn.moved_to_tcp:
                self._retry_over_udp(txn)
                continue
            for notice in txn.transport_error():
                events += self._on_timeout(notice.transaction)
            self._forget(txn)
        return events

    def drain_actions(self) -> list[Action]:
        """Return (and forget) the sends and timer changes queued so far."""
        return self._queue.drain()

    # --- operations -------------------------------------------------------------------

    def provisional(
        self, call: CallHandle, status: int = 180, *, sdp: SessionDescription | bytes | None = None
    ) -> bool:
        """Send 180 Ringing (or 183 Session Progress with early-media SDP)."""
        dialog = self._live(call, CallInput.PROVISIONAL)
        if dialog is None:
            return False
        body = _sdp_bytes(sdp)
        response = self._response(dialog.invite, status, dialog, body=body)
        self._invite_txn(dialog).send_response(response)
        dialog.advance(CallInput.PROVISIONAL)
        return True

    def ringing(self, call: CallHandle) -> bool:
        """Send 180 Ringing."""
        return self.provisional(call, 180)

    def answer(self, call: CallHandle, sdp: SessionDescription | bytes) -> bool:
        """Send 200 OK with our SDP (the answer, or our offer if the INVITE had none)."""
        dialog = self._live(call, CallInput.ANSWER)
        if dialog is None:
            return False
        if isinstance(sdp, bytes):
            sdp = SessionDescription.parse(sdp)
        dialog.local_sdp = sdp
        key = local_srtp_key(sdp)
        if dialog.media is not None and dialog.media.srtp is not None and key is not None:
            # The key we send with is the one the application put in its answer.
            dialog.media = replace(dialog.media, srtp=replace(dialog.media.srtp, local_key=key))
        response = self._response(dialog.invite, 200, dialog, body=sdp.serialize(), dialog_2xx=True)
        self._invite_txn(dialog).send_response(response)
        dialog.advance(CallInput.ANSWER)
        return True

    def reject(
        self,
        call: CallHandle,
        status: int,
        reason: str | None = None,
        *,
        retry_after: int | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Refuse the call with a final 3xx-6xx (e.g. 403, 486, 488, 503 + Retry-After,
        401 + WWW-Authenticate from :mod:`voice_gateway.sip.auth`)."""
        if not 300 <= status <= 699:
            raise LocalProtocolError("reject needs a 3xx-6xx status")
        dialog = self._live(call, CallInput.REJECT)
        if dialog is None:
            return False
        extra = list(headers)
        if retry_after is not None:
            extra.append(("Retry-After", str(retry_after)))
        response = self._response(dialog.invite, status, dialog, reason=reason, extra=extra)
        self._invite_txn(dialog).send_response(response)
        dialog.advance(CallInput.REJECT)
        self._end(dialog)
        return True

    def hangup(self, call: CallHandle) -> bool:
        """End the call from our side: a BYE once the call is up (after the ACK), or a
        final error if it was never answered. The outcome comes as :class:`CallEnded`."""
        dialog = self._live(call, CallInput.HANGUP)
        if dialog is None:
            return False
        if dialog.state is CallState.INCOMING:
            return self.reject(call, self.config.hangup_unanswered_status)
        before = dialog.state
        dialog.advance(CallInput.HANGUP)
        if before is CallState.CONFIRMED:
            self._send_bye(dialog)
        return True

    def refer(self, call: CallHandle, target: str) -> bool:
        """Transfer the caller to ``target`` (a SIP URI) with an in-dialog REFER (RFC 3515,
        RFC 5589 blind transfer). Progress comes as :class:`TransferProgress`; once it
        reports ``ok`` the caller talks to the target and the application hangs up its
        leg. Only a confirmed call with no transfer under way can be transferred."""
        dialog = self._calls.get(call)
        if dialog is None or dialog.state is not CallState.CONFIRMED:
            return False
        if self._transfers.get(call) is False:
            return False  # one under way
        request = dialog.build_request("REFER", self._via(dialog))
        request.headers.add("Contact", self._contact(dialog))
        request.headers.add("Refer-To", f"<{target}>")
        request.headers.add("Referred-By", self._contact(dialog))
        self._transfers[call] = False
        self._start_client(dialog, request)
        return True

    def abandon_transfer(self, call: CallHandle) -> None:
        """Stop waiting for a transfer's outcome (the application gave up on it): no more
        :class:`TransferProgress` for it, and its NOTIFYs get 481, which ends the
        subscription at the transferee (RFC 6665 §4.1.3)."""
        self._transfers.pop(call, None)

    def call_state(self, call: CallHandle) -> CallState:
        """Where the call stands (``ENDED`` for unknown or forgotten calls)."""
        dialog = self._calls.get(call)
        return dialog.state if dialog is not None else CallState.ENDED

    @property
    def active_calls(self) -> int:
        """Calls not yet ended."""
        return len(self._calls)

    # --- requests ---------------------------------------------------------------------

    def _on_request(self, request: Request, source: Address, transport: Transport) -> list[Event]:
        _stamp_via(request, source)
        method = request.method
        key = server_transaction_key(request)
        if method == "ACK":
            return self._on_ack(request, key)
        existing = self._server.get(key)
        if existing is not None:
            self.stats.retransmissions += 1
            existing.receive_request()
            return []
        dest, fallback = response_route(request.top_via, source, transport)
        kind = InviteServerTransaction if method == "INVITE" else NonInviteServerTransaction
        txn: ServerTransaction = kind(
            self._queue, self.config.timers, request, key, dest, transport, fallback
        )
        self._server[key] = txn
        try:
            return self._dispatch(request, txn, source, transport)
        finally:
            self._forget(txn)

    def _dispatch(
        self, request: Request, txn: ServerTransaction, source: Address, transport: Transport
    ) -> list[Event]:
        method = request.method
        if self._screen is not None and method != "CANCEL":
            refusal = self._screen(request, source)
            if refusal is not None:
                retry = refusal.retry_after
                extra = [("Retry-After", str(retry))] if retry is not None else []
                self._reply(txn, refusal.status, reason=refusal.reason, extra=extra)
                return []
        if (method == "INVITE" and request.to_tag is None and transport is not Transport.TLS
                and self._secure_source is not None and self._secure_source(source[0])):
            # 403, not a 3xx to a sips: URI: trunks retry a refused call elsewhere, and a
            # redirect would let a downgraded hop choose where the call goes.
            logger.info("INVITE from %s over %s refused: its network must use TLS",
                        source[0], transport.value)  # fmt: skip
            self._reply(txn, 403, reason="TLS Required")
            return []
        if method != "CANCEL":
            unsupported = [
                tag for tag in request.headers.get_all("Require") if tag not in SUPPORTED_EXTENSIONS
            ]
            if unsupported:
                self._reply(txn, 420, extra=[("Unsupported", ", ".join(unsupported))])
                return []
        if method == "CANCEL":
            return self._on_cancel(request, txn)
        if method == "OPTIONS":
            self._reply(txn, 200, extra=[("Accept", bodies.SDP_TYPE)])
            return [OptionsPing(source, in_dialog=request.to_tag is not None)]
        if request.to_tag is not None:
            return self._in_dialog(request, txn)
        if method == "INVITE":
            assert isinstance(txn, InviteServerTransaction)
            return self._on_invite(request, txn, source, transport)
        if method == "BYE" or method == "INFO":
            self._reply(txn, 481)
        elif method in KNOWN_METHODS:
            self._reply(txn, 405)
        else:
            self._reply(txn, 501)
        return []

    def _on_invite(
        self, request: Request, txn: InviteServerTransaction, source: Address, transport: Transport
    ) -> list[Event]:
        accept = request.headers.get_all("Accept")
        if accept and not any(
            a.split(";")[0].strip().lower() in (bodies.SDP_TYPE, "application/*", "*/*")
            for a in accept
        ):
            self._reply(txn, 406, extra=[("Accept", bodies.SDP_TYPE)])
            return []
        if not bodies.acceptable_body(request):
            self._reply(txn, 415, extra=[("Accept", bodies.SDP_TYPE)])
            return []
        offer: SessionDescription | None = None
        media: NegotiatedAudio | None = None
        policy = self._call_policy(source, transport)
        raw = bodies.find_sdp(request)
        if raw is not None:
            try:
                offer = SessionDescription.parse(raw)
                # Negotiated once, here: a 488 needs no call, and the dialog keeps it. The
                # SRTP key is a placeholder until the application answers with its own.
                _, media = answer_offer(offer, policy, "0.0.0.0", 9, session_id="0",
                                        srtp_key=_PLACEHOLDER_KEY)  # fmt: skip
            except SdpError as exc:
                self._reply(txn, exc.status, to_tag=self._new_id(), extra=self._warning(exc))
                return []
        txn.send_response(self._response(request, 100))
        dialog = Dialog.from_invite(request, self._new_id(), source, transport)
        dialog.offer, dialog.media, dialog.policy = offer, media, policy
        dialog.invite_keys[request.cseq.number] = txn.key
        self._calls[dialog.handle] = dialog
        self._txn_call[id(txn)] = dialog.handle
        return [IncomingCall(dialog.handle, request, offer, source, transport, policy)]

    def _call_policy(self, source: Address, transport: Transport) -> AudioPolicy:
        """The audio policy of a call from ``source`` over ``transport``: SRTP only over
        TLS, where SDES keys are not in clear text (RFC 4568 §8.3), and then required from
        a secure source."""
        if transport is not Transport.TLS:
            mode: SrtpMode = "never"
        elif self._secure_source is not None and self._secure_source(source[0]):
            mode = "require"
        else:
            mode = "allow"
        base = self.config.audio
        return base if base.srtp == mode else replace(base, srtp=mode)

    def _warning(self, exc: SdpError) -> list[tuple[str, str]]:
        """The Warning header field for a refused offer (RFC 3261 §20.43), if it has one."""
        if not isinstance(exc, NoCommonCodec) or exc.warning is None:
            return []
        code, text = exc.warning
        return [("Warning", f'{code} {self.config.local_host} "{text}"')]

    def _on_cancel(self, request: Request, txn: ServerTransaction) -> list[Event]:
        invite_key = (*server_transaction_key(request)[:-1], "INVITE")
        invite_txn = self._server.get(invite_key)
        if not isinstance(invite_txn, InviteServerTransaction):
            self._reply(txn, 481)
            return []
        self._reply(txn, 200)
        handle = self._txn_call.get(id(invite_txn))
        dialog = self._calls.get(handle) if handle is not None else None
        if dialog is None or not dialog.advance(CallInput.CANCEL):
            return []  # already answered: the CANCEL has no effect (RFC 3261 §9.2)
        invite_txn.send_response(self._response(dialog.invite, 487, dialog))
        self._end(dialog)
        return [CallCancelled(dialog.handle)]

    def _on_ack(self, request: Request, key: tuple[str, ...]) -> list[Event]:
        txn = self._server.get((*key[:-1], "INVITE"))
        if isinstance(txn, InviteServerTransaction) and txn.state in (
            State.COMPLETED,
            State.CONFIRMED,
        ):
            txn.receive_ack()  # ACK for a non-2xx: same branch (RFC 3261 §17.2.1)
            return []
        dialog = self._calls.get(_dialog_key(request))
        if dialog is None:
            self.stats.stray += 1
            return []
        invite = self._server.get(dialog.invite_keys.pop(request.cseq.number, ("",)))
        if isinstance(invite, InviteServerTransaction):
            invite.receive_ack()
        state = dialog.state
        if not dialog.advance(CallInput.ACK) or state not in (
            CallState.ANSWERED,
            CallState.HANGUP_PENDING,
        ):
            return []
        answer: SessionDescription | None = None
        raw = bodies.find_sdp(request)
        if raw is not None and dialog.offer is None:
            try:
                answer = SessionDescription.parse(raw)
            except SdpError:
                logger.debug("unparsable SDP in ACK from %s", dialog.source[0])
        events: list[Event] = [AckReceived(dialog.handle, answer)]
        if dialog.state is CallState.TERMINATING:
            self._send_bye(dialog)
        elif dialog.offer is None:  # our 200 made the offer: the ACK must answer it
            events.append(self._take_answer(dialog, raw, answer))
        return events

    def _take_answer(
        self, dialog: Dialog, raw: bytes | None, answer: SessionDescription | None
    ) -> MediaAnswered | MediaAnswerFailed:
        """The ACK's answer to the offer in our 200 (RFC 3264 §5, RFC 3261 §13.2.1)."""
        if raw is None:
            reason = "no SDP answer in the ACK"
        elif answer is None:
            reason = "unparsable SDP answer"
        else:
            try:
                return MediaAnswered(dialog.handle, dialog.take_answer(answer, dialog.policy))
            except SdpError as exc:
                reason = str(exc)
        logger.info("ACK from %s: %s", dialog.source[0], reason)
        return MediaAnswerFailed(dialog.handle, reason)

    def _in_dialog(self, request: Request, txn: ServerTransaction) -> list[Event]:
        dialog = self._calls.get(_dialog_key(request))
        if dialog is None:
            self._reply(txn, 481)
            return []
        cseq = request.cseq.number
        if cseq < dialog.remote_cseq:
            self._reply(txn, 500, extra=[("Retry-After", "1")])
            return []
        dialog.remote_cseq = cseq
        method = request.method
        if method == "BYE":
            return self._on_bye(dialog, txn)
        if method == "INFO":
            return self._on_info(dialog, request, txn)
        if method == "INVITE":
            assert isinstance(txn, InviteServerTransaction)
            return self._on_reinvite(dialog, request, txn)
        if method == "NOTIFY":
            return self._on_notify(dialog, request, txn)
        self._reply(txn, 405 if method in KNOWN_METHODS else 501)
        return []

    def _on_notify(self, dialog: Dialog, request: Request, txn: ServerTransaction) -> list[Event]:
        """The transferee reports on our REFER with message/sipfrag (RFC 3515 §2.4.5)."""
        event = (request.headers.get("Event") or "").strip()
        if event.split(";", 1)[0].strip().lower() != "refer":
            self._reply(txn, 489)  # Bad Event: the only subscription we make is refer
            return []
        if dialog.handle not in self._transfers:
            self._reply(txn, 481)  # no REFER of ours is waiting for news
            return []
        status = bodies.parse_sipfrag_status(request.body) if request.body else None
        if request.body and status is None:
            self._reply(txn, 400, reason="Bad Sipfrag Body")
            return []
        self._reply(txn, 200)
        state = (request.headers.get("Subscription-State") or "").strip().lower()
        terminated = state.startswith("terminated")
        done = (status is not None and status >= 200) or terminated
        reported = self._transfers[dialog.handle]
        if terminated:
            del self._transfers[dialog.handle]
        elif done:
            self._transfers[dialog.handle] = True  # further NOTIFYs are still answered
        if reported or (status is None and not done):
            return []  # news already given, or a NOTIFY without any
        return [TransferProgress(dialog.handle, status, done)]

    def _on_bye(self, dialog: Dialog, txn: ServerTransaction) -> list[Event]:
        if not dialog.advance(CallInput.REMOTE_BYE):
            self._reply(txn, 481)
            return []
        self._reply(txn, 200)
        invite = self._server.get(server_transaction_key(dialog.invite))
        if isinstance(invite, InviteServerTransaction) and invite.state is State.ACCEPTED:
            invite.receive_ack()  # a BYE implies the 200 arrived: stop retransmitting it
        return self._end(dialog, EndReason.REMOTE_BYE)

    def _on_info(self, dialog: Dialog, request: Request, txn: ServerTransaction) -> list[Event]:
        if not request.body:
            self._reply(txn, 200)  # an empty INFO is a keep-alive
            return []
        if request.content_type not in (bodies.DTMF_RELAY_TYPE, bodies.DTMF_TYPE):
            self._reply(txn, 415, extra=[("Accept", bodies.DTMF_RELAY_TYPE)])
            return []
        try:
            digit = bodies.parse_dtmf_info(request.content_type, request.body)
        except ValueError:
            self._reply(txn, 400, reason="Bad DTMF Body")
            return []
        self._reply(txn, 200)
        if not dialog.advance(CallInput.INFO):
            return []
        return [Dtmf(dialog.handle, digit.digit, digit.duration_ms)]

    def _on_reinvite(
        self, dialog: Dialog, request: Request, txn: InviteServerTransaction
    ) -> list[Event]:
        if not dialog.allows(CallInput.REINVITE) or dialog.local_sdp is None:
            self._reply(txn, 491)
            return []
        if not bodies.acceptable_body(request):
            self._reply(txn, 415, extra=[("Accept", bodies.SDP_TYPE)])
            return []
        raw = bodies.find_sdp(request)
        events: list[Event] = []
        if raw is not None:
            try:
                events = list(dialog.renegotiate(SessionDescription.parse(raw), dialog.policy))
            except SdpError as exc:
                self._reply(txn, exc.status, extra=self._warning(exc))
                return []
        local = dialog.local_sdp
        dialog.advance(CallInput.REINVITE)
        txn.send_response(
            self._response(request, 200, dialog, body=local.serialize(), dialog_2xx=True)
        )
        dialog.invite_keys[request.cseq.number] = txn.key
        self._txn_call[id(txn)] = dialog.handle
        return events

    # --- responses and timers to our own requests -------------------------------------

    def _on_response(self, response: Response) -> list[Event]:
        key = (response.branch or "", response.cseq.method)
        txn = self._client.get(key)
        if txn is None:
            self.stats.stray += 1
            return []
        events: list[Event] = []
        for notice in txn.receive_response(response):
            if notice.kind is NoticeKind.RESPONSE and response.status >= 200:
                if txn.request.method == "REFER":
                    events += self._refer_answered(txn, response.status)
                else:
                    events += self._bye_done(txn, EndReason.LOCAL_BYE, response.status)
        self._forget(txn)
        return events

    def _refer_answered(self, txn: Transaction, status: int | None) -> list[Event]:
        handle = self._txn_call.get(id(txn))
        if handle is None or self._transfers.get(handle) is not False:
            return []
        accepted = status is not None and 200 <= status < 300
        if not accepted:
            del self._transfers[handle]
        return [TransferProgress(handle, status, done=not accepted)]

    def _on_timeout(self, txn: Transaction) -> list[Event]:
        handle = self._txn_call.get(id(txn))
        dialog = self._calls.get(handle) if handle is not None else None
        if isinstance(txn, NonInviteClientTransaction):
            if txn.request.method == "REFER":
                return self._refer_answered(txn, None)
            return self._bye_done(txn, EndReason.LOCAL_BYE_TIMEOUT, None)
        if dialog is None or not dialog.advance(CallInput.ACK_TIMEOUT):
            return []
        logger.info("no ACK for 200 from %s: sending BYE", dialog.source[0])
        self._send_bye(dialog)
        dialog.end_reported = True
        return [CallEnded(dialog.handle, EndReason.ACK_TIMEOUT)]

    def _bye_done(self, txn: Transaction, reason: EndReason, status: int | None) -> list[Event]:
        handle = self._txn_call.get(id(txn))
        dialog = self._calls.get(handle) if handle is not None else None
        if dialog is None or not dialog.advance(CallInput.BYE_DONE):
            return []
        return self._end(dialog, reason, status)

    def _send_bye(self, dialog: Dialog) -> None:
        self._start_client(dialog, dialog.build_request("BYE", self._via(dialog)))

    def _via(self, dialog: Dialog) -> Via:
        return Via(dialog.transport.value, self.config.local_host,
                   self.config.port_for(dialog.transport),
                   {"branch": MAGIC_COOKIE + self._new_id(), "rport": None})  # fmt: skip

    def _start_client(self, dialog: Dialog, request: Request) -> None:
        """Send an in-dialog request of ours in its own client transaction: over the
        dialog's transport, or over TCP when it is too large for UDP (RFC 3261 §18.1.1)."""
        if self.config.server_name:
            request.headers.add("User-Agent", self.config.server_name)
        transport = dialog.transport
        if transport is Transport.UDP and len(request.serialize()) > self.config.udp_request_limit:
            transport = Transport.TCP
            request.headers.set("Via", str(replace(request.top_via, transport=transport.value)))
        txn = NonInviteClientTransaction(
            self._queue, self.config.timers, request, dialog.next_hop(), transport
        )
        txn.moved_to_tcp = transport is not dialog.transport
        self._client[txn.key] = txn
        self._txn_call[id(txn)] = dialog.handle
        txn.start()

    def _retry_over_udp(self, txn: NonInviteClientTransaction) -> None:
        """Send a request again over UDP, same branch, in a fresh UDP transaction."""
        handle = self._txn_call.pop(id(txn), None)
        txn.transport_error()  # its notice is not for the user: the request goes on
        request = txn.request
        request.headers.set("Via", str(replace(request.top_via, transport=Transport.UDP.value)))
        retry = NonInviteClientTransaction(
            self._queue, self.config.timers, request, txn.dest, Transport.UDP
        )
        self._client[retry.key] = retry
        if handle is not None:
            self._txn_call[id(retry)] = handle
        retry.start()

    # --- helpers ----------------------------------------------------------------------

    def _live(self, call: CallHandle, event: CallInput) -> Dialog | None:
        dialog = self._calls.get(call)
        if dialog is None:
            return None
        if not dialog.allows(event):
            raise LocalProtocolError(f"cannot {event.value} a call in state {dialog.state.value}")
        return dialog

    def _invite_txn(self, dialog: Dialog) -> InviteServerTransaction:
        txn = self._server.get(server_transaction_key(dialog.invite))
        if not isinstance(txn, InviteServerTransaction):
            raise LocalProtocolError("the INVITE transaction is gone")
        return txn

    def _end(
        self, dialog: Dialog, reason: EndReason | None = None, status: int | None = None
    ) -> list[Event]:
        self._calls.pop(dialog.handle, None)
        self._transfers.pop(dialog.handle, None)
        if reason is None or dialog.end_reported:
            return []
        dialog.end_reported = True
        return [CallEnded(dialog.handle, reason, status)]

    def _forget(self, txn: Transaction) -> None:
        if not txn.terminated:
            return
        self._txn_call.pop(id(txn), None)
        if isinstance(txn, NonInviteClientTransaction):
            self._client.pop(txn.key, None)
        elif self._server.get(txn.key) is txn:
            del self._server[txn.key]

    def _response(
        self,
        request: Request,
        status: int,
        dialog: Dialog | None = None,
        *,
        reason: str | None = None,
        body: bytes = b"",
        extra: Sequence[tuple[str, str]] = (),
        dialog_2xx: bool = False,
        to_tag: str | None = None,
    ) -> Response:
        headers = list(extra)
        if dialog_2xx:
            headers += [("Record-Route", rr) for rr in request.headers.fields("Record-Route")]
            headers.append(("Contact", self._contact(dialog)))
        if status in (405, 501) or dialog_2xx or (request.method == "OPTIONS" and status == 200):
            headers.append(("Allow", ALLOW))
        if self.config.server_name:
            headers.append(("Server", self.config.server_name))
        tag = dialog.handle.local_tag if dialog is not None else to_tag
        return build_response(
            request, status, reason, to_tag=tag, extra_headers=headers, body=body,
            content_type=bodies.SDP_TYPE if body else None,
        )  # fmt: skip

    def _reply(
        self,
        txn: ServerTransaction,
        status: int,
        *,
        reason: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
        to_tag: str | None = None,
    ) -> None:
        request = txn.request
        if to_tag is None and request.to_tag is None and status > 100:
            to_tag = self._new_id()
        txn.send_response(self._response(request, status, reason=reason, extra=extra,
                                         to_tag=to_tag))  # fmt: skip

    def _contact(self, dialog: Dialog | None) -> str:
        config = self.config
        transport = dialog.transport if dialog is not None else Transport.UDP
        uri = f"sip:{config.contact_user}@{config.local_host}:{config.port_for(transport)}"
        if transport is not Transport.UDP:
            # transport=tls rather than a sips: URI (RFC 5630 §3.2 deprecates the former,
            # but PBXs and trunks use it, and sips: would promise TLS on every hop).
            uri += f";transport={transport.value.lower()}"
        return f"<{uri}>"

    def _refuse(self, exc: SipMessageError, source: Address, transport: Transport) -> None:
        """Answer a malformed request if it can be addressed, else count and drop it."""
        headers = exc.headers
        cseq = (headers.get("CSeq") or "").split() if headers is not None else []
        addressable = (
            exc.is_request
            and headers is not None
            and headers.get_all("Via")
            and not (len(cseq) == 2 and cseq[1] == "ACK")
        )
        logger.debug(
            "refused message from %s: %s %s", source[0], exc.status, mask_digits(exc.reason)
        )
        if not addressable or headers is None:
            self.stats.malformed_dropped += 1
            return
        self.stats.malformed_answered += 1
        request = Request("UNPARSED", "sip:invalid", headers)
        tag = None if (headers.get("To") or "").find("tag=") >= 0 else self._new_id()
        response = self._response(request, exc.status, reason=exc.reason, to_tag=tag)
        try:
            dest, fallback = response_route(request.top_via, source, transport)
        except ValueError:  # an unreadable Via: the packet's source is all there is
            dest, fallback = source, None
        self._queue.transmit(response.serialize(), dest, transport, fallback)


def response_route(
    via: Via, source: Address, transport: Transport
) -> tuple[Address, Address | None]:
    """Where the responses to a request go: ``(dest, fallback)`` (RFC 3261 §18.2.2, RFC 3581).

    The host is always the packet's source address: the ``received`` of the stamped Via (a
    ``received`` or ``rport`` value written by the client itself is never followed, so a
    forged Via cannot aim our responses at a third party). Over UDP the port is the source
    port if the client asked for ``rport``, else the Via's sent-by port (default 5060). Over
    TCP the responses go on the connection the request came on, keyed by ``source``; if it
    has closed, to the sent-by port, never to ``source``'s ephemeral port.
    """
    port = via.port or 5060
    if transport.reliable:
        return source, (source[0], port)
    if "rport" in via.params:
        port = source[1]
    return (source[0], port), None


def _stamp_via(request: Request, source: Address) -> None:
    """:func:`stamp_received`, and RFC 3581 §4: with ``rport``, ``received`` is added even
    when the sent-by host already names the source address."""
    stamp_received(request, source)
    via = request.top_via
    if "rport" not in via.params or "received" in via.params:
        return
    via.params["received"] = source[0]
    rebuilt = ", ".join([str(via), *list(grammar.split_list(request.headers.fields("Via")[0]))[1:]])
    headers = Headers()
    replaced = False
    for name, value in request.headers:
        headers.add(name, rebuilt if name == "Via" and not replaced else value)
        replaced = replaced or name == "Via"
    request.headers = headers


def _sdp_bytes(sdp: SessionDescription | bytes | None) -> bytes:
    if sdp is None:
        return b""
    return sdp if isinstance(sdp, bytes) else sdp.serialize()


def _dialog_key(request: Request) -> CallHandle:
    return CallHandle(request.call_id, request.to_tag or "", request.from_tag or "")
