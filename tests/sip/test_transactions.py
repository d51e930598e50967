"""Transaction state machines (RFC 3261 §17) under a fake clock."""

from __future__ import annotations

import heapq

import pytest

from voice_gateway.sip.errors import LocalProtocolError
from voice_gateway.sip.events import TimerCancel, TimerRequest, Transmit, Transport
from voice_gateway.sip.message import Request, build_response, parse_message
from voice_gateway.sip.transactions import (
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    ActionQueue,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    NoticeKind,
    State,
    TimerConfig,
    Transaction,
)

from .support import SRC, invite, request

TIMERS = TimerConfig()


class Clock:
    """Runs the timers of an ActionQueue; records when each transmit happened."""

    def __init__(self, queue: ActionQueue) -> None:
        self.queue = queue
        self.now = 0.0
        self.sends: list[float] = []
        self.notices: list[NoticeKind] = []
        self._heap: list[tuple[float, int]] = []
        self._live: set[int] = set()

    def collect(self) -> None:
        for action in self.queue.drain():
            if isinstance(action, Transmit):
                self.sends.append(self.now)
            elif isinstance(action, TimerRequest):
                heapq.heappush(self._heap, (self.now + action.delay, action.key))
                self._live.add(action.key)
            elif isinstance(action, TimerCancel):
                self._live.discard(action.key)

    def run_until(self, end: float) -> None:
        self.collect()
        while self._heap and self._heap[0][0] <= end:
            when, key = heapq.heappop(self._heap)
            if key not in self._live:
                continue
            self._live.discard(key)
            self.now = when
            entry = self.queue.pop_timer(key)
            assert entry is not None
            txn, name = entry
            self.notices += [n.kind for n in txn.on_timer(name)]
            self.collect()
        self.now = end


def server_invite(transport: Transport = Transport.UDP) -> tuple[InviteServerTransaction, Clock]:
    queue = ActionQueue()
    req = parse_message(invite())
    assert isinstance(req, Request)
    txn = InviteServerTransaction(queue, TIMERS, req, ("k",), SRC, transport)
    return txn, Clock(queue)


def test_2xx_retransmitted_with_doubling_up_to_t2_until_timer_h() -> None:
    txn, clock = server_invite()
    txn.send_response(build_response(txn.request, 100))
    txn.send_response(build_response(txn.request, 200, to_tag="t"))
    assert txn.state is State.ACCEPTED
    clock.run_until(40)
    assert clock.sends == [0, 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert clock.notices == [NoticeKind.TIMEOUT]  # Timer H: the ACK never came
    assert txn.state is State.LINGERING  # still absorbing INVITE retransmissions
    clock.run_until(64)
    assert txn.state is State.TERMINATED  # Timer L


def test_2xx_retransmitted_over_tcp_too() -> None:
    txn, clock = server_invite(Transport.TCP)
    txn.send_response(build_response(txn.request, 200, to_tag="t"))
    clock.run_until(2)
    assert clock.sends == [0, 0.5, 1.5]


def test_ack_stops_2xx_retransmission_and_retransmitted_invites_are_absorbed() -> None:
    txn, clock = server_invite()
    txn.send_response(build_response(txn.request, 200, to_tag="t"))
    clock.run_until(1.0)
    assert [n.kind for n in txn.receive_ack()] == [NoticeKind.ACK]
    assert txn.state is State.LINGERING
    txn.receive_request()  # a late INVITE retransmission: absorbed (RFC 6026)
    clock.run_until(100)
    assert clock.sends == [0, 0.5]
    assert txn.state is State.TERMINATED


def test_retransmitted_invite_gets_the_last_response() -> None:
    txn, clock = server_invite()
    txn.send_response(build_response(txn.request, 100))
    txn.receive_request()
    actions = clock.queue.drain()
    assert [a.data for a in actions if isinstance(a, Transmit)] == [txn.last_message] * 2


def test_non_2xx_final_timer_g_h_then_i_after_ack() -> None:
    txn, clock = server_invite()
    txn.send_response(build_response(txn.request, 486, to_tag="t"))
    clock.run_until(2.0)
    assert clock.sends == [0, 0.5, 1.5]
    txn.receive_ack()
    assert txn.state is State.CONFIRMED
    clock.run_until(2.0 + TIMERS.t4 - 0.01)
    assert txn.state is State.CONFIRMED
    clock.run_until(2.0 + TIMERS.t4)
    assert txn.state is State.TERMINATED
    assert clock.sends == [0, 0.5, 1.5]


def test_non_2xx_final_without_ack_times_out() -> None:
    txn, clock = server_invite()
    txn.send_response(build_response(txn.request, 503, to_tag="t"))
    clock.run_until(64 * TIMERS.t1)
    assert txn.state is State.TERMINATED
    assert clock.notices == [NoticeKind.TIMEOUT]


def test_non_2xx_over_tcp_not_retransmitted_and_timer_i_zero() -> None:
    txn, clock = server_invite(Transport.TCP)
    txn.send_response(build_response(txn.request, 486, to_tag="t"))
    clock.run_until(10)
    assert clock.sends == [0]
    txn.receive_ack()
    clock.run_until(10)
    assert txn.state is State.TERMINATED


def test_response_after_final_is_a_local_error() -> None:
    txn, _ = server_invite()
    txn.send_response(build_response(txn.request, 486, to_tag="t"))
    with pytest.raises(LocalProtocolError):
        txn.send_response(build_response(txn.request, 200, to_tag="t"))


@pytest.mark.parametrize(("transport", "timer_j"), [(Transport.UDP, 32.0), (Transport.TCP, 0.0)])
def test_non_invite_server_timer_j(transport: Transport, timer_j: float) -> None:
    queue = ActionQueue()
    req = parse_message(request("OPTIONS"))
    assert isinstance(req, Request)
    txn = NonInviteServerTransaction(queue, TIMERS, req, ("k",), SRC, transport)
    clock = Clock(queue)
    txn.receive_request()  # Trying: retransmissions are absorbed
    txn.send_response(build_response(req, 200, to_tag="t"))
    clock.collect()
    txn.receive_request()  # Completed: the stored response again
    clock.collect()
    assert clock.sends == [0, 0]
    clock.run_until(timer_j - 0.01 if timer_j else 0)
    assert txn.state is (State.COMPLETED if timer_j else State.TERMINATED)
    clock.run_until(timer_j)
    assert txn.state is State.TERMINATED


def client_bye(transport: Transport = Transport.UDP) -> tuple[NonInviteClientTransaction, Clock]:
    queue = ActionQueue()
    req = parse_message(request("BYE", to_tag="x", branch="z9hG4bKbye"))
    assert isinstance(req, Request)
    txn = NonInviteClientTransaction(queue, TIMERS, req, SRC, transport)
    txn.start()
    return txn, Clock(queue)


def test_client_timer_e_backoff_and_timer_f() -> None:
    txn, clock = client_bye()
    clock.run_until(40)
    assert clock.sends == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert clock.notices == [NoticeKind.TIMEOUT]
    assert txn.state is State.TERMINATED


def test_client_provisional_moves_e_to_t2_and_final_completes() -> None:
    txn, clock = client_bye()
    clock.run_until(0.7)
    trying = build_response(txn.request, 100)
    assert [n.kind for n in txn.receive_response(trying)] == [NoticeKind.RESPONSE]
    assert txn.state is State.PROCEEDING
    clock.run_until(1.6)  # E fired at 1.5 in Trying, now re-armed at T2
    clock.run_until(5.4)
    assert clock.sends == [0, 0.5, 1.5]
    clock.run_until(5.5)
    assert clock.sends == [0, 0.5, 1.5, 5.5]
    ok = build_response(txn.request, 200)
    notices = txn.receive_response(ok)
    assert [(n.kind, n.response) for n in notices] == [(NoticeKind.RESPONSE, ok)]
    assert txn.receive_response(ok) == []  # retransmitted final: absorbed
    clock.run_until(5.5 + TIMERS.t4)
    assert txn.state is State.TERMINATED
    assert clock.notices == []


def test_client_over_tcp_no_retransmissions() -> None:
    txn, clock = client_bye(Transport.TCP)
    clock.run_until(31)
    assert clock.sends == [0]
    txn.receive_response(build_response(txn.request, 200))
    clock.run_until(31)
    assert txn.state is State.TERMINATED


@pytest.mark.parametrize("table", [INVITE_SERVER, NON_INVITE_SERVER, NON_INVITE_CLIENT])
def test_tables_reach_terminated_and_never_leave_it(table: object) -> None:
    assert isinstance(table, dict)
    targets = {target for target, _ in table.values()}
    assert State.TERMINATED in targets
    assert all(state is not State.TERMINATED for state, _ in table)


def test_transactions_cancel_their_timers_when_terminating() -> None:
    txn, clock = client_bye()
    clock.run_until(40)
    assert clock.queue.pending_timers == 0
    assert isinstance(txn, Transaction)
