"""RtpEndpoint against real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import pytest

from tests.rtp.support import CALLS_DEV, SIPP_PCAPS, read_pcap_udp, read_ulaw_wav
from voice_gateway.rtp.dtmf import DtmfDigit
from voice_gateway.rtp.endpoint import AudioFrame, RtpEndpoint, RtpSettings
from voice_gateway.rtp.g711 import PCMA, PCMU
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.rtp.ports import PortAllocator

HOST = "127.0.0.1"
PROMPT = CALLS_DEV / "D01.ulaw.wav"


def prompt_pcm(seconds: float) -> bytes:
    """The first seconds of a real call recording, as 8 kHz 16-bit PCM."""
    if not PROMPT.exists():
        pytest.skip(f"test audio missing: {PROMPT}")
    ulaw = read_ulaw_wav(PROMPT)[: int(8000 * seconds)]
    return PCMU.decode(ulaw)


@dataclass
class Recorder:
    """Collects what an endpoint hands to its callbacks."""

    received: list[AudioFrame] = field(default_factory=list)
    sent: list[AudioFrame] = field(default_factory=list)
    digits: list[DtmfDigit] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    received_at_timeout: list[int] = field(default_factory=list)

    def endpoint(self, settings: RtpSettings | None = None) -> RtpEndpoint:
        return RtpEndpoint(
            settings,
            on_audio=self.received.append,
            on_sent_audio=self.sent.append,
            on_dtmf=self.digits.append,
            on_timeout=self._timed_out,
        )

    def _timed_out(self) -> None:
        self.timeouts.append(asyncio.get_running_loop().time())
        self.received_at_timeout.append(len(self.received))

    @property
    def pcm(self) -> bytes:
        return b"".join(f.pcm for f in self.received)


class RawPeer(asyncio.DatagramProtocol):
    """A bare UDP socket: records what arrives, sends whatever it is told."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, float]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append((data, asyncio.get_running_loop().time()))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (HOST, port))


async def raw_peer(opened: list[RawPeer]) -> RawPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(RawPeer, local_addr=(HOST, 0))
    opened.append(peer)
    return peer


async def settle() -> None:
    """Let queued datagrams arrive."""
    await asyncio.sleep(0.05)


@pytest.fixture
async def endpoints() -> AsyncIterator[list[RtpEndpoint]]:
    opened: list[RtpEndpoint] = []
    yield opened
    for endpoint in opened:
        endpoint.close()


@pytest.fixture
async def peers() -> AsyncIterator[list[RawPeer]]:
    opened: list[RawPeer] = []
    yield opened
    for peer in opened:
        assert peer.transport is not None
        peer.transport.close()


async def test_prompt_between_two_endpoints_with_symmetric_latching(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    caller_rec, gateway_rec = Recorder(), Recorder()
    caller, gateway = caller_rec.endpoint(), gateway_rec.endpoint()
    endpoints += [caller, gateway]
    allocator = PortAllocator(41000, 41099)
    gateway_port = await gateway.bind(HOST, allocator)
    caller_port = await caller.bind(HOST)
    assert 41000 <= gateway_port <= 41099 and gateway_port % 2 == 0
    # The caller's SDP advertises a port it does not send from (as behind NAT).
    nowhere = await raw_peer(peers)
    gateway.set_remote((HOST, nowhere.port))
    caller.set_remote((HOST, gateway_port))

    pcm = prompt_pcm(1.0)
    result = await caller.play(pcm)
    await settle()
    assert result.completed and result.frames_sent == 50
    assert gateway.latched and gateway.remote_address == (HOST, caller_port)

    # Loopback loses nothing: exactly the prompt arrives, at a 20 ms cadence.
    assert gateway_rec.pcm == pcm
    assert not any(f.concealed for f in gateway_rec.received)
    times = [f.time for f in gateway_rec.received]
    spacing = (times[-1] - times[0]) / (len(times) - 1)
    assert 0.018 < spacing < 0.025
    stamps = [f.timestamp for f in gateway_rec.received]
    assert all((b - a) % 2**32 == 160 for a, b in itertools.pairwise(stamps))
    assert [f.pcm for f in caller_rec.sent] == [f.pcm for f in gateway_rec.received]

    # The answer goes where the media came from, not to the SDP port.
    reply = prompt_pcm(0.2)
    assert (await gateway.play(reply)).completed
    await settle()
    assert caller_rec.pcm == reply
    assert nowhere.datagrams == []
    assert gateway.stats.packets_sent == 10 and gateway.stats.jitter.lost == 0


async def test_player_packets_on_the_wire(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    gateway = RtpEndpoint(RtpSettings(codec=PCMA))
    endpoints.append(gateway)
    await gateway.bind(HOST)
    listener = await raw_peer(peers)
    gateway.set_remote((HOST, listener.port))

    await gateway.play(prompt_pcm(0.5))
    await asyncio.sleep(0.1)
    await gateway.play(prompt_pcm(0.1))  # a second talkspurt
    await settle()

    packets = [RtpPacket.parse(data) for data, _ in listener.datagrams]
    assert len(packets) == 30
    assert {p.payload_type for p in packets} == {8}
    assert {p.ssrc for p in packets} == {gateway.ssrc}
    assert {len(p.payload) for p in packets} == {160}
    assert [p.marker for p in packets] == [True] + [False] * 24 + [True] + [False] * 4
    seqs = [p.sequence_number for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert set(steps[:24] + steps[25:]) == {160}
    # RTP time ran on through the 100 ms pause between the prompts.
    assert 160 + 700 <= steps[24] <= 160 + 1200
    arrivals = [t for _, t in listener.datagrams[:25]]
    assert 0.018 < (arrivals[-1] - arrivals[0]) / 24 < 0.025


async def test_barge_in_and_cancellation(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint()
    endpoints.append(gateway)
    await gateway.bind(HOST)
    listener = await raw_peer(peers)
    gateway.set_remote((HOST, listener.port))

    task = asyncio.create_task(gateway.play(prompt_pcm(3.0)))
    await asyncio.sleep(0.2)
    assert gateway.playing
    gateway.stop_playback()
    result = await task
    assert not result.completed
    assert 5 <= result.frames_sent <= 20
    assert not gateway.playing
    assert len(recorder.sent) == result.frames_sent

    task = asyncio.create_task(gateway.play(prompt_pcm(3.0)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not gateway.playing
    sent = gateway.stats.packets_sent
    await asyncio.sleep(0.1)
    assert gateway.stats.packets_sent == sent


async def test_garbage_and_strangers_are_counted_and_dropped(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint()
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    gateway.set_remote((HOST, 9))
    caller, stranger = await raw_peer(peers), await raw_peer(peers)

    good = RtpPacket(0, 500, 8000, 1234, payload=b"\xff" * 160)
    caller.send(b"hello", port)
    caller.send(b"\x40" + good.serialize()[1:], port)  # version 1
    caller.send(b"\x82" + good.serialize()[1:12], port)  # CSRCs missing
    caller.send(RtpPacket(18, 1, 0, 1234, b"\x00" * 20).serialize(), port)  # G.729: not offered
    caller.send(bytes.fromhex("81c90007") + bytes(28), port)  # RTCP RR
    caller.send(good.serialize(), port)  # latches here
    await settle()
    stranger.send(RtpPacket(0, 501, 8160, 1234, b"\xff" * 160).serialize(), port)
    await settle()

    stats = gateway.stats
    assert stats.datagrams == 7
    assert (stats.too_short, stats.bad_version, stats.malformed) == (1, 1, 1)
    assert stats.unexpected_payload_type == 1
    assert stats.rtcp == 1
    assert stats.foreign_source == 1
    assert stats.rtp_accepted == 1
    assert gateway.remote_address == (HOST, caller.port)
    assert len(recorder.received) == 1
    # Still serving after all that.
    caller.send(RtpPacket(0, 501, 8160, 1234, b"\xff" * 160).serialize(), port)
    await settle()
    assert len(recorder.received) == 2


async def test_dtmf_from_a_sipp_capture(endpoints: list[RtpEndpoint], peers: list[RawPeer]) -> None:
    if not (SIPP_PCAPS / "dtmf_2833_5.pcap").exists():
        pytest.skip("sipp captures missing: apt-get install sip-tester")
    recorder = Recorder()
    gateway = recorder.endpoint()
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    gateway.set_remote((HOST, 9), expected_host=None)
    caller = await raw_peer(peers)

    for datagram in read_pcap_udp(SIPP_PCAPS / "dtmf_2833_5.pcap"):
        caller.send(datagram.payload, port)
    await settle()
    assert [d.digit for d in recorder.digits] == ["5"]
    assert gateway.stats.dtmf_packets == 10
    # The event held its place in the sequence: silence, no loss, the two repeats dropped.
    assert gateway.stats.jitter.lost == 0 and gateway.stats.jitter.duplicate == 2
    assert recorder.pcm == bytes(8 * 320)


async def test_inactivity_timeout_keeps_what_arrived(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(inactivity_timeout=0.3, jitter_depth=5))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    caller = await raw_peer(peers)

    ulaw = PCMU.encode(prompt_pcm(0.4))
    for seq in range(20):
        # Packet 15 is lost: 16-19 wait in the buffer for it when the media stops.
        if seq != 15:
            payload = ulaw[seq * 160 : (seq + 1) * 160]
            caller.send(RtpPacket(0, seq, seq * 160, 77, payload).serialize(), port)
        await asyncio.sleep(0.02)
    last_sent = asyncio.get_running_loop().time()
    await settle()
    assert recorder.timeouts == []
    assert len(recorder.received) == 15
    await asyncio.sleep(0.45)

    assert len(recorder.timeouts) == 1
    assert recorder.timeouts[0] - last_sent >= 0.25
    assert gateway.timed_out
    # Everything that arrived was delivered before the callback, the hole concealed.
    assert recorder.received_at_timeout == [20]
    assert [f.concealed for f in recorder.received] == [False] * 15 + [True] + [False] * 4
    assert gateway.stats.frames_concealed == 1
    await asyncio.sleep(0.4)
    assert len(recorder.timeouts) == 1


async def test_silent_caller_times_out_and_timeout_can_be_disabled(
    endpoints: list[RtpEndpoint],
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(inactivity_timeout=0.2))
    endpoints.append(gateway)
    await gateway.bind(HOST)
    await asyncio.sleep(0.35)
    assert len(recorder.timeouts) == 1

    held = Recorder()
    on_hold = held.endpoint(RtpSettings(inactivity_timeout=0.2))
    endpoints.append(on_hold)
    await on_hold.bind(HOST)
    on_hold.set_inactivity_timeout(None)
    await asyncio.sleep(0.35)
    assert held.timeouts == []


async def test_bind_skips_a_busy_port_and_close_releases(endpoints: list[RtpEndpoint]) -> None:
    allocator = PortAllocator(42000, 42005)
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind((HOST, 42000))
    try:
        first = RtpEndpoint()
        endpoints.append(first)
        assert await first.bind(HOST, allocator) == 42002
        assert allocator.free == 2  # the busy port went back to the end of the queue
        first.close()
        first.close()
        assert first.closed
        assert allocator.free == 3
    finally:
        busy.close()


async def test_a_failing_callback_does_not_break_the_endpoint(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    calls: list[int] = []

    def broken(frame: AudioFrame) -> None:
        calls.append(1)
        raise RuntimeError("consumer bug")

    gateway = RtpEndpoint(on_audio=broken)
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    caller = await raw_peer(peers)
    for seq in range(3):
        caller.send(RtpPacket(0, seq, seq * 160, 1, b"\xff" * 160).serialize(), port)
    await settle()
    assert len(calls) == 3
    assert not gateway.closed


async def test_sequence_jump_without_a_pause_is_not_concealed_as_loss(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(inactivity_timeout=None, jitter_depth=3))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    caller = await raw_peer(peers)
    ulaw = PCMU.encode(prompt_pcm(0.4))
    # Ten packets, then the sender jumps 400 sequence numbers ahead 20 ms later (a spliced
    # stream): 8 s of "loss" that never took place in time.
    for n, seq in enumerate([*range(10), *range(410, 420)]):
        caller.send(RtpPacket(0, seq, seq * 160, 77, ulaw[(n % 20) * 160 : (n % 20 + 1) * 160])
                    .serialize(), port)
        await asyncio.sleep(0.02)
    await settle()
    gateway.close()
    assert gateway.stats.frames_concealed <= 10  # elapsed time plus the buffer depth
    assert gateway.stats.gap_frames_skipped >= 390
    assert len(recorder.received) <= 30
