"""SRTP on the RTP endpoint, against a peer that protects and unprotects with libsrtp
itself (pylibsrtp), over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import cast

import pylibsrtp
import pytest

from voice_gateway.rtp.endpoint import AudioFrame, RtpEndpoint
from voice_gateway.rtp.g711 import PCMU
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.rtp.srtp import SrtpContext, SrtpError

HOST = "127.0.0.1"
SUITE = "AES_CM_128_HMAC_SHA1_80"
GATEWAY_KEY = bytes(range(30))
PEER_KEY = bytes(range(40, 70))


def tone(seconds: float, hz: int = 440) -> bytes:
    count = int(8000 * seconds)
    samples = [round(8000 * math.sin(2 * math.pi * hz * n / 8000)) for n in range(count)]
    return struct.pack(f"<{len(samples)}h", *samples)


class SrtpPeer(asyncio.DatagramProtocol):
    """The far end: sends SRTP with its key, takes ours apart with the gateway's."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
        self.tx = pylibsrtp.Session(pylibsrtp.Policy(
            key=PEER_KEY, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        self.rx = pylibsrtp.Session(pylibsrtp.Policy(
            key=GATEWAY_KEY, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append(data)

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (HOST, port))

    def rtp(self, seq: int, pcm: bytes) -> bytes:
        return RtpPacket(0, seq, seq * 160, 4321, PCMU.encode(pcm)).serialize()

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


async def opened() -> tuple[RtpEndpoint, list[AudioFrame], SrtpPeer, int]:
    frames: list[AudioFrame] = []
    gateway = RtpEndpoint(on_audio=frames.append)
    gateway.set_srtp(SrtpContext(SUITE, local_key=GATEWAY_KEY, remote_key=PEER_KEY))
    port = await gateway.bind(HOST)
    _, peer = await asyncio.get_running_loop().create_datagram_endpoint(
        SrtpPeer, local_addr=(HOST, 0))
    gateway.set_remote(peer.address)
    return gateway, frames, peer, port


async def settle() -> None:
    await asyncio.sleep(0.05)


async def test_srtp_round_trip_with_a_libsrtp_peer() -> None:
    gateway, frames, peer, port = await opened()
    try:
        audio = tone(0.2)
        chunks = [audio[i : i + 320] for i in range(0, len(audio), 320)]
        for seq, pcm in enumerate(chunks):
            protected = peer.tx.protect(peer.rtp(seq, pcm))
            assert PCMU.encode(pcm) not in protected  # encrypted on the wire
            peer.send(protected, port)
        await settle()
        gateway.close()  # delivers what the jitter buffer holds
        assert gateway.stats.rtp_accepted == len(chunks) and gateway.stats.srtp_rejected == 0
        heard = b"".join(f.pcm for f in frames if not f.concealed)
        assert heard == PCMU.decode(PCMU.encode(audio))
    finally:
        gateway.close()
        assert peer.transport is not None
        peer.transport.close()


async def test_what_we_send_is_srtp_the_peer_can_authenticate() -> None:
    gateway, _, peer, _ = await opened()
    try:
        prompt = tone(0.1, hz=600)
        result = await gateway.play(prompt)
        assert result.completed
        await settle()
        assert len(peer.datagrams) == 5
        plain = [RtpPacket.parse(peer.rx.unprotect(d)) for d in peer.datagrams]
        assert b"".join(PCMU.decode(p.payload) for p in plain) == PCMU.decode(
            PCMU.encode(prompt))
        assert all(len(d) == len(p.serialize()) + 10 for d, p in zip(peer.datagrams, plain,
                                                                      strict=True))  # fmt: skip
    finally:
        gateway.close()
        assert peer.transport is not None
        peer.transport.close()


async def test_garbage_forged_and_replayed_srtp_is_counted_and_dropped() -> None:
    gateway, frames, peer, port = await opened()
    try:
        pcm = tone(0.02)
        good = peer.tx.protect(peer.rtp(0, pcm))
        forged = bytearray(peer.tx.protect(peer.rtp(1, pcm)))
        forged[20] ^= 0x01  # one bit of the payload: the tag no longer matches
        other = pylibsrtp.Session(pylibsrtp.Policy(
            key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        for data in (peer.rtp(2, pcm),  # plain RTP
                     bytes(forged),
                     other.protect(peer.rtp(3, pcm)),  # someone else's key
                     good, good):  # the second time, a replay  # fmt: skip
            peer.send(data, port)
        peer.send(b"\x80" + bytes(11), port)  # a header with nothing to authenticate
        await settle()
        stats = gateway.stats
        assert stats.rtp_accepted == 1 and stats.srtp_rejected == 5
        # Still serving after all that.
        peer.send(peer.tx.protect(peer.rtp(4, pcm)), port)
        await settle()
        assert gateway.stats.rtp_accepted == 2
    finally:
        gateway.close()
        assert peer.transport is not None
        peer.transport.close()
    assert len([f for f in frames if not f.concealed]) == 2


def test_context_refuses_an_unknown_suite_and_hides_its_keys() -> None:
    with pytest.raises(ValueError):
        SrtpContext("F8_128_HMAC_SHA1_80", GATEWAY_KEY, PEER_KEY)
    context = SrtpContext(SUITE, GATEWAY_KEY, PEER_KEY)
    assert repr(GATEWAY_KEY) not in repr(context) and repr(PEER_KEY) not in repr(context)
    assert context.matches(SUITE, GATEWAY_KEY, PEER_KEY)
    assert not context.matches(SUITE, GATEWAY_KEY, bytes(30))
    with pytest.raises(SrtpError):
        context.unprotect(b"\x80\x00" + bytes(30))
