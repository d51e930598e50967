"""Transport rules (#14 item 4): where responses go (RFC 3261 §18.2.2, RFC 3581), large
requests over TCP (RFC 3261 §18.1.1), no reconnect to a TCP client's ephemeral port, and
the telephone-event range echoed in the SDP answer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voice_gateway.sip.events import Address, IncomingCall, Transmit, Transport
from voice_gateway.sip.sdp import AudioPolicy, SessionDescription, answer_offer
from voice_gateway.sip.transactions import Reply, TimerConfig
from voice_gateway.sip.transport import SipEndpoint
from voice_gateway.sip.uas import UasConfig, UserAgentServer

from .support import OFFER, Harness, counter_ids, invite, request
from .test_uas import ack, incoming, our_answer

# --- responses: RFC 3261 §18.2.2 and RFC 3581 -----------------------------------------

# (top Via of the request, packet source, where the response goes, its top Via)
UDP_ROUTES = [
    ("127.0.0.1:5061;branch=z9hG4bKb1", ("127.0.0.1", 40000),
     ("127.0.0.1", 5061), "127.0.0.1:5061;branch=z9hG4bKb1"),
    ("127.0.0.1;branch=z9hG4bKb1", ("127.0.0.1", 40000),
     ("127.0.0.1", 5060), "127.0.0.1;branch=z9hG4bKb1"),
    ("10.0.0.1:5070;branch=z9hG4bKb1", ("198.51.100.2", 40000),
     ("198.51.100.2", 5070), "10.0.0.1:5070;branch=z9hG4bKb1;received=198.51.100.2"),
    ("client.invalid:5061;branch=z9hG4bKb1", ("192.0.2.7", 40000),
     ("192.0.2.7", 5061), "client.invalid:5061;branch=z9hG4bKb1;received=192.0.2.7"),
    ("127.0.0.1:5061;branch=z9hG4bKb1;rport", ("127.0.0.1", 40000),
     ("127.0.0.1", 40000), "127.0.0.1:5061;branch=z9hG4bKb1;rport=40000;received=127.0.0.1"),
    ("client.invalid:5061;rport;branch=z9hG4bKb1", ("192.0.2.7", 40000),
     ("192.0.2.7", 40000), "client.invalid:5061;rport=40000;branch=z9hG4bKb1;received=192.0.2.7"),
]  # fmt: skip


def with_via(data: bytes, via: str, transport: str = "UDP") -> bytes:
    old = f"Via: SIP/2.0/{transport} 127.0.0.1:5061;branch=z9hG4bKb1".encode()
    assert old in data
    return data.replace(old, f"Via: SIP/2.0/{transport} {via}".encode(), 1)


def transmits(core: UserAgentServer) -> list[Transmit]:
    return [a for a in core.drain_actions() if isinstance(a, Transmit)]


@pytest.mark.parametrize(("via", "source", "dest", "echoed"), UDP_ROUTES)
def test_udp_response_goes_to_via_port_unless_rport(
    via: str, source: Address, dest: Address, echoed: str
) -> None:
    core = UserAgentServer(new_id=counter_ids())  # type: ignore[arg-type]
    core.receive_data(with_via(request("OPTIONS"), via), source)
    (sent,) = transmits(core)
    assert sent.dest == dest and sent.transport is Transport.UDP
    assert f"\r\nVia: SIP/2.0/UDP {echoed}\r\n".encode() in sent.data


@pytest.mark.parametrize(("via", "source", "dest", "echoed"), UDP_ROUTES)
def test_malformed_request_is_answered_by_the_same_rule(
    via: str, source: Address, dest: Address, echoed: str
) -> None:
    core = UserAgentServer(new_id=counter_ids())  # type: ignore[arg-type]
    core.receive_data(with_via(request("OPTIONS", cseq_method="INVITE"), via), source)
    (sent,) = transmits(core)
    assert sent.data.startswith(b"SIP/2.0 400 ") and sent.dest == dest


def test_invite_responses_and_2xx_retransmissions_follow_the_via() -> None:
    harness = Harness()
    data = with_via(invite(), "127.0.0.1:5070;branch=z9hG4bKb1")
    (event,) = harness.feed(data)  # from 127.0.0.1:5061, the harness's source
    assert isinstance(event, IncomingCall)
    harness.op(harness.core.answer(event.call, our_answer()))
    harness.advance(1.0)
    sent = harness.take()
    assert [s.data[:12] for s in sent][:2] == [b"SIP/2.0 100 ", b"SIP/2.0 200 "]
    assert len(sent) > 2 and {s.dest for s in sent} == {("127.0.0.1", 5070)}


# (top Via of a request over TCP, connection's peer, where to connect once it is gone)
TCP_ROUTES = [
    ("127.0.0.1:5061;branch=z9hG4bKb1", ("127.0.0.1", 40000), ("127.0.0.1", 5061)),
    ("127.0.0.1;branch=z9hG4bKb1", ("127.0.0.1", 40000), ("127.0.0.1", 5060)),
    ("127.0.0.1:5061;branch=z9hG4bKb1;rport", ("127.0.0.1", 40000), ("127.0.0.1", 5061)),
    ("client.invalid:5062;branch=z9hG4bKb1", ("192.0.2.7", 40000), ("192.0.2.7", 5062)),
]


@pytest.mark.parametrize(("via", "source", "fallback"), TCP_ROUTES)
def test_tcp_response_uses_the_connection_then_the_via_never_the_source_port(
    via: str, source: Address, fallback: Address
) -> None:
    core = UserAgentServer(new_id=counter_ids())  # type: ignore[arg-type]
    core.receive_data(with_via(request("OPTIONS", via_transport="TCP"), via, "TCP"), source,
                      Transport.TCP)  # fmt: skip
    (sent,) = transmits(core)
    assert isinstance(sent, Reply)
    assert (sent.dest, sent.fallback, sent.transport) == (source, fallback, Transport.TCP)


# --- our requests: RFC 3261 §18.1.1 ---------------------------------------------------


def record_routes(count: int) -> str:
    return "\r\n".join(
        f"Record-Route: <sip:10.9.9.{n}:5070;transport=udp;r2=on;lr;ftag=ft1;"
        f"did=0a1.b2c3d4e5f60718293a4b;nat=yes>"
        for n in range(count)
    )


def established_over_udp(harness: Harness, routes: int) -> object:
    call = incoming(harness, extra=record_routes(routes) if routes else "")
    harness.op(harness.core.answer(call, our_answer()))
    harness.feed(ack())
    harness.take()
    return call


@pytest.mark.parametrize(("routes", "transport"), [(0, "UDP"), (2, "UDP"), (12, "TCP")])
def test_bye_over_1300_bytes_goes_over_tcp(routes: int, transport: str) -> None:
    harness = Harness()
    call = established_over_udp(harness, routes)
    harness.op(harness.core.hangup(call))  # type: ignore[arg-type]
    (bye,) = harness.take()
    assert bye.transport is Transport(transport)
    assert (len(bye.data) > 1300) is (transport == "TCP")
    assert bye.data.split(b"\r\n")[1].startswith(f"Via: SIP/2.0/{transport} ".encode())
    if routes:
        assert bye.dest == ("10.9.9.0", 5070)
    harness.advance(5)
    assert len(harness.take()) == (0 if transport == "TCP" else 3)  # Timer E on UDP only


def test_refer_over_the_limit_goes_over_tcp() -> None:
    harness = Harness()
    call = established_over_udp(harness, 12)
    harness.op(harness.core.refer(call, "sip:agents@10.0.0.5:5060"))  # type: ignore[arg-type]
    (refer,) = harness.take()
    assert refer.transport is Transport.TCP and b"Via: SIP/2.0/TCP " in refer.data


def test_the_limit_follows_the_configured_path_mtu() -> None:
    harness = Harness(config=UasConfig(udp_request_limit=400))
    call = established_over_udp(harness, 2)
    harness.op(harness.core.hangup(call))  # type: ignore[arg-type]
    (bye,) = harness.take()
    assert len(bye.data) > 400 and bye.transport is Transport.TCP


def response_to(data: bytes, status: int) -> bytes:
    """The peer's answer to one of our requests: its Via, From, To, Call-ID and CSeq."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    keep = [line for line in head
            if line.split(b":", 1)[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")]
    return b"\r\n".join([f"SIP/2.0 {status} OK".encode(), *keep, b"Content-Length: 0"]) + (
        b"\r\n\r\n")


def test_a_refused_tcp_connect_retries_the_large_request_over_udp() -> None:
    """RFC 3261 §18.1.1: a request moved to TCP only for its size is sent again over UDP
    when the connection is refused, with the same branch and Timer E running."""
    harness = Harness()
    call = established_over_udp(harness, 12)
    harness.op(harness.core.hangup(call))  # type: ignore[arg-type]
    (bye,) = harness.take()
    assert bye.transport is Transport.TCP
    events = harness.op(harness.core.connection_failed(Transport.TCP, bye.dest, refused=True))
    assert events == []
    (retry,) = harness.take()
    assert retry.transport is Transport.UDP and retry.dest == bye.dest
    assert retry.data.split(b"\r\n")[1] == bye.data.split(b"\r\n")[1].replace(
        b"SIP/2.0/TCP ", b"SIP/2.0/UDP ")
    assert retry.data.split(b"\r\n", 2)[2] == bye.data.split(b"\r\n", 2)[2]
    harness.advance(2)
    assert [s.transport for s in harness.take()] == [Transport.UDP] * 2  # Timer E: 0.5, 1.5 s
    harness.feed(response_to(retry.data, 200))
    assert [type(e).__name__ for e in harness.events][-1] == "CallEnded"


def test_a_failed_connect_ends_the_transaction_without_waiting_for_timer_f() -> None:
    """RFC 3261 §17.1.4: a transport failure (a reset connect for a request that was on
    TCP anyway, or any other connect error) ends the BYE at once: the call is over."""
    harness = Harness()
    (event,) = harness.feed(invite(via_transport="TCP"), Transport.TCP)
    assert isinstance(event, IncomingCall)
    call = event.call
    harness.op(harness.core.answer(call, our_answer()))
    harness.feed(request("ACK", to_tag="id0", branch="z9hG4bKack", via_transport="TCP"),
                 Transport.TCP)
    harness.take()
    harness.op(harness.core.hangup(call))  # type: ignore[arg-type]
    (bye,) = harness.take()
    assert bye.transport is Transport.TCP
    events = harness.op(harness.core.connection_failed(Transport.TCP, bye.dest, refused=True))
    assert [type(e).__name__ for e in events] == ["CallEnded"]
    assert harness.take() == []
    harness.advance(64)
    assert harness.take() == [] and harness.core.active_calls == 0


def test_an_unreachable_peer_is_not_retried_over_udp() -> None:
    """Only a refused connection (a reset) allows the UDP retry; a timeout or an
    unreachable network ends the request."""
    harness = Harness()
    call = established_over_udp(harness, 12)
    harness.op(harness.core.hangup(call))  # type: ignore[arg-type]
    (bye,) = harness.take()
    events = harness.op(harness.core.connection_failed(Transport.TCP, bye.dest, refused=False))
    assert [type(e).__name__ for e in events] == ["CallEnded"]
    assert harness.take() == []


async def test_the_endpoint_retries_over_udp_when_the_peer_refuses_tcp() -> None:
    """End to end on loopback: the peer listens on UDP only; our 1,500-byte BYE goes
    there after the TCP connect is refused."""
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    class Peer(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Address) -> None:
            got.put_nowait(data)

    peer, _ = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    peer_port = peer.get_extra_info("sockname")[1]
    ended: list[object] = []
    endpoint = SipEndpoint(UserAgentServer(UasConfig(timers=FAST)), ended.append)
    try:
        await endpoint.start_udp("127.0.0.1", 0)
        core = endpoint.core
        data = invite(extra=record_routes(12).replace("10.9.9.0:5070", f"127.0.0.1:{peer_port}"))
        (event,) = [e for e in core.receive_data(data, ("127.0.0.1", peer_port))
                    if isinstance(e, IncomingCall)]  # fmt: skip
        endpoint.flush()
        endpoint.answer(event.call, SessionDescription.parse(our_answer().serialize()))
        core.receive_data(ack(), ("127.0.0.1", peer_port))
        endpoint.flush()
        while not got.empty():
            got.get_nowait()
        endpoint.hangup(event.call)
        for _ in range(100):
            data = await asyncio.wait_for(got.get(), 5)
            if data.startswith(b"BYE "):
                break
        assert len(data) > 1300 and b"Via: SIP/2.0/UDP " in data
    finally:
        await endpoint.close()
        peer.close()


# --- the endpoint: no reconnect to a closed client's ephemeral port -------------------

FAST = TimerConfig(t1=0.05, t2=0.4, t4=0.5)


async def test_2xx_retransmissions_go_to_the_via_once_the_client_disconnects() -> None:
    """The caller's connection closes after the 200: the retransmissions reconnect to its
    Via sent-by (where it listens), not to the ephemeral port it connected from."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    caller_server = await asyncio.start_server(listener, "127.0.0.1", 0)
    caller_port = caller_server.sockets[0].getsockname()[1]
    incoming_calls: list[IncomingCall] = []

    def on_event(event: object) -> None:
        if isinstance(event, IncomingCall):
            incoming_calls.append(event)

    endpoint = SipEndpoint(UserAgentServer(UasConfig(timers=FAST)), on_event)
    host, port = await endpoint.start_tcp("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(host, port)
        via = f"127.0.0.1:{caller_port};branch=z9hG4bKb1"
        writer.write(with_via(invite(via_transport="TCP"), via, "TCP"))
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)  # 100 Trying
        for _ in range(100):
            if incoming_calls:
                break
            await asyncio.sleep(0.01)
        (event,) = incoming_calls
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
        endpoint.answer(event.call, SessionDescription.parse(our_answer().serialize()))
        head = await asyncio.wait_for(received.get(), 5)
        assert head.startswith(b"SIP/2.0 200 OK\r\n")
    finally:
        await endpoint.close()
        caller_server.close()


async def test_failed_connects_log_one_line_not_one_per_retransmission(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead = closed.sockets[0].getsockname()[:2]
    closed.close()
    await closed.wait_closed()
    endpoint = SipEndpoint(UserAgentServer(), lambda e: None)
    caplog.set_level(logging.DEBUG, logger="voice_gateway.sip.transport")
    try:
        for _ in range(30):
            endpoint._send(Reply(b"SIP/2.0 200 OK\r\n\r\n", ("127.0.0.1", 1), Transport.TCP,
                                 fallback=(dead[0], dead[1])))  # fmt: skip
            for _ in range(50):
                if not endpoint._connecting:
                    break
                await asyncio.sleep(0.01)
    finally:
        await endpoint.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and "connect" in loud[0].getMessage()


# --- SDP: echo the offered telephone-event range (RFC 4733 §7.1.1) --------------------

# (the offer's fmtp for telephone-event, the answer's; None: no such line)
EVENT_RANGES = [
    ("0-15", "0-15"),
    ("0-16", "0-16"),
    ("0-15,66,70", "0-15"),
    ("0-255", "0-16"),
    ("10-20", "10-16"),
    ("0,1,2,3,4,5,6,7,8,9,10,11", "0,1,2,3,4,5,6,7,8,9,10,11"),
    ("0-11,16,32-40", "0-11,16"),
    ("16", "16"),
    (None, None),
]


@pytest.mark.parametrize(("offered", "answered"), EVENT_RANGES)
def test_answer_echoes_the_offered_event_range(offered: str | None, answered: str | None) -> None:
    fmtp = f"a=fmtp:101 {offered}\r\n" if offered is not None else ""
    offer = OFFER.replace("a=fmtp:101 0-16\r\n", fmtp)
    sdp, negotiated = answer_offer(SessionDescription.parse(offer), AudioPolicy(), "10.0.0.5",
                                   20000, session_id="7")  # fmt: skip
    text = sdp.serialize().decode()
    assert "m=audio 20000 RTP/AVP 8 101\r\n" in text
    assert "a=rtpmap:101 telephone-event/8000\r\n" in text
    fmtp_lines = [line for line in text.split("\r\n") if line.startswith("a=fmtp:")]
    assert fmtp_lines == ([f"a=fmtp:101 {answered}"] if answered else [])
    assert negotiated.telephone_event_pt == 101


def test_no_common_event_means_no_telephone_event_in_the_answer() -> None:
    offer = OFFER.replace("a=fmtp:101 0-16", "a=fmtp:101 66,70")
    sdp, negotiated = answer_offer(SessionDescription.parse(offer), AudioPolicy(), "10.0.0.5",
                                   20000, session_id="7")  # fmt: skip
    text = sdp.serialize().decode()
    assert "m=audio 20000 RTP/AVP 8\r\n" in text and "telephone-event" not in text
    assert negotiated.telephone_event_pt is None
