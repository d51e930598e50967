"""RtpEndpoint against real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import pytest

from tests.rtp.support import CALLS_DEV, SIPP_PCAPS, read_pcap_udp, read_ulaw_wav
from voice_gateway.rtp.dtmf import DtmfDigit, TelephoneEvent
from voice_gateway.rtp.endpoint import AudioFrame, RtpEndpoint, RtpSettings
from voice_gateway.rtp.g711 import PCMA, PCMU
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.rtp.ports import PortAllocator
from voice_gateway.rtp.sender import MediaClock

HOST = "127.0.0.1"
PROMPT = CALLS_DEV / "D01.ulaw.wav"


def prompt_pcm(seconds: float) -> bytes:
    """The first seconds of a real call recording, as 8 kHz 16-bit PCM."""
    if not PROMPT.exists():
        pytest.skip(f"test audio missing: {PROMPT}")
    ulaw = read_ulaw_wav(PROMPT)[: int(8000 * seconds)]
    return PCMU.decode(ulaw)


def tone(seconds: float, hz: int = 440) -> bytes:
    """A sine tone as 8 kHz 16-bit PCM: audio that can never pass for silence."""
    count = int(8000 * seconds)
    samples = [round(8000 * math.sin(2 * math.pi * hz * n / 8000)) for n in range(count)]
    return struct.pack(f"<{len(samples)}h", *samples)


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

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def packets(self) -> list[RtpPacket]:
        return [RtpPacket.parse(data) for data, _ in self.datagrams]


async def raw_peer(opened: list[RawPeer], host: str = HOST) -> RawPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(RawPeer, local_addr=(host, 0))
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
    gateway.set_remote((HOST, 9))
    caller = await raw_peer(peers)

    for datagram in read_pcap_udp(SIPP_PCAPS / "dtmf_2833_5.pcap"):
        caller.send(datagram.payload, port)
        await asyncio.sleep(0.04)  # the capture's own pace
    await settle()
    assert [d.digit for d in recorder.digits] == ["5"]
    assert gateway.stats.dtmf_packets == 10
    assert gateway.stats.jitter.lost == 0 and gateway.stats.jitter.duplicate == 2
    # No audio came: the key's 280 ms (duration 2240) are silence on the caller's timeline,
    # not one 20 ms slot per event packet.
    gateway.close()
    assert recorder.pcm == bytes(2 * 2240)


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
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n, seq in enumerate([*range(10), *range(410, 420)]):
        caller.send(RtpPacket(0, seq, seq * 160, 77, ulaw[(n % 20) * 160 : (n % 20 + 1) * 160])
                    .serialize(), port)
        await asyncio.sleep(0.02)
    await settle()
    gateway.close()
    # The timeline may grow by the time that really passed plus the buffer depth, however
    # slowly a loaded machine ran this loop (0.4 s when idle; more under CI's load).
    elapsed_frames = math.ceil((loop.time() - started) / 0.02)
    assert elapsed_frames < 200  # the test means something only well short of the 8 s jump
    assert gateway.stats.frames_concealed <= elapsed_frames - 10 + 3
    assert gateway.stats.gap_frames_skipped >= 400 - elapsed_frames - 3
    assert len(recorder.received) <= elapsed_frames + 3


# ---- whose media: rtp_source (issue #14, item 1) -------------------------------------------

OTHER_HOST = "127.0.0.2"  # loopback too: a media gateway beside the SBC that signalled


def rtp(seq: int, ssrc: int = 99, payload_type: int = 0, payload: bytes = b"\xff" * 160,
        timestamp: int | None = None) -> bytes:
    ts = seq * 160 if timestamp is None else timestamp
    return RtpPacket(payload_type, seq, ts, ssrc, payload).serialize()


async def test_media_from_the_sdp_address_is_taken_whoever_signalled(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint()  # rtp_source "sdp", the default
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    media = await raw_peer(peers, OTHER_HOST)
    # The INVITE came from 127.0.0.1; its SDP names the media gateway at 127.0.0.2.
    gateway.set_remote(media.address, signalling_host=HOST)
    for seq in range(5):
        media.send(rtp(seq), port)
    await settle()
    assert gateway.stats.rtp_accepted == 5 and gateway.stats.foreign_source == 0
    assert len(recorder.received) == 5
    assert gateway.remote_address == media.address


async def test_sdp_mode_latches_on_another_source_until_the_sdp_address_sends(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(source="sdp"))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    sdp_peer, relay, stranger = (await raw_peer(peers), await raw_peer(peers, OTHER_HOST),
                                 await raw_peer(peers, OTHER_HOST))
    gateway.set_remote(sdp_peer.address, signalling_host=HOST)
    relay.send(rtp(0), port)  # behind NAT: from elsewhere than the SDP says
    await settle()
    stranger.send(rtp(1, ssrc=7), port)
    await settle()
    assert gateway.remote_address == relay.address  # symmetric RTP: answer where it came from
    assert gateway.stats.rtp_accepted == 1 and gateway.stats.foreign_source == 1
    # The address the SDP names always wins, and is kept from then on.
    sdp_peer.send(rtp(1), port)
    await settle()
    relay.send(rtp(2), port)
    await settle()
    assert gateway.remote_address == sdp_peer.address
    assert gateway.stats.rtp_accepted == 2 and gateway.stats.foreign_source == 2


async def test_latch_mode_takes_the_first_source_whatever_the_sdp_says(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(source="latch"))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    sdp_peer, first = await raw_peer(peers), await raw_peer(peers, OTHER_HOST)
    gateway.set_remote(sdp_peer.address, signalling_host=HOST)
    first.send(rtp(0), port)
    await settle()
    sdp_peer.send(rtp(1), port)
    await settle()
    assert gateway.remote_address == first.address
    assert gateway.stats.rtp_accepted == 1 and gateway.stats.foreign_source == 1


async def test_strict_mode_takes_only_the_signalling_host(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(source="strict"))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    media, caller = await raw_peer(peers, OTHER_HOST), await raw_peer(peers)
    gateway.set_remote(media.address, signalling_host=HOST)
    media.send(rtp(0), port)
    await settle()
    assert gateway.stats.rtp_accepted == 0 and gateway.stats.foreign_source == 1
    caller.send(rtp(1), port)  # any port of the host that sent the INVITE
    await settle()
    assert gateway.stats.rtp_accepted == 1 and gateway.remote_address == caller.address


async def test_a_reinvite_that_moves_the_media_relatches(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(source="sdp"))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    old, new, relay = (await raw_peer(peers), await raw_peer(peers, OTHER_HOST),
                       await raw_peer(peers, OTHER_HOST))
    gateway.set_remote(old.address, signalling_host=HOST)
    relay.send(rtp(0), port)
    await settle()
    # A re-INVITE with the same address (a session refresh) keeps the latch ...
    gateway.set_remote(old.address, signalling_host=HOST)
    new.send(rtp(1), port)
    await settle()
    assert gateway.remote_address == relay.address and gateway.stats.foreign_source == 1
    # ... one that moves the media drops it: the next source is latched.
    gateway.set_remote(new.address, signalling_host=HOST)
    assert gateway.remote_address == new.address
    new.send(rtp(2), port)
    await settle()
    relay.send(rtp(3), port)
    await settle()
    assert gateway.remote_address == new.address
    assert gateway.stats.rtp_accepted == 2 and gateway.stats.foreign_source == 2


# ---- DTMF beside the audio (item 2) ----------------------------------------------------------


async def test_keys_pressed_while_audio_flows_do_not_chop_the_audio(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(dtmf_payload_type=101))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    gateway.set_remote((HOST, 9))
    caller = await raw_peer(peers)
    ulaw = PCMU.encode(prompt_pcm(0.6))
    seq = 0
    for k in range(30):
        if 5 <= k < 20:  # key 8 down for 300 ms, sent between the audio packets
            event = TelephoneEvent(8, end=k == 19, duration=(k - 4) * 160)
            for _ in range(3 if event.end else 1):
                caller.send(rtp(seq, payload_type=101, timestamp=5 * 160,
                                payload=event.serialize()), port)
            seq += 1
        caller.send(rtp(seq, timestamp=k * 160, payload=ulaw[k * 160 : (k + 1) * 160]), port)
        seq += 1
        await asyncio.sleep(0.02)
    await settle()
    gateway.close()
    assert [d.digit for d in recorder.digits] == ["8"]
    assert recorder.pcm == PCMU.decode(ulaw)  # every frame of speech, nothing in between
    stamps = [f.timestamp for f in recorder.received]
    assert stamps == [k * 160 for k in range(30)]


async def test_a_held_key_with_no_end_packet_counts_for_max_key_s(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(max_key_s=0.1, inactivity_timeout=None))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    caller = await raw_peer(peers)
    ulaw = PCMU.encode(prompt_pcm(0.1))
    for k in range(5):
        caller.send(rtp(k, payload=ulaw[k * 160 : (k + 1) * 160]), port)
        await asyncio.sleep(0.02)
    for k in range(5, 20):  # 300 ms of a key with audio muted, and no end packet
        event = TelephoneEvent(0, duration=(k - 4) * 160)
        caller.send(rtp(k, payload_type=101, timestamp=5 * 160, payload=event.serialize()), port)
        await asyncio.sleep(0.02)
    await settle()
    gateway.close()
    assert [d.digit for d in recorder.digits] == ["0"]
    assert recorder.pcm == PCMU.decode(ulaw) + bytes(2 * 800)  # the key counts 100 ms


# ---- media kept alive (item 5) ---------------------------------------------------------------


async def test_silence_keeps_the_stream_alive_and_a_prompt_continues_it(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(codec=PCMA))
    endpoints.append(gateway)
    await gateway.bind(HOST)
    listener = await raw_peer(peers)
    gateway.set_remote(listener.address)
    gateway.keep_alive()
    await asyncio.sleep(0.3)
    before = len(listener.datagrams)
    assert before >= 5  # ~50 packets a second with no prompt playing
    prompt = tone(0.2)
    result = await gateway.play(prompt)
    await asyncio.sleep(0.2)
    gateway.close()
    await settle()
    assert result.completed and result.frames_sent == 10

    packets = listener.packets()
    assert {p.payload_type for p in packets} == {8} and {p.ssrc for p in packets} == {gateway.ssrc}
    assert all((b.sequence_number - a.sequence_number) % 65536 == 1
               for a, b in itertools.pairwise(packets))
    # 160 samples a packet; a stall of the loop (a loaded machine) skips whole frames.
    steps = {(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)}
    assert steps == {160} or (gateway.stats.pacing_resets and all(s % 160 == 0 for s in steps))
    assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
    silence = PCMA.encode(bytes(320))
    payloads = [p.payload for p in packets]
    first = next(i for i, p in enumerate(payloads) if p != silence)
    assert first >= before
    assert b"".join(payloads[first : first + 10]) == PCMA.encode(prompt)
    assert set(payloads[:first]) == set(payloads[first + 10 :]) == {silence}
    # The system's side of the recording: the prompt's frames, each with the time it was
    # due (keep-alive silence is not reported: the recorder pads between prompts itself).
    sent = [f.pcm for f in recorder.sent]
    assert b"".join(sent) == prompt
    # Each frame carries the time it was due: 20 ms apart, as RTP time says.
    assert all(
        round((b.time - a.time) * 8000) == (b.timestamp - a.timestamp) % 2**32
        for a, b in itertools.pairwise(recorder.sent)
    )


async def test_nothing_goes_on_the_wire_while_we_may_only_receive(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint()
    endpoints.append(gateway)
    await gateway.bind(HOST)
    listener = await raw_peer(peers)
    gateway.set_remote(listener.address)
    gateway.keep_alive()
    await asyncio.sleep(0.1)
    gateway.set_sending(False)  # put on hold: our side of the stream is recvonly
    await settle()
    held_at = len(listener.datagrams)
    await asyncio.sleep(0.2)
    assert len(listener.datagrams) == held_at
    gateway.set_sending(True)
    await asyncio.sleep(0.1)
    packets = listener.packets()
    assert len(packets) > held_at
    # RTP time ran on through the hold.
    assert (packets[held_at].timestamp - packets[held_at - 1].timestamp) % 2**32 > 160 * 5


# ---- codec changes (item 6) ------------------------------------------------------------------


async def test_a_codec_change_applies_to_both_directions(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(codec=PCMU, dtmf_payload_type=101))
    endpoints.append(gateway)
    port = await gateway.bind(HOST)
    caller = await raw_peer(peers)
    gateway.set_remote(caller.address)
    gateway.keep_alive()
    speech = tone(0.1)
    caller.send(rtp(0, payload=PCMU.encode(speech[:320])), port)
    await asyncio.sleep(0.1)
    # A re-INVITE moves the call to PCMA, with telephone-event on 96.
    gateway.set_codec(PCMA, dtmf_payload_type=96)
    await asyncio.sleep(0.1)
    caller.send(rtp(1, payload_type=8, payload=PCMA.encode(speech[320:640])), port)
    caller.send(rtp(2, payload_type=96, payload=TelephoneEvent(7, duration=160).serialize()),
                port)
    caller.send(rtp(3, payload_type=8, payload=PCMA.encode(speech[640:960])), port)
    await settle()
    gateway.close()
    assert [d.digit for d in recorder.digits] == ["7"]
    assert gateway.stats.unexpected_payload_type == 0
    assert recorder.pcm[:320] == PCMU.decode(PCMU.encode(speech[:320]))
    assert recorder.pcm[320:640] == PCMA.decode(PCMA.encode(speech[320:640]))
    packets = caller.packets()
    types = [p.payload_type for p in packets]
    switched = types.index(8)
    assert set(types[:switched]) == {0} and set(types[switched:]) == {8}
    assert all((b.sequence_number - a.sequence_number) % 65536 == 1
               for a, b in itertools.pairwise(packets))


async def test_every_call_sends_on_one_shared_clock(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    # One 20 ms timer for every sender on the loop: each call still gets a gapless stream.
    clock = MediaClock.of(asyncio.get_running_loop())
    listeners = []
    gateways = []
    for _ in range(3):
        gateway = Recorder().endpoint()
        endpoints.append(gateway)
        await gateway.bind(HOST)
        listener = await raw_peer(peers)
        gateway.set_remote(listener.address)
        gateway.keep_alive()
        gateways.append(gateway)
        listeners.append(listener)
        await asyncio.sleep(0.03)
    assert len(clock) == 3
    result = await gateways[1].play(tone(0.1))
    await asyncio.sleep(0.1)
    for gateway in gateways:
        gateway.close()
    await settle()
    assert len(clock) == 0 and clock.idle()
    assert result.completed and result.frames_sent == 5
    for gateway, listener in zip(gateways, listeners, strict=True):
        packets = listener.packets()
        assert len(packets) >= 8 and {p.ssrc for p in packets} == {gateway.ssrc}
        assert all((b.sequence_number - a.sequence_number) % 65536 == 1
                   for a, b in itertools.pairwise(packets))
        steps = {(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)}
        assert steps == {160} or (gateway.stats.pacing_resets and all(s % 160 == 0 for s in steps))


async def test_with_comfort_noise_agreed_silence_goes_as_a_cn_packet_every_200_ms(
    endpoints: list[RtpEndpoint], peers: list[RawPeer]
) -> None:
    # RFC 3389: when the peer offered CN, the keep-alive between prompts is one comfort
    # noise packet (payload type 13, a noise level) every 10 frames, not 50 frames a second.
    recorder = Recorder()
    gateway = recorder.endpoint(RtpSettings(codec=PCMU, comfort_noise_payload_type=13))
    endpoints.append(gateway)
    await gateway.bind(HOST)
    listener = await raw_peer(peers)
    gateway.set_remote(listener.address)
    gateway.keep_alive()
    await asyncio.sleep(0.5)
    prompt = tone(0.1)
    assert (await gateway.play(prompt)).completed
    await asyncio.sleep(0.3)
    gateway.close()
    await settle()

    packets = listener.packets()
    types = [p.payload_type for p in packets]
    first = types.index(0)
    assert types[first : first + 5] == [0] * 5 and set(types) == {0, 13}
    cn = [p for p in packets if p.payload_type == 13]
    assert 3 <= first <= 6  # 0.5 s of silence: a CN packet at once, then every 200 ms
    assert 2 <= len(cn) - first <= 3  # and again after the prompt
    assert all(p.payload == bytes([127]) for p in cn)  # -127 dBov: digital silence
    assert all((b.sequence_number - a.sequence_number) % 65536 == 1
               for a, b in itertools.pairwise(packets))
    # RTP time runs on at 160 samples a frame whether a packet went or not.
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert all(s % 160 == 0 for s in steps)
    assert all(s == 1600 for s in steps[: first - 1]) or gateway.stats.pacing_resets
    # The prompt after silence starts a talkspurt; so does the first CN packet.
    assert packets[first].marker and packets[0].marker
    assert not any(p.marker for p in packets[first + 1 :])
    assert b"".join(p.payload for p in packets[first : first + 5]) == PCMU.encode(prompt)
