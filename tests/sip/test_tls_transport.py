"""SIP over TLS on loopback: the TCP machinery (accept, limits, framing) with an SSL context,
a trial certificate, a client that verifies it, and our own TLS connection for a BYE."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest

from voice_gateway.sip.events import CallEnded, Event, IncomingCall, Transport
from voice_gateway.sip.sdp import answer_offer
from voice_gateway.sip.tls import client_context, server_context, trial_pair
from voice_gateway.sip.transactions import TimerConfig
from voice_gateway.sip.transport import SipEndpoint, TcpLimits
from voice_gateway.sip.uas import UasConfig, UserAgentServer

from .support import invite, request
from .test_tls_core import sdp

FAST = TimerConfig(t1=0.05, t2=0.4, t4=0.5)


class Recorder:
    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()

    def __call__(self, event: Event) -> None:
        self.events.put_nowait(event)

    async def next(self, kind: type) -> Event:
        while True:
            event = await asyncio.wait_for(self.events.get(), 5)
            if isinstance(event, kind):
                return event


async def read_message(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return trial_pair(tmp_path / "tls", ["127.0.0.1", "localhost"])


async def started(pair: tuple[Path, Path], recorder: Recorder,
                  limits: TcpLimits | None = None) -> tuple[SipEndpoint, int]:  # fmt: skip
    cert, key = pair
    core = UserAgentServer(UasConfig(timers=FAST, tls_port=0))
    endpoint = SipEndpoint(core, recorder, limits=limits, tls_client=client_context(cert))
    _, port = await endpoint.start_tls("127.0.0.1", 0, server_context(cert, key))
    core.config = UasConfig(timers=FAST, tls_port=port)
    return endpoint, port


def test_the_trial_pair_is_made_once_and_kept(tmp_path: Path) -> None:
    cert, key = trial_pair(tmp_path, ["127.0.0.1"])
    first = cert.read_bytes()
    assert key.stat().st_mode & 0o077 == 0  # the key is the owner's only
    assert trial_pair(tmp_path, ["127.0.0.1"]) == (cert, key) and cert.read_bytes() == first


async def test_tls_call_framing_and_answer_on_the_same_connection(
    pair: tuple[Path, Path],
) -> None:
    recorder = Recorder()
    endpoint, port = await started(pair, recorder)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(pair[0]), server_hostname="127.0.0.1")
    try:
        writer.write(b"\r\n\r\n")  # RFC 5626 ping, answered with a pong
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
        data = invite(body=sdp(), via_transport="TLS")
        for index in range(0, len(data), 37):  # arrives in pieces, several TLS records
            writer.write(data[index : index + 37])
            await writer.drain()
        assert (await read_message(reader)).startswith(b"SIP/2.0 100 Trying")
        event = await recorder.next(IncomingCall)
        assert isinstance(event, IncomingCall) and event.transport is Transport.TLS
        assert event.policy.srtp == "allow"
        assert event.offer is not None
        answer, _ = answer_offer(event.offer, event.policy, "127.0.0.1", 20000, session_id="1")
        assert endpoint.answer(event.call, answer)
        ok = await read_message(reader)
        assert ok.startswith(b"SIP/2.0 200 OK")
        assert f"Contact: <sip:intake@127.0.0.1:{port};transport=tls>".encode() in ok
        assert b"m=audio 20000 RTP/SAVP 0 101" in ok and b"a=crypto:1 " in ok
        tag = event.call.local_tag
        # Two requests in one write (one TLS record): both framed and answered.
        writer.write(request("ACK", to_tag=tag, branch="z9hG4bKack", via_transport="TLS")
                     + request("BYE", to_tag=tag, cseq=2, branch="z9hG4bKbye",
                               via_transport="TLS"))  # fmt: skip
        await writer.drain()
        ended = await recorder.next(CallEnded)
        assert isinstance(ended, CallEnded) and ended.call == event.call
        reply = await read_message(reader)
        while b"CSeq: 2 BYE" not in reply:
            reply = await read_message(reader)  # 2xx retransmissions may precede it
        assert reply.startswith(b"SIP/2.0 200 OK")
    finally:
        writer.close()
        await endpoint.close()


async def test_our_bye_opens_a_verified_tls_connection_when_the_callers_closed(
    pair: tuple[Path, Path],
) -> None:
    recorder = Recorder()
    endpoint, port = await started(pair, recorder)
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def contact(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.put_nowait(await read_message(reader))
        writer.close()

    server = await asyncio.start_server(contact, "127.0.0.1", 0,
                                        ssl=server_context(*pair))  # fmt: skip
    contact_port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(pair[0]), server_hostname="127.0.0.1")
    try:
        writer.write(invite(body=sdp(), via_transport="TLS").replace(
            b"<sip:caller@127.0.0.1:5061>",
            f"<sip:caller@127.0.0.1:{contact_port};transport=tls>".encode()))
        event = await recorder.next(IncomingCall)
        assert isinstance(event, IncomingCall) and event.offer is not None
        answer, _ = answer_offer(event.offer, event.policy, "127.0.0.1", 20000, session_id="1")
        endpoint.answer(event.call, answer)
        writer.write(request("ACK", to_tag=event.call.local_tag, branch="z9hG4bKack",
                             via_transport="TLS"))  # fmt: skip
        await writer.drain()
        await read_message(reader)
        writer.close()
        await asyncio.sleep(0.1)
        endpoint.hangup(event.call)
        bye = await asyncio.wait_for(received.get(), 5)
        assert bye.startswith(b"BYE sip:caller@127.0.0.1:")
        assert f"Via: SIP/2.0/TLS 127.0.0.1:{port};".encode() in bye
    finally:
        writer.close()
        server.close()
        await endpoint.close()


async def test_plain_text_and_stalled_handshakes_are_closed_quietly(
    pair: tuple[Path, Path], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="voice_gateway.sip.transport")
    recorder = Recorder()
    endpoint, port = await started(pair, recorder, TcpLimits(header_timeout_s=0.3))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("OPTIONS", via_transport="TCP"))  # SIP without TLS
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        _, silent = await asyncio.open_connection("127.0.0.1", port)  # never says hello
        await asyncio.sleep(0.1)
        assert endpoint.tcp_connections == 1
        for _ in range(100):
            if endpoint.tcp_connections == 0:
                break
            await asyncio.sleep(0.05)
        assert endpoint.tcp_connections == 0
        silent.close()
        with pytest.raises(ssl.SSLError):  # a client that does not trust our certificate
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context(),
                                          server_hostname="127.0.0.1")  # fmt: skip
    finally:
        await endpoint.close()
    assert recorder.events.empty()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert any("TLS handshake" in r.getMessage() for r in caplog.records)
