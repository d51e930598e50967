"""TCP limits (#14 item 7): the allowlist at accept, caps per source and in total, header
and idle timeouts, one throttled log line per cause, and accept errors that pause
accepting. Rules on a fake clock first, then the endpoint on loopback (127.0.0.2 is a
loopback address on Linux)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections.abc import Callable

import pytest

from voice_gateway.sip.framing import StreamFramer
from voice_gateway.sip.transport import (
    Cause,
    ConnectionTable,
    LogThrottle,
    SipEndpoint,
    TcpLimits,
)
from voice_gateway.sip.uas import UserAgentServer

from .support import request
from .test_transport import UdpClient

LIMITS = TcpLimits(max_connections=5, max_per_source=3, idle_timeout_s=120.0,
                   header_timeout_s=10.0)  # fmt: skip


def only(network: str) -> object:
    net = ipaddress.ip_network(network)
    return lambda host: ipaddress.ip_address(host) in net


# --- admission at accept --------------------------------------------------------------

# (allowlist, hosts already connected, the new connection's host, the refusal or None)
ADMISSION = [
    ("127.0.0.1/32", [], "127.0.0.1", None),
    ("127.0.0.1/32", [], "127.0.0.2", Cause.NOT_ALLOWED),  # even the first one
    ("127.0.0.0/8", ["127.0.0.1"] * 2, "127.0.0.1", None),
    ("127.0.0.0/8", ["127.0.0.1"] * 3, "127.0.0.1", Cause.SOURCE_FULL),
    ("127.0.0.0/8", ["127.0.0.1"] * 3, "127.0.0.3", None),  # another source still gets in
    ("127.0.0.0/8", ["127.0.0.1"] * 3 + ["127.0.0.3"] * 2, "127.0.0.4", Cause.FULL),
    ("127.0.0.1/32", ["127.0.0.1"] * 3 + ["127.0.0.3"] * 2, "10.0.0.1", Cause.NOT_ALLOWED),
]


@pytest.mark.parametrize(("allowed", "present", "host", "refusal"), ADMISSION)
def test_admission(allowed: str, present: list[str], host: str, refusal: Cause | None) -> None:
    table: ConnectionTable[int] = ConnectionTable(LIMITS, accept=only(allowed))  # type: ignore[arg-type]
    for key, source in enumerate(present):
        table.opened(key, source, now=0.0, inbound=True)
    assert table.admit(host) is refusal


def test_a_closed_connection_frees_its_slot() -> None:
    table: ConnectionTable[int] = ConnectionTable(LIMITS)
    for key in range(3):
        table.opened(key, "127.0.0.1", now=0.0, inbound=True)
    assert table.admit("127.0.0.1") is Cause.SOURCE_FULL
    table.closed(1)
    table.closed(1)  # twice: counted once
    assert table.admit("127.0.0.1") is None and len(table) == 2


def test_caps_are_fitted_to_the_file_descriptor_limit() -> None:
    assert TcpLimits(max_connections=2000).within_fd_limit(1024).max_connections == 512
    assert TcpLimits(max_connections=2000).within_fd_limit(65536).max_connections == 2000


# --- timeouts on a fake clock ---------------------------------------------------------


def test_a_new_connection_must_send_a_whole_header_in_time() -> None:
    table: ConnectionTable[str] = ConnectionTable(LIMITS)
    table.opened("silent", "127.0.0.1", now=0.0, inbound=True)
    table.opened("slow", "127.0.0.1", now=0.0, inbound=True)
    table.opened("ours", "10.0.0.9", now=0.0, inbound=False)  # we connected: no header due
    for t in range(1, 10):  # a byte a second, never a whole header
        table.received("slow", now=float(t), message_done=False, header_pending=True)
    assert table.expired(9.9) == []
    assert sorted(table.expired(10.0)) == [("silent", Cause.HEADER_TIMEOUT),
                                           ("slow", Cause.HEADER_TIMEOUT)]  # fmt: skip


def test_after_a_message_the_header_clock_starts_with_the_next_byte() -> None:
    table: ConnectionTable[str] = ConnectionTable(LIMITS)
    table.opened("c", "127.0.0.1", now=0.0, inbound=True)
    table.received("c", now=1.0, message_done=True, header_pending=False)
    assert table.expired(100.0) == []  # idle, not late: nothing begun
    table.received("c", now=100.0, message_done=False, header_pending=True)
    assert table.expired(109.9) == []
    assert table.expired(110.0) == [("c", Cause.HEADER_TIMEOUT)]


def test_a_message_completed_with_the_next_one_begun_restarts_the_clock() -> None:
    table: ConnectionTable[str] = ConnectionTable(LIMITS)
    table.opened("c", "127.0.0.1", now=0.0, inbound=True)
    table.received("c", now=9.0, message_done=True, header_pending=True)  # pipelined
    assert table.expired(18.9) == []
    assert table.expired(19.0) == [("c", Cause.HEADER_TIMEOUT)]


def test_a_body_in_progress_is_bounded_by_the_idle_timeout_only() -> None:
    table: ConnectionTable[str] = ConnectionTable(LIMITS)
    table.opened("c", "127.0.0.1", now=0.0, inbound=True)
    table.received("c", now=1.0, message_done=False, header_pending=False)  # header done
    assert table.expired(120.9) == []
    assert table.expired(121.0) == [("c", Cause.IDLE)]


def test_idle_counts_from_the_last_byte_either_way() -> None:
    table: ConnectionTable[str] = ConnectionTable(LIMITS)
    table.opened("c", "127.0.0.1", now=0.0, inbound=False)
    table.sent("c", now=50.0)
    assert table.expired(169.9) == []
    table.received("c", now=160.0, message_done=True, header_pending=False)
    assert table.expired(279.9) == []
    assert table.expired(280.0) == [("c", Cause.IDLE)]


# --- the framer tells whether a header is under way -----------------------------------

OPTIONS = request("OPTIONS")
# (bytes fed in one go, header pending after them)
HEADER_PENDING = [
    (b"", False),
    (b"OPT", True),
    (OPTIONS[:-4], True),  # all but the blank line
    (OPTIONS, False),
    (OPTIONS + b"INV", True),
    (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 9") + b"abc", False),  # body
    (b"\r\n", False),  # maybe half a keep-alive
    (b"\r\n\r\n", False),
]


@pytest.mark.parametrize(("data", "pending"), HEADER_PENDING)
def test_framer_header_pending(data: bytes, pending: bool) -> None:
    framer = StreamFramer()
    framer.feed(data)
    assert framer.header_pending is pending


# --- one log line per cause -----------------------------------------------------------


def test_log_throttle() -> None:
    throttle = LogThrottle(interval_s=10.0)
    assert throttle.note(Cause.FULL, 0.0, "a") == (1, "a")  # the first at once
    assert throttle.note(Cause.IDLE, 0.5, "x") == (1, "x")  # each cause on its own
    for n in range(300):
        assert throttle.note(Cause.FULL, 1.0 + n / 100, f"b{n}") is None
    assert throttle.due(9.9) == []
    assert throttle.due(10.0) == [(Cause.FULL, 300, "b299")]  # held back, then counted
    assert throttle.due(30.0) == []
    assert throttle.note(Cause.FULL, 30.0, "c") == (1, "c")


# --- the endpoint on loopback ---------------------------------------------------------


class Peer:
    """A raw TCP client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                      local_addr=(source, 0))  # fmt: skip
        return cls(reader, writer)

    async def closed_by_server(self) -> bool:
        try:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
        except ConnectionResetError:
            return True
        return data == b""

    async def options(self, branch: str) -> bytes:
        self.writer.write(request("OPTIONS", branch=branch, via_transport="TCP"))
        await self.writer.drain()
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)

    def close(self) -> None:
        self.writer.close()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")


async def started(limits: TcpLimits, **kwargs: object) -> tuple[SipEndpoint, int]:
    endpoint = SipEndpoint(UserAgentServer(), lambda e: None, limits=limits, **kwargs)  # type: ignore[arg-type]
    _, port = await endpoint.start_tcp("127.0.0.1", 0)
    return endpoint, port


async def test_source_outside_the_allowlist_is_closed_before_a_byte_is_read() -> None:
    endpoint, port = await started(LIMITS, accept=only("127.0.0.1/32"))
    try:
        stranger = await Peer.connect(port, "127.0.0.2")
        stranger.writer.write(request("OPTIONS", via_transport="TCP"))
        assert await stranger.closed_by_server()
        stranger.close()
        friend = await Peer.connect(port, "127.0.0.1")
        assert (await friend.options("z9hG4bKf")).startswith(b"SIP/2.0 200 OK")
        friend.close()
        assert endpoint.core.stats.requests == 1  # the friend's only
    finally:
        await endpoint.close()


async def test_300_connections_over_the_cap_leave_udp_and_new_sources_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="voice_gateway.sip.transport")
    limits = TcpLimits(max_connections=40, max_per_source=20)
    endpoint, port = await started(limits)
    await endpoint.start_udp("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    peers: list[Peer] = []
    try:
        for _ in range(20 + 300):
            peers.append(await Peer.connect(port))
        assert all(await asyncio.gather(*(p.closed_by_server() for p in peers[20:])))
        assert endpoint.tcp_connections == 20
        # UDP is still served.
        udp, client = await loop.create_datagram_endpoint(UdpClient, local_addr=("127.0.0.1", 0))
        udp.sendto(request("OPTIONS", branch="z9hG4bKudp", extra="").replace(
            b";branch=", b";rport;branch=", 1), ("127.0.0.1", port))  # fmt: skip
        assert (await client.next()).startswith(b"SIP/2.0 200 OK")
        udp.close()
        # Another source under its cap, and this one again once a slot is free.
        other = await Peer.connect(port, "127.0.0.2")
        assert (await other.options("z9hG4bKother")).startswith(b"SIP/2.0 200 OK")
        peers[0].close()
        await until(lambda: endpoint.tcp_connections == 20)
        again = await Peer.connect(port)
        assert (await again.options("z9hG4bKagain")).startswith(b"SIP/2.0 200 OK")
        peers += [other, again]
    finally:
        for peer in peers:
            peer.close()
        await endpoint.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "too many connections from" in lines[0], lines
    assert not any(r.exc_info for r in caplog.records)


async def test_silent_and_idle_connections_are_closed() -> None:
    limits = TcpLimits(header_timeout_s=0.5, idle_timeout_s=1.0)
    endpoint, port = await started(limits)
    try:
        silent = await Peer.connect(port)
        assert await silent.closed_by_server()  # no header in time
        talker = await Peer.connect(port)
        assert (await talker.options("z9hG4bKt")).startswith(b"SIP/2.0 200 OK")
        assert await talker.closed_by_server()  # then idle
        silent.close()
        talker.close()
        assert endpoint.tcp_connections == 0
    finally:
        await endpoint.close()


class FailingListener:
    """Stands in for the listening socket: every accept fails with EMFILE."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    def accept(self) -> object:
        self.calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def fileno(self) -> int:
        return self.real.fileno()  # type: ignore[attr-defined, no-any-return]


async def test_accept_errors_pause_accepting_without_spinning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="voice_gateway.sip.transport")
    endpoint, port = await started(TcpLimits(accept_pause_s=0.05))
    (listener,) = endpoint._listeners
    real = listener.sock
    failing = FailingListener(real)
    try:
        listener.sock = failing  # type: ignore[assignment]
        for _ in range(100):
            endpoint._on_acceptable(listener)
        assert not endpoint.accepting and failing.calls == 1  # one try, then a pause
        await until(lambda: endpoint.accepting)
        listener.sock = real
        peer = await Peer.connect(port)
        assert (await peer.options("z9hG4bKafter")).startswith(b"SIP/2.0 200 OK")
        peer.close()
    finally:
        listener.sock = real
        await endpoint.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and "accept" in loud[0].getMessage() and not loud[0].exc_info
