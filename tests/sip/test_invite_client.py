"""The INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026) under a fake clock."""

from __future__ import annotations

import pytest

from voice_gateway.sip.events import Transport
from voice_gateway.sip.message import Request, build_response, parse_message
from voice_gateway.sip.transactions import (
    INVITE_CLIENT,
    ActionQueue,
    InviteClientTransaction,
    NoticeKind,
    State,
    TimerConfig,
)

from .support import SRC, invite
from .test_transactions import Clock

TIMERS = TimerConfig()


def client_invite(
    transport: Transport = Transport.UDP,
) -> tuple[InviteClientTransaction, Clock, list[bytes]]:
    queue = ActionQueue()
    req = parse_message(invite())
    assert isinstance(req, Request)
    txn = InviteClientTransaction(queue, TIMERS, req, SRC, transport)
    clock = Clock(queue)
    sent: list[bytes] = []
    original = queue.transmit

    def record(data: bytes, dest: tuple[str, int], tp: Transport, fallback: object = None) -> None:
        sent.append(data)
        original(data, dest, tp)

    queue.transmit = record  # type: ignore[method-assign]
    txn.start()
    return txn, clock, sent


def test_timer_a_doubles_without_t2_cap_until_timer_b() -> None:
    txn, clock, _ = client_invite()
    clock.run_until(40)
    # A: 0.5, 1, 2, 4, 8, 16 (no T2 cap for INVITE); B at 64·T1 = 32 s.
    assert clock.sends == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert clock.notices == [NoticeKind.TIMEOUT]
    assert txn.state is State.TERMINATED
    assert clock.queue.pending_timers == 0


def test_over_tcp_no_retransmission_but_timer_b() -> None:
    _txn, clock, _ = client_invite(Transport.TCP)
    clock.run_until(40)
    assert clock.sends == [0]
    assert clock.notices == [NoticeKind.TIMEOUT]


def test_provisional_stops_a_and_b() -> None:
    txn, clock, _ = client_invite()
    clock.run_until(0.7)
    ringing = build_response(txn.request, 180, to_tag="r")
    assert [n.kind for n in txn.receive_response(ringing)] == [NoticeKind.RESPONSE]
    assert txn.state is State.PROCEEDING
    clock.run_until(300)
    assert clock.sends == [0, 0.5]
    assert clock.notices == []


def test_non_2xx_final_is_acked_on_the_same_branch_and_ack_repeated() -> None:
    txn, clock, sent = client_invite()
    busy = build_response(txn.request, 486, to_tag="r")
    notices = txn.receive_response(busy)
    assert [(n.kind, n.response) for n in notices] == [(NoticeKind.RESPONSE, busy)]
    assert txn.state is State.COMPLETED
    ack = parse_message(sent[-1])
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert ack.uri == txn.request.uri
    assert ack.branch == txn.request.branch
    assert ack.to_tag == "r"
    assert ack.from_tag == txn.request.from_tag
    assert (ack.cseq.number, ack.cseq.method) == (txn.request.cseq.number, "ACK")
    assert len(ack.headers.get_all("Via")) == 1
    assert txn.receive_response(busy) == []  # retransmitted final: ACK again, no notice
    assert sent[-1] == sent[-2]
    clock.run_until(31.9)
    assert txn.state is State.COMPLETED  # Timer D: 32 s over UDP
    clock.run_until(32.1)
    assert txn.state is State.TERMINATED


def test_timer_d_is_zero_over_tcp() -> None:
    txn, clock, _ = client_invite(Transport.TCP)
    txn.receive_response(build_response(txn.request, 603, to_tag="r"))
    clock.run_until(0)
    assert txn.state is State.TERMINATED


def test_2xx_enters_accepted_and_retransmissions_reach_the_tu_until_timer_m() -> None:
    txn, clock, sent = client_invite()
    ok = build_response(txn.request, 200, to_tag="r")
    assert [n.kind for n in txn.receive_response(ok)] == [NoticeKind.RESPONSE]
    assert txn.state is State.ACCEPTED
    assert len(sent) == 1  # the ACK for a 2xx is the TU's, not the transaction's
    assert [n.kind for n in txn.receive_response(ok)] == [NoticeKind.RESPONSE]
    clock.run_until(31.9)
    assert txn.state is State.ACCEPTED
    clock.run_until(32.1)
    assert txn.state is State.TERMINATED
    assert clock.sends == [0]


def test_start_twice_is_a_local_error() -> None:
    from voice_gateway.sip.errors import LocalProtocolError

    txn, _, _ = client_invite()
    with pytest.raises(LocalProtocolError):
        txn.start()


def test_table_reaches_terminated_and_never_leaves_it() -> None:
    targets = {target for target, _ in INVITE_CLIENT.values()}
    assert State.TERMINATED in targets
    assert all(state is not State.TERMINATED for state, _ in INVITE_CLIENT)
