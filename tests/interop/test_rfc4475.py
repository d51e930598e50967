"""RFC 4475's 49 torture messages, bit-exact (rfc4475/README.md says where the files come
from), sent to the running gateway over UDP and over TCP.

Each must get the answer the RFC expects or allows of a user agent server that is neither
a proxy nor a registrar, or nothing where the RFC allows silence (a stray response; a
stream whose Content-Length promises more bytes), and an OPTIONS sent right after it must
still be answered. Each message meets a fresh SIP gateway: the RFC reuses branch values
across messages (cparam01 and cparam02), which would make one a retransmission of the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from asr.engines.base import EngineSpec
from config import Settings
from tests.interop.peers import header, loopback_address, status_of
from tests.sipp.harness import sip_settings
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.services import Services, open_services

MESSAGES = Path(__file__).resolve().parent / "rfc4475"
WAIT_S = 5.0

SILENCE = None
CALL = frozenset({100, 180, 183})  # a call is set up: 100 Trying, then ringing
Allowed = frozenset[int | None]


def one_of(*answers: int | None) -> Allowed:
    return frozenset(answers)


# RFC 4475 section, then what a UAS may answer. A UA that is no registrar answers REGISTER
# with 405 (RFC 3261 §8.2.1), whatever the RFC says a registrar should do.
EXPECTED: dict[str, Allowed] = {
    # 3.1.1 Valid messages
    "wsinv": one_of(481),  # well-formed, but its To tag names no dialog of ours (§12.2.2)
    "intmeth": one_of(501, 405),  # unknown method
    "esc01": CALL,
    "escnull": one_of(405),
    "esc02": one_of(501, 405),  # RE%47IST%45R is not REGISTER
    "lwsdisp": one_of(200),
    "longreq": CALL,
    "dblreq": one_of(405),  # the datagram's trailing INVITE is ignored (UDP)
    "semiuri": one_of(200),
    "transports": one_of(200),
    "mpart01": one_of(405, 415, 501),  # MESSAGE: not ours
    "unreason": one_of(SILENCE),  # responses to no request of ours are dropped
    "noreason": one_of(SILENCE),
    # 3.1.2 Invalid messages
    "badinv01": one_of(400),
    "clerr": one_of(400),  # over a stream: silence, waiting for 9999 bytes (see below)
    "scalar02": one_of(400),
    "scalarlg": one_of(SILENCE),
    "quotbal": one_of(400),
    "ltgtruri": one_of(400),
    "lwsruri": one_of(400),
    "lwsstart": one_of(400),
    "trws": one_of(400),
    "ncl": one_of(400),  # a negative Content-Length
    "escruri": one_of(400) | CALL,  # "reject with 400", or ignore the escaped headers
    "baddate": one_of(400) | CALL,  # a non-GMT Date: reject, or accept as a repair
    "regbadct": one_of(400, 405),
    "badaspec": one_of(400, 200),  # SP inside <>: reject, or be liberal
    "baddn": one_of(400),
    "badvers": one_of(505),
    "mismatch01": one_of(400),
    "mismatch02": one_of(400),  # 501 would be wrong: the CSeq method is INVITE
    "bigcode": one_of(SILENCE),
    "badbranch": one_of(400, 200),  # a bare magic cookie: reject, or RFC 2543 matching
    # 3.3 Application-layer semantics
    "insuf": one_of(400),
    "unkscm": one_of(416),
    "novelsc": one_of(416, 404),
    "unksm2": one_of(400, 405),
    "bext01": one_of(420),
    "invut": one_of(415),
    "regaut01": one_of(401, 405),
    "multi01": one_of(400),
    "mcl01": one_of(400),
    "bcast": one_of(SILENCE),
    "zeromf": one_of(200),  # Max-Forwards 0 stops proxies; an endpoint processes it
    "cparam01": one_of(405),
    "cparam02": one_of(405),
    "regescrt": one_of(405),
    "sdp01": one_of(406),
    # 3.4 Backward compatibility
    "inv2543": CALL,  # RFC 2543: no branch, no Content-Length
}
OVER_TCP: dict[str, Allowed] = {
    "clerr": one_of(400, SILENCE),  # §3.1.2.2: a stream waits for the promised bytes
    "dblreq": one_of(405),  # then the INVITE, a message of its own on a stream
}


def test_every_message_of_the_rfc_is_listed() -> None:
    assert sorted(p.stem for p in MESSAGES.glob("*.dat")) == sorted(EXPECTED)
    assert len(EXPECTED) == 49


def answer(statuses: list[int]) -> int | None:
    """The final status if one came, else the first provisional one, else None."""
    finals = [s for s in statuses if s >= 200]
    return finals[0] if finals else (statuses[0] if statuses else None)


def probe(host: str, port: int, transport: str) -> tuple[bytes, str]:
    """An OPTIONS from ``host``:5060 and its Call-ID."""
    call_id = f"probe-{uuid.uuid4().hex}"
    text = (
        f"OPTIONS sip:probe@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:5060;branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
        "To: <sip:probe@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    return text.encode(), call_id


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)


Inbox = tuple[asyncio.Queue[bytes], asyncio.DatagramTransport]


@contextlib.asynccontextmanager
async def udp_peer(host: str) -> AsyncIterator[Inbox]:
    """Sockets on ``host``:5060 (it sends, and a Via without a port is answered there,
    RFC 3261 §18.2.2) and ``host``:5050 (quotbal's Via port), feeding one queue."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    main, _ = await loop.create_datagram_endpoint(lambda: _Inbox(queue), local_addr=(host, 5060))
    other, _ = await loop.create_datagram_endpoint(lambda: _Inbox(queue), local_addr=(host, 5050))
    try:
        yield queue, main
    finally:
        main.close()
        other.close()


async def over_udp(data: bytes, host: str, port: int) -> tuple[list[int], bool]:
    """Statuses answered to ``data``, and whether the OPTIONS after it was answered."""
    ping, ping_id = probe(host, port, "UDP")
    statuses: list[int] = []
    async with udp_peer(host) as (queue, sock):
        sock.sendto(data, ("127.0.0.1", port))
        sock.sendto(ping, ("127.0.0.1", port))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT_S):
                while True:
                    message = await queue.get()
                    if header(message, "call-id") == ping_id:
                        return statuses, True
                    if (status := status_of(message)) is not None:
                        statuses.append(status)
    return statuses, False


def split_stream(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole messages off the front of a TCP stream (the gateway's own, well framed)."""
    out: list[bytes] = []
    while b"\r\n\r\n" in buffer:
        head, rest = buffer.split(b"\r\n\r\n", 1)
        length = int(header(head + b"\r\n\r\n", "content-length") or 0)
        if len(rest) < length:
            break
        out.append(head + b"\r\n\r\n" + rest[:length])
        buffer = rest[length:]
    return out, buffer


async def over_tcp(data: bytes, host: str, port: int) -> tuple[list[int], bool]:
    """As :func:`over_udp`; the OPTIONS follows on the same connection, or, when the
    gateway closed it or is still waiting for promised bytes, on a new one."""
    statuses: list[int] = []
    for first in (True, False):
        ping, ping_id = probe(host, port, "TCP")
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))
        try:
            writer.write((data if first else b"") + ping)
            buffer = b""
            with contextlib.suppress(TimeoutError, ConnectionError):
                async with asyncio.timeout(3.0 if first else WAIT_S):
                    while chunk := await reader.read(65536):
                        messages, buffer = split_stream(buffer + chunk)
                        for message in messages:
                            if header(message, "call-id") == ping_id:
                                return statuses, True
                            if (status := status_of(message)) is not None:
                                statuses.append(status)
        finally:
            writer.close()
    return statuses, False


@contextlib.asynccontextmanager
async def gateway(services: Services) -> AsyncIterator[int]:
    """A fresh SIP gateway on a port of its own; yields the port. Calls only ring (no
    answer within the test): nothing but the RFC's message and our OPTIONS is in flight."""
    settings = sip_settings(services.settings, answer_delay_ms=60_000)
    sip = SipGateway(dataclasses.replace(services, settings=settings))
    await sip.start()
    try:
        yield settings.sip.port
    finally:
        await sip.close()


async def torture(settings: Settings, transport: str) -> dict[str, str]:
    """Each message against a fresh gateway: what differs from ``EXPECTED``."""
    host = loopback_address((5060, 5050))
    wrong: dict[str, str] = {}
    async with open_services(settings, spec=EngineSpec("fake"), workers=1) as services:
        for name, allowed in sorted(EXPECTED.items()):
            if transport == "tcp":
                allowed = OVER_TCP.get(name, allowed)
            data = (MESSAGES / f"{name}.dat").read_bytes()
            async with gateway(services) as port:
                send = over_udp if transport == "udp" else over_tcp
                statuses, probed = await send(data, host, port)
            if answer(statuses) not in allowed or not probed:
                wrong[name] = f"got {statuses or 'silence'}, allowed {sorted(allowed, key=str)}" + (
                    "" if probed else "; the OPTIONS after it went unanswered"
                )
    return wrong


async def test_torture_messages_over_udp(settings: Settings) -> None:
    assert await torture(settings, "udp") == {}


async def test_torture_messages_over_tcp(settings: Settings) -> None:
    assert await torture(settings, "tcp") == {}
