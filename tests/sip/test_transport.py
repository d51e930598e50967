"""The core over real UDP and TCP sockets on 127.0.0.1, with a minimal hand-written client."""

from __future__ import annotations

import asyncio

import pytest

from voice_gateway import eventloop
from voice_gateway.sip.events import AckReceived, CallEnded, EndReason, Event, IncomingCall
from voice_gateway.sip.sdp import AudioPolicy, answer_offer
from voice_gateway.sip.transactions import TimerConfig
from voice_gateway.sip.transport import SipEndpoint
from voice_gateway.sip.uas import UasConfig, UserAgentServer

from .support import invite, request

FAST = TimerConfig(t1=0.05, t2=0.4, t4=0.5)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, kind: type) -> Event:
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    self.events.remove(event)
                    return event
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 2)


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)

    async def next(self) -> bytes:
        return await asyncio.wait_for(self.queue.get(), 2)


def answer_for(event: IncomingCall) -> bytes:
    assert event.offer is not None
    sdp, _ = answer_offer(event.offer, AudioPolicy(), "127.0.0.1", 20000, session_id="1")
    return sdp.serialize()


def response_to_bye(bye: bytes) -> bytes:
    head = bye.split(b"\r\n\r\n")[0].split(b"\r\n")
    keep = [
        h for h in head[1:] if h.split(b":")[0] in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")
    ]
    return b"\r\n".join([b"SIP/2.0 200 OK", *keep, b"Content-Length: 0"]) + b"\r\n\r\n"


async def test_udp_call() -> None:
    loop = asyncio.get_running_loop()
    recorder = Recorder()
    core = UserAgentServer(UasConfig(timers=FAST))
    endpoint = SipEndpoint(core, recorder)
    host, port = await endpoint.start_udp("127.0.0.1", 0)
    transport, client = await loop.create_datagram_endpoint(UdpClient, local_addr=("127.0.0.1", 0))
    me = transport.get_extra_info("sockname")
    contact = f"caller@127.0.0.1:{me[1]}".encode()

    def mine(data: bytes) -> bytes:  # responses go to the Via's port (no rport): ours
        return data.replace(b"127.0.0.1:5061;", f"127.0.0.1:{me[1]};".encode())

    try:
        transport.sendto(mine(invite().replace(b"caller@127.0.0.1:5061", contact)), (host, port))
        assert (await client.next()).startswith(b"SIP/2.0 100 Trying")
        event = await recorder.wait_for(IncomingCall)
        assert isinstance(event, IncomingCall)
        endpoint.ringing(event.call)
        assert (await client.next()).startswith(b"SIP/2.0 180 Ringing")
        endpoint.answer(event.call, answer_for(event))
        assert (await client.next()).startswith(b"SIP/2.0 200 OK")
        assert (await client.next()).startswith(b"SIP/2.0 200 OK")  # Timer G retransmission
        tag = event.call.local_tag
        transport.sendto(mine(request("ACK", to_tag=tag, branch="z9hG4bKack")), (host, port))
        await recorder.wait_for(AckReceived)
        while not client.queue.empty():
            client.queue.get_nowait()
        endpoint.hangup(event.call)
        bye = await client.next()
        assert bye.startswith(b"BYE sip:" + contact + b" SIP/2.0")
        transport.sendto(response_to_bye(bye), (host, port))
        ended = await recorder.wait_for(CallEnded)
        assert ended == CallEnded(event.call, EndReason.LOCAL_BYE, 200)
        transport.sendto(b"\x00garbage\xff", (host, port))
        transport.sendto(mine(request("OPTIONS", branch="z9hG4bKopt")), (host, port))
        assert (await client.next()).startswith(b"SIP/2.0 200 OK")  # still serving
    finally:
        transport.close()
        await endpoint.close()
    assert core.stats.malformed_dropped == 1


async def test_tcp_call_and_remote_bye() -> None:
    recorder = Recorder()
    core = UserAgentServer(UasConfig(timers=FAST))
    endpoint = SipEndpoint(core, recorder)
    host, port = await endpoint.start_tcp("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(host, port)

    async def read_message() -> bytes:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        return head + await reader.readexactly(length)

    try:
        data = invite(via_transport="TCP")
        for index in range(0, len(data), 50):  # arrives in pieces
            writer.write(data[index : index + 50])
            await writer.drain()
        assert (await read_message()).startswith(b"SIP/2.0 100 Trying")
        event = await recorder.wait_for(IncomingCall)
        assert isinstance(event, IncomingCall)
        endpoint.answer(event.call, answer_for(event))
        ok = await read_message()
        assert b"Contact: <sip:intake@127.0.0.1:5060;transport=tcp>" in ok
        tag = event.call.local_tag
        writer.write(b"\r\n\r\n")  # RFC 5626 ping
        assert await asyncio.wait_for(reader.readexactly(2), 2) == b"\r\n"
        ack = request("ACK", to_tag=tag, branch="z9hG4bKack", via_transport="TCP")
        bye = request("BYE", to_tag=tag, cseq=2, branch="z9hG4bKbye", via_transport="TCP")
        writer.write(ack + bye)
        await writer.drain()
        ended = await recorder.wait_for(CallEnded)
        assert ended == CallEnded(event.call, EndReason.REMOTE_BYE)
        reply = await read_message()
        while not reply.startswith(b"SIP/2.0 200 OK") or b"CSeq: 2 BYE" not in reply:
            reply = await read_message()  # 2xx retransmissions may precede it
    finally:
        writer.close()
        await endpoint.close()


def test_udp_and_tcp_calls_on_uvloop() -> None:
    """``serve`` runs on uvloop when it is installed, whose TCP transport is not an
    ``asyncio.Transport`` subclass: a TCP INVITE once got no answer at all there."""
    pytest.importorskip("uvloop")
    eventloop.run(test_udp_call(), "uvloop")
    eventloop.run(test_tcp_call_and_remote_bye(), "uvloop")
