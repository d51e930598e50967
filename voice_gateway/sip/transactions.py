"""SIP transactions (RFC 3261 §17, RFC 6026) as state-machine tables, without I/O.

How it works: each transaction kind has a table ``(state, input) -> (next state,
effects)``. Inputs are received messages, responses the TU sends, and timers firing;
effects are sends, timer starts/stops and notices to the transaction user (the UAS core).
A received input with no entry is absorbed (a stray retransmission); a local input with no
entry is a :class:`LocalProtocolError`; a timer with no entry is stale and ignored.

Timers never run here: :class:`ActionQueue` turns a start into a :class:`TimerRequest`
with a fresh key, a stop into a :class:`TimerCancel`, and the driver calls back
``UserAgentServer.handle_timer(key)``, which routes to :meth:`Transaction.on_timer`.

One deliberate deviation: the 2xx to an INVITE is retransmitted by the INVITE server
transaction itself in its ``ACCEPTED`` state (Timer G doubling to T2, given up at Timer H),
which RFC 3261 §13.3.1.4 assigns to the UAS core. Keeping it here puts every
retransmission rule in one table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from voice_gateway.sip.errors import LocalProtocolError
from voice_gateway.sip.events import Action, Address, TimerCancel, TimerRequest, Transmit, Transport
from voice_gateway.sip.headers import Headers
from voice_gateway.sip.message import Request, Response

MAGIC_COOKIE = "z9hG4bK"


def server_transaction_key(request: Request) -> tuple[str, ...]:
    """RFC 3261 §17.2.3 matching key; an ACK is keyed as the INVITE it acknowledges.

    Branches without the magic cookie come from RFC 2543 peers (RFC 4475 §3.4.1 inv2543):
    they are matched on Call-ID, From tag, CSeq number and the whole top Via instead.
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return (branch, via.sent_by, method)
    return (request.call_id, request.from_tag or "", str(request.cseq.number), str(via), method)


@dataclass(frozen=True)
class TimerConfig:
    """RFC 3261 timer base values in seconds."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0  # RFC 3261 §17.1.1.2: at least 32 s over UDP

    @classmethod
    def from_ms(cls, t1_ms: float, t2_ms: float, t4_ms: float) -> TimerConfig:
        """Build from the millisecond values of ``SipSettings``."""
        return cls(t1_ms / 1000, t2_ms / 1000, t4_ms / 1000)


class State(enum.Enum):
    """Transaction states (union of the client and server machines)."""

    INITIAL = "initial"
    CALLING = "calling"  # INVITE client: sent, nothing heard yet
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"  # 2xx sent, retransmitting until the ACK (RFC 6026)
    LINGERING = "lingering"  # 2xx acknowledged or given up; absorbing until Timer L
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Input(enum.Enum):
    """What can happen to a transaction."""

    SEND_REQUEST = "send-request"
    REQUEST = "request"  # a retransmission of the request that created it
    ACK = "ack"
    SEND_1XX = "send-1xx"
    SEND_2XX = "send-2xx"
    SEND_FINAL = "send-3xx-6xx"
    RECV_1XX = "recv-1xx"
    RECV_2XX = "recv-2xx"  # INVITE client only; a non-INVITE client counts it as final
    RECV_FINAL = "recv-final"
    TIMER_A = "A"
    TIMER_B = "B"
    TIMER_D = "D"
    TIMER_E = "E"
    TIMER_F = "F"
    TIMER_G = "G"
    TIMER_H = "H"
    TIMER_I = "I"
    TIMER_J = "J"
    TIMER_K = "K"
    TIMER_L = "L"
    TIMER_M = "M"
    TRANSPORT_ERROR = "transport-error"  # the driver could not send (RFC 3261 §17.1.4)


class Effect(enum.Enum):
    """What a transition does."""

    SEND = "send"  # transmit the message given with the input and keep it as the last one
    RESEND = "resend"  # transmit the last message again
    ARM_E = "arm-E"  # T1, unreliable transports only
    BACKOFF_E = "backoff-E"  # min(2·E, T2)
    ARM_E_T2 = "arm-E-T2"  # T2 (client in Proceeding)
    ARM_F = "arm-F"  # 64·T1
    ARM_G = "arm-G"  # T1, unreliable transports only (non-2xx)
    ARM_G_2XX = "arm-G-2xx"  # T1 on every transport (2xx, RFC 3261 §13.3.1.4)
    BACKOFF_G = "backoff-G"  # min(2·G, T2)
    ARM_H = "arm-H"  # 64·T1
    ARM_I = "arm-I"  # T4, 0 on reliable transports
    ARM_J = "arm-J"  # 64·T1, 0 on reliable transports
    ARM_K = "arm-K"  # T4, 0 on reliable transports
    ARM_L = "arm-L"  # 64·T1
    ARM_A = "arm-A"  # T1, unreliable transports only
    BACKOFF_A = "backoff-A"  # 2·A, no T2 cap (RFC 3261 §17.1.1.2)
    ARM_B = "arm-B"  # 64·T1
    ARM_D = "arm-D"  # timer_d (32 s), 0 on reliable transports
    ARM_M = "arm-M"  # 64·T1 (RFC 6026 §7.2)
    SEND_ACK = "send-ack"  # the ACK for a non-2xx final (same branch), kept for repeats
    STOP_A = "stop-A"
    STOP_B = "stop-B"
    STOP_E = "stop-E"
    STOP_F = "stop-F"
    STOP_G = "stop-G"
    STOP_H = "stop-H"
    NOTIFY_RESPONSE = "notify-response"
    NOTIFY_ACK = "notify-ack"
    NOTIFY_TIMEOUT = "notify-timeout"
    NOTIFY_TRANSPORT_ERROR = "notify-transport-error"


S, In, E = State, Input, Effect
Table = Mapping[tuple[State, Input], tuple[State, tuple[Effect, ...]]]

# RFC 3261 §17.2.1 (figure 7) with RFC 6026's Accepted state.
INVITE_SERVER: Table = {
    (S.PROCEEDING, In.REQUEST): (S.PROCEEDING, (E.RESEND,)),
    (S.PROCEEDING, In.SEND_1XX): (S.PROCEEDING, (E.SEND,)),
    (S.PROCEEDING, In.SEND_2XX): (S.ACCEPTED, (E.SEND, E.ARM_G_2XX, E.ARM_H)),
    (S.PROCEEDING, In.SEND_FINAL): (S.COMPLETED, (E.SEND, E.ARM_G, E.ARM_H)),
    (S.ACCEPTED, In.REQUEST): (S.ACCEPTED, (E.RESEND,)),
    (S.ACCEPTED, In.TIMER_G): (S.ACCEPTED, (E.RESEND, E.BACKOFF_G)),
    (S.ACCEPTED, In.ACK): (S.LINGERING, (E.STOP_G, E.STOP_H, E.ARM_L, E.NOTIFY_ACK)),
    (S.ACCEPTED, In.TIMER_H): (S.LINGERING, (E.STOP_G, E.ARM_L, E.NOTIFY_TIMEOUT)),
    (S.LINGERING, In.REQUEST): (S.LINGERING, ()),
    (S.LINGERING, In.ACK): (S.LINGERING, ()),
    (S.LINGERING, In.TIMER_L): (S.TERMINATED, ()),
    (S.COMPLETED, In.REQUEST): (S.COMPLETED, (E.RESEND,)),
    (S.COMPLETED, In.TIMER_G): (S.COMPLETED, (E.RESEND, E.BACKOFF_G)),
    (S.COMPLETED, In.ACK): (S.CONFIRMED, (E.STOP_G, E.STOP_H, E.ARM_I)),
    (S.COMPLETED, In.TIMER_H): (S.TERMINATED, (E.NOTIFY_TIMEOUT,)),
    (S.CONFIRMED, In.REQUEST): (S.CONFIRMED, ()),
    (S.CONFIRMED, In.ACK): (S.CONFIRMED, ()),
    (S.CONFIRMED, In.TIMER_I): (S.TERMINATED, ()),
}

# RFC 3261 §17.2.2 (figure 8).
NON_INVITE_SERVER: Table = {
    (S.TRYING, In.REQUEST): (S.TRYING, ()),
    (S.TRYING, In.SEND_1XX): (S.PROCEEDING, (E.SEND,)),
    (S.TRYING, In.SEND_2XX): (S.COMPLETED, (E.SEND, E.ARM_J)),
    (S.TRYING, In.SEND_FINAL): (S.COMPLETED, (E.SEND, E.ARM_J)),
    (S.PROCEEDING, In.REQUEST): (S.PROCEEDING, (E.RESEND,)),
    (S.PROCEEDING, In.SEND_1XX): (S.PROCEEDING, (E.SEND,)),
    (S.PROCEEDING, In.SEND_2XX): (S.COMPLETED, (E.SEND, E.ARM_J)),
    (S.PROCEEDING, In.SEND_FINAL): (S.COMPLETED, (E.SEND, E.ARM_J)),
    (S.COMPLETED, In.REQUEST): (S.COMPLETED, (E.RESEND,)),
    (S.COMPLETED, In.TIMER_J): (S.TERMINATED, ()),
}

# RFC 3261 §17.1.2 (figure 6).
_CLIENT_FINAL = (E.STOP_E, E.STOP_F, E.ARM_K, E.NOTIFY_RESPONSE)
NON_INVITE_CLIENT: Table = {
    (S.INITIAL, In.SEND_REQUEST): (S.TRYING, (E.SEND, E.ARM_E, E.ARM_F)),
    (S.TRYING, In.TIMER_E): (S.TRYING, (E.RESEND, E.BACKOFF_E)),
    (S.TRYING, In.TIMER_F): (S.TERMINATED, (E.STOP_E, E.NOTIFY_TIMEOUT)),
    (S.TRYING, In.RECV_1XX): (S.PROCEEDING, (E.NOTIFY_RESPONSE,)),
    (S.TRYING, In.RECV_FINAL): (S.COMPLETED, _CLIENT_FINAL),
    (S.PROCEEDING, In.TIMER_E): (S.PROCEEDING, (E.RESEND, E.ARM_E_T2)),
    (S.PROCEEDING, In.TIMER_F): (S.TERMINATED, (E.STOP_E, E.NOTIFY_TIMEOUT)),
    (S.PROCEEDING, In.RECV_1XX): (S.PROCEEDING, (E.NOTIFY_RESPONSE,)),
    (S.PROCEEDING, In.RECV_FINAL): (S.COMPLETED, _CLIENT_FINAL),
    (S.COMPLETED, In.RECV_1XX): (S.COMPLETED, ()),
    (S.COMPLETED, In.RECV_FINAL): (S.COMPLETED, ()),
    (S.COMPLETED, In.TIMER_K): (S.TERMINATED, ()),
    # RFC 3261 §17.1.4: a transport failure ends the transaction and is reported
    (S.TRYING, In.TRANSPORT_ERROR): (S.TERMINATED, (E.STOP_E, E.STOP_F,
                                                    E.NOTIFY_TRANSPORT_ERROR)),
    (S.PROCEEDING, In.TRANSPORT_ERROR): (S.TERMINATED, (E.STOP_E, E.STOP_F,
                                                        E.NOTIFY_TRANSPORT_ERROR)),
}

# RFC 3261 §17.1.1 (figure 5) with RFC 6026's Accepted state: a 2xx (and each of its
# retransmissions, which may come from other forks) goes to the TU, which sends the ACK.
_INVITE_FINAL = (E.STOP_A, E.STOP_B, E.SEND_ACK, E.ARM_D, E.NOTIFY_RESPONSE)
_INVITE_2XX = (E.STOP_A, E.STOP_B, E.ARM_M, E.NOTIFY_RESPONSE)
INVITE_CLIENT: Table = {
    (S.INITIAL, In.SEND_REQUEST): (S.CALLING, (E.SEND, E.ARM_A, E.ARM_B)),
    (S.CALLING, In.TIMER_A): (S.CALLING, (E.RESEND, E.BACKOFF_A)),
    (S.CALLING, In.TIMER_B): (S.TERMINATED, (E.STOP_A, E.NOTIFY_TIMEOUT)),
    (S.CALLING, In.RECV_1XX): (S.PROCEEDING, (E.STOP_A, E.STOP_B, E.NOTIFY_RESPONSE)),
    (S.CALLING, In.RECV_2XX): (S.ACCEPTED, _INVITE_2XX),
    (S.CALLING, In.RECV_FINAL): (S.COMPLETED, _INVITE_FINAL),
    (S.PROCEEDING, In.RECV_1XX): (S.PROCEEDING, (E.NOTIFY_RESPONSE,)),
    (S.PROCEEDING, In.RECV_2XX): (S.ACCEPTED, _INVITE_2XX),
    (S.PROCEEDING, In.RECV_FINAL): (S.COMPLETED, _INVITE_FINAL),
    (S.ACCEPTED, In.RECV_1XX): (S.ACCEPTED, ()),
    (S.ACCEPTED, In.RECV_2XX): (S.ACCEPTED, (E.NOTIFY_RESPONSE,)),
    (S.ACCEPTED, In.RECV_FINAL): (S.ACCEPTED, ()),
    (S.ACCEPTED, In.TIMER_M): (S.TERMINATED, ()),
    (S.COMPLETED, In.RECV_1XX): (S.COMPLETED, ()),
    (S.COMPLETED, In.RECV_2XX): (S.COMPLETED, ()),
    (S.COMPLETED, In.RECV_FINAL): (S.COMPLETED, (E.SEND_ACK,)),
    (S.COMPLETED, In.TIMER_D): (S.TERMINATED, ()),
}

_LOCAL_INPUTS = frozenset({In.SEND_REQUEST, In.SEND_1XX, In.SEND_2XX, In.SEND_FINAL})


class NoticeKind(enum.Enum):
    """What a transaction tells its user."""

    RESPONSE = "response"
    ACK = "ack"
    TIMEOUT = "timeout"
    TRANSPORT_ERROR = "transport-error"


@dataclass(frozen=True)
class Notice:
    """A notice from a transaction to the UAS core."""

    kind: NoticeKind
    transaction: Transaction
    response: Response | None = None


@dataclass(frozen=True)
class Reply(Transmit):
    """A response over a stream transport (RFC 3261 §18.2.2): written on the connection
    from ``dest`` while it is open; once it is gone, sent on a connection to ``fallback``
    (the top Via's address), never to ``dest``, whose port was the client's ephemeral one."""

    fallback: Address | None = None


class ActionQueue:
    """Collects actions for the I/O driver and maps timer keys back to transactions."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._timers: dict[int, tuple[Transaction, str]] = {}
        self._next_key = 1

    def transmit(
        self, data: bytes, dest: Address, transport: Transport, fallback: Address | None = None
    ) -> None:
        """Queue bytes to send (a :class:`Reply` when there is a ``fallback``)."""
        if fallback is None:
            self._actions.append(Transmit(data, dest, transport))
        else:
            self._actions.append(Reply(data, dest, transport, fallback))

    def start_timer(self, owner: Transaction, name: str, delay: float) -> int:
        """Queue a timer start; return its key."""
        key = self._next_key
        self._next_key += 1
        self._timers[key] = (owner, name)
        self._actions.append(TimerRequest(name, delay, key))
        return key

    def cancel_timer(self, key: int) -> None:
        """Queue a timer cancel (unknown keys are ignored)."""
        if self._timers.pop(key, None) is not None:
            self._actions.append(TimerCancel(key))

    def pop_timer(self, key: int) -> tuple[Transaction, str] | None:
        """The transaction and timer name for a fired key (``None`` if stale)."""
        return self._timers.pop(key, None)

    def drain(self) -> list[Action]:
        """Return and forget the queued actions."""
        actions, self._actions = self._actions, []
        return actions

    @property
    def pending_timers(self) -> int:
        """Timers started and neither fired nor cancelled."""
        return len(self._timers)


class Transaction:
    """Common interpreter of the tables."""

    table: ClassVar[Table]
    initial: ClassVar[State]

    def __init__(
        self,
        queue: ActionQueue,
        timers: TimerConfig,
        key: tuple[str, ...],
        dest: Address,
        transport: Transport,
    ) -> None:
        self.queue = queue
        self.timers = timers
        self.key = key
        self.dest = dest
        self.fallback: Address | None = None  # see Reply
        self.transport = transport
        self.state = self.initial
        self.last_message: bytes | None = None
        self._running: dict[str, int] = {}
        self._interval: dict[str, float] = {}

    @property
    def terminated(self) -> bool:
        """True once the transaction can be forgotten."""
        return self.state is State.TERMINATED

    def on_timer(self, name: str) -> list[Notice]:
        """A timer this transaction started has fired."""
        self._running.pop(name, None)
        return self._step(Input(name)) or []

    def _step(
        self, event: Input, data: bytes | None = None, response: Response | None = None
    ) -> list[Notice] | None:
        entry = self.table.get((self.state, event))
        if entry is None:
            if event in _LOCAL_INPUTS:
                raise LocalProtocolError(f"cannot {event.value} in state {self.state.value}")
            return None
        self.state, effects = entry
        notices: list[Notice] = []
        for effect in effects:
            self._apply(effect, data, response, notices)
        if self.state is State.TERMINATED:
            for key in self._running.values():
                self.queue.cancel_timer(key)
            self._running.clear()
        return notices

    def _apply(
        self, effect: Effect, data: bytes | None, response: Response | None, out: list[Notice]
    ) -> None:
        t1, t2, t4 = self.timers.t1, self.timers.t2, self.timers.t4
        reliable = self.transport.reliable
        if effect is E.SEND:
            assert data is not None
            self.last_message = data
            self.queue.transmit(data, self.dest, self.transport, self.fallback)
        elif effect is E.RESEND:
            if self.last_message is not None:
                self.queue.transmit(self.last_message, self.dest, self.transport, self.fallback)
        elif effect in (E.ARM_E, E.ARM_G, E.ARM_A):
            if not reliable:
                self._arm(effect.value[-1], t1)
        elif effect is E.BACKOFF_A:
            self._arm("A", 2 * self._interval.get("A", t1))
        elif effect in (E.ARM_B, E.ARM_M):
            self._arm(effect.value[-1], 64 * t1)
        elif effect is E.ARM_D:
            self._arm("D", 0.0 if reliable else self.timers.timer_d)
        elif effect is E.SEND_ACK:
            self._send_ack(response)
        elif effect is E.ARM_G_2XX:
            self._arm("G", t1)
        elif effect in (E.BACKOFF_E, E.BACKOFF_G):
            name = effect.value[-1]
            self._arm(name, min(2 * self._interval.get(name, t1), t2))
        elif effect is E.ARM_E_T2:
            self._arm("E", t2)
        elif effect in (E.ARM_F, E.ARM_H, E.ARM_L):
            self._arm(effect.value[-1], 64 * t1)
        elif effect is E.ARM_J:
            self._arm("J", 0.0 if reliable else 64 * t1)
        elif effect in (E.ARM_I, E.ARM_K):
            self._arm(effect.value[-1], 0.0 if reliable else t4)
        elif effect in (E.STOP_A, E.STOP_B, E.STOP_E, E.STOP_F, E.STOP_G, E.STOP_H):
            key = self._running.pop(effect.value[-1], None)
            if key is not None:
                self.queue.cancel_timer(key)
        elif effect is E.NOTIFY_RESPONSE:
            out.append(Notice(NoticeKind.RESPONSE, self, response))
        elif effect is E.NOTIFY_ACK:
            out.append(Notice(NoticeKind.ACK, self))
        elif effect is E.NOTIFY_TIMEOUT:
            out.append(Notice(NoticeKind.TIMEOUT, self))
        elif effect is E.NOTIFY_TRANSPORT_ERROR:
            out.append(Notice(NoticeKind.TRANSPORT_ERROR, self))

    def _send_ack(self, response: Response | None) -> None:
        """Only the INVITE client transaction has :data:`Effect.SEND_ACK` rows."""
        raise LocalProtocolError("no ACK to send from this transaction")

    def _arm(self, name: str, delay: float) -> None:
        old = self._running.pop(name, None)
        if old is not None:
            self.queue.cancel_timer(old)
        self._interval[name] = delay
        self._running[name] = self.queue.start_timer(self, name, delay)


class ServerTransaction(Transaction):
    """Shared by INVITE and non-INVITE server transactions."""

    def __init__(
        self,
        queue: ActionQueue,
        timers: TimerConfig,
        request: Request,
        key: tuple[str, ...],
        dest: Address,
        transport: Transport,
        fallback: Address | None = None,
    ) -> None:
        """``dest`` (and ``fallback``) as from :func:`voice_gateway.sip.uas.response_route`."""
        super().__init__(queue, timers, key, dest, transport)
        self.fallback = fallback
        self.request = request
        self.final_status: int | None = None

    def receive_request(self) -> None:
        """The request arrived again: answer with the stored response (or absorb)."""
        self._step(Input.REQUEST)

    def send_response(self, response: Response) -> None:
        """Send a response from the TU (raises :class:`LocalProtocolError` if too late)."""
        if response.status < 200:
            event = Input.SEND_1XX
        else:
            event = Input.SEND_2XX if response.status < 300 else Input.SEND_FINAL
            self.final_status = response.status
        self._step(event, response.serialize())

    @property
    def answered(self) -> bool:
        """A final response has been sent."""
        return self.final_status is not None


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 with RFC 6026; 100 Trying is the TU's first ``send_response``."""

    table = INVITE_SERVER
    initial = State.PROCEEDING

    def receive_ack(self) -> list[Notice]:
        """An ACK for our final response (matched by branch, or by dialog for a 2xx)."""
        return self._step(Input.ACK) or []


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.2."""

    table = NON_INVITE_SERVER
    initial = State.TRYING


class NonInviteClientTransaction(Transaction):
    """RFC 3261 §17.1.2: our BYE (and later REFER). Call :meth:`start` once."""

    table = NON_INVITE_CLIENT
    initial = State.INITIAL

    def __init__(
        self,
        queue: ActionQueue,
        timers: TimerConfig,
        request: Request,
        dest: Address,
        transport: Transport,
    ) -> None:
        key = (request.branch or "", request.cseq.method)
        super().__init__(queue, timers, key, dest, transport)
        self.request = request
        # sent over TCP only because it was too large for UDP (RFC 3261 §18.1.1)
        self.moved_to_tcp = False

    def start(self) -> None:
        """Send the request and arm Timers E and F."""
        self._step(Input.SEND_REQUEST, self.request.serialize())

    def transport_error(self) -> list[Notice]:
        """The driver could not send the request (RFC 3261 §17.1.4): terminated, and the
        user told. Nothing happens once a final response has come."""
        return self._step(Input.TRANSPORT_ERROR) or []

    def receive_response(self, response: Response) -> list[Notice]:
        """A response matched to this transaction."""
        event = Input.RECV_1XX if response.status < 200 else Input.RECV_FINAL
        return self._step(event, response=response) or []


class InviteClientTransaction(Transaction):
    """RFC 3261 §17.1.1 with RFC 6026: our INVITE. Call :meth:`start` once.

    A non-2xx final is acknowledged here, on the INVITE's branch (§17.1.1.3), and the ACK
    repeated for each retransmission of that final; a 2xx goes to the TU, which sends the
    ACK of the dialog (§13.2.2.4)."""

    table = INVITE_CLIENT
    initial = State.INITIAL

    def __init__(
        self,
        queue: ActionQueue,
        timers: TimerConfig,
        request: Request,
        dest: Address,
        transport: Transport,
    ) -> None:
        key = (request.branch or "", request.cseq.method)
        super().__init__(queue, timers, key, dest, transport)
        self.request = request
        self.ack: bytes | None = None

    def start(self) -> None:
        """Send the INVITE and arm Timers A and B."""
        self._step(Input.SEND_REQUEST, self.request.serialize())

    def receive_response(self, response: Response) -> list[Notice]:
        """A response matched to this transaction (by branch and CSeq method)."""
        if response.status < 200:
            event = Input.RECV_1XX
        else:
            event = Input.RECV_2XX if response.status < 300 else Input.RECV_FINAL
        return self._step(event, response=response) or []

    def _send_ack(self, response: Response | None) -> None:
        if self.ack is None:
            assert response is not None
            self.ack = build_non_2xx_ack(self.request, response).serialize()
        self.queue.transmit(self.ack, self.dest, self.transport)


def build_non_2xx_ack(invite: Request, response: Response) -> Request:
    """The ACK for a 3xx-6xx (RFC 3261 §17.1.1.3): the INVITE's Request-URI, top Via,
    Call-ID, From, CSeq number and Route set; To from the response (with its tag)."""
    headers = Headers()
    headers.add("Via", invite.headers.get_all("Via")[0])
    for route in invite.headers.fields("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or invite.headers.get("To") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq.number} ACK")
    return Request("ACK", invite.uri, headers)
