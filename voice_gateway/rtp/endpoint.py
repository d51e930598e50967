"""RTP endpoint: one UDP socket carrying one call's media in both directions.

How it works. ``datagram_received`` drops and counts whatever is not RTP for this call (RTCP,
too short, wrong version, malformed, unexpected payload type, other sources) and latches the
send address on the first valid packet from the expected host (symmetric RTP: answer where
the media really comes from, which is what gets through NAT). Audio and telephone-event
packets share one sequence space, so both go through the jitter buffer; released audio is
decoded (losses concealed) and handed to ``on_audio`` frame by frame, a released event slot
becomes silence. Events also go straight to the DTMF detector, so digits are not delayed by
the buffer. A watchdog (``loop.call_at``) fires ``on_timeout`` once when no valid packet came
for ``inactivity_timeout`` seconds, after flushing the buffer so nothing received is lost.

The prompt player sends one 20 ms frame per deadline ``start + n * 20 ms`` (``call_at``), so
scheduling delays do not accumulate; after a stall of more than ``MAX_LAG`` it re-anchors
rather than bursting. Every played frame goes to ``on_sent_audio``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from voice_gateway.rtp.dtmf import DtmfDetector, DtmfDigit
from voice_gateway.rtp.g711 import (
    FRAME_DURATION,
    FRAME_SAMPLES,
    PCMU,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    G711Codec,
    split_frames,
)
from voice_gateway.rtp.jitterbuffer import JitterBuffer, JitterFrame, JitterStats
from voice_gateway.rtp.packet import RTP_HEADER_SIZE, RTP_VERSION, RtpPacket, is_rtcp
from voice_gateway.rtp.plc import LossConcealer
from voice_gateway.rtp.ports import PortAllocator, RtpPortsExhausted

logger = logging.getLogger(__name__)

Address = tuple[str, int]
COMFORT_NOISE_PAYLOAD_TYPE = 13  # RFC 3389: carries no audio we need; kept as silence
MAX_LAG = 0.1  # seconds behind schedule before the player re-anchors instead of bursting


@dataclass(frozen=True, slots=True)
class RtpSettings:
    """Media parameters of one call, as negotiated in SDP."""

    codec: G711Codec = PCMU
    dtmf_payload_type: int | None = 101
    inactivity_timeout: float | None = 30.0
    jitter_depth: int = 3


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One frame of 8 kHz 16-bit mono PCM, received or sent.

    ``timestamp`` is the RTP timestamp, ``time`` the loop time when it was delivered or
    sent, ``concealed`` is True when the frame stands in for a lost packet.
    """

    pcm: bytes
    timestamp: int
    time: float
    concealed: bool = False


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    """How a prompt ended: ``completed`` False means interrupted (barge-in or close)."""

    frames_sent: int
    completed: bool


@dataclass(slots=True)
class EndpointStats:
    """Per-endpoint counters; the jitter buffer's own are in ``jitter``."""

    datagrams: int = 0
    rtp_accepted: int = 0
    rtcp: int = 0
    too_short: int = 0
    bad_version: int = 0
    malformed: int = 0
    unexpected_payload_type: int = 0
    foreign_source: int = 0
    dtmf_packets: int = 0
    frames_received: int = 0
    frames_concealed: int = 0
    packets_sent: int = 0
    frames_unsent: int = 0
    send_errors: int = 0
    pacing_resets: int = 0
    gap_frames_skipped: int = 0  # lost slots not concealed: the sender jumped, time did not
    jitter: JitterStats = field(default_factory=JitterStats)


AudioCallback = Callable[[AudioFrame], None]


def _ignore_audio(frame: AudioFrame) -> None:
    pass


def _ignore_dtmf(digit: DtmfDigit) -> None:
    pass


def _ignore() -> None:
    pass


class _Playback:
    def __init__(self, payloads: list[bytes], pcm: list[bytes]) -> None:
        self.payloads = payloads
        self.pcm = pcm
        self.sent = 0
        self.start = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[PlaybackResult] = asyncio.get_running_loop().create_future()


class RtpEndpoint(asyncio.DatagramProtocol):
    """The media side of one call: receive, decode, detect DTMF, play prompts.

    Callbacks run on the event loop, synchronously, and must be quick (hand work to a queue);
    an exception raised by one is logged and does not break the endpoint.

    Typical use::

        endpoint = RtpEndpoint(settings, on_audio=..., on_dtmf=..., on_timeout=...)
        port = await endpoint.bind("0.0.0.0", allocator)   # for the SDP answer
        endpoint.set_remote((sdp_host, sdp_port), expected_host=sip_source_host)
        result = await endpoint.play(prompt_pcm)           # endpoint.stop_playback() to barge in
        endpoint.close()
    """

    def __init__(
        self,
        settings: RtpSettings | None = None,
        *,
        on_audio: AudioCallback = _ignore_audio,
        on_dtmf: Callable[[DtmfDigit], None] = _ignore_dtmf,
        on_timeout: Callable[[], None] = _ignore,
        on_sent_audio: AudioCallback = _ignore_audio,
    ) -> None:
        self.settings = settings or RtpSettings()
        self.on_audio = on_audio
        self.on_dtmf = on_dtmf
        self.on_timeout = on_timeout
        self.on_sent_audio = on_sent_audio
        self.stats = EndpointStats()
        self.jitter = JitterBuffer(depth=self.settings.jitter_depth)
        self.stats.jitter = self.jitter.stats
        self.ssrc = random.getrandbits(32)
        self.local_port: int | None = None

        self._codec = self.settings.codec
        self._accepted_types = {self._codec.payload_type, COMFORT_NOISE_PAYLOAD_TYPE}
        if self.settings.dtmf_payload_type is not None:
            self._accepted_types.add(self.settings.dtmf_payload_type)
        self._dtmf = DtmfDetector()
        self._concealer = LossConcealer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._allocator: PortAllocator | None = None
        self._remote: Address | None = None
        self._expected_host: str | None = None
        self._latched: Address | None = None
        self._closed = False

        self._last_activity = 0.0
        self._inactivity_timeout = self.settings.inactivity_timeout
        self._watchdog: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._rx_timestamp: int | None = None

        self._seq = random.getrandbits(16)
        self._tx_timestamp = random.getrandbits(32)
        self._last_tx_time: float | None = None
        self._playback: _Playback | None = None

    # ---- lifecycle -------------------------------------------------------------------

    async def bind(self, host: str, allocator: PortAllocator | None = None) -> int:
        """Open the socket; with an allocator, on a port of its range, else on any port.

        Returns the local port. Starts the inactivity watchdog.
        """
        if self._transport is not None or self._closed:
            raise RuntimeError("RTP endpoint already bound")
        loop = asyncio.get_running_loop()
        self._loop = loop
        if allocator is None:
            await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        else:
            for _ in range(allocator.free + 1):
                port = allocator.acquire()
                try:
                    await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
                except OSError as exc:
                    logger.debug("RTP port %d unavailable: %s", port, exc)
                    allocator.release(port)
                    continue
                self._allocator = allocator
                break
            else:
                raise RtpPortsExhausted("no bindable RTP port")
        assert self._transport is not None
        self.local_port = int(self._transport.get_extra_info("sockname")[1])
        self._last_activity = loop.time()
        self._arm_watchdog()
        return self.local_port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not a DatagramTransport subclass on 3.11 (_SelectorDatagramTransport), hence cast.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            logger.debug("RTP socket lost: %s", exc)
            self.close()

    def close(self) -> None:
        """Stop playback and the watchdog, deliver what the buffer holds, free the port."""
        if self._closed:
            return
        self._closed = True
        self.stop_playback()
        self._cancel_watchdog()
        self._flush_received()
        if self._transport is not None:
            self._transport.close()
        if self._allocator is not None and self.local_port is not None:
            self._allocator.release(self.local_port)
            self._allocator = None

    @property
    def closed(self) -> bool:
        """Whether ``close`` ran."""
        return self._closed

    # ---- addressing ------------------------------------------------------------------

    def set_remote(self, remote: Address | None, expected_host: str | None = None) -> None:
        """Where to send until latched (from SDP), and whose packets to latch on.

        ``expected_host`` defaults to the SDP host; pass the SIP source host instead when
        the peer may sit behind NAT. None accepts the first valid packet from anywhere.
        Calling this again (re-INVITE) drops the latch.
        """
        self._remote = remote
        if expected_host is None and remote is not None:
            expected_host = remote[0]
        self._expected_host = expected_host
        self._latched = None

    @property
    def remote_address(self) -> Address | None:
        """Where media is sent now: the latched source, else the SDP address."""
        return self._latched or self._remote

    @property
    def latched(self) -> bool:
        """Whether symmetric RTP has latched onto a source."""
        return self._latched is not None

    # ---- receiving -------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        stats = self.stats
        stats.datagrams += 1
        if self._closed:
            return
        if is_rtcp(data):
            stats.rtcp += 1
            return
        if len(data) < RTP_HEADER_SIZE:
            stats.too_short += 1
            logger.debug("dropped %d-byte datagram from %s: too short", len(data), addr)
            return
        if data[0] >> 6 != RTP_VERSION:
            stats.bad_version += 1
            logger.debug("dropped datagram from %s: version %d", addr, data[0] >> 6)
            return
        try:
            packet = RtpPacket.parse(data)
        except ValueError as exc:
            stats.malformed += 1
            logger.debug("dropped datagram from %s: %s", addr, exc)
            return
        if packet.payload_type not in self._accepted_types:
            stats.unexpected_payload_type += 1
            logger.debug("dropped RTP from %s: payload type %d", addr, packet.payload_type)
            return
        source: Address = (str(addr[0]), int(addr[1]))
        if not self._accept_source(source):
            stats.foreign_source += 1
            logger.debug("dropped RTP from %s: not the latched source", source)
            return

        stats.rtp_accepted += 1
        assert self._loop is not None
        now = self._loop.time()
        # A hole is concealed only for as long as packets really stopped arriving: a
        # sequence jump with no pause (a sender splicing streams, a replayed capture) is a
        # discontinuity, not seconds of lost audio.
        conceal_budget = int((now - self._last_activity) / FRAME_DURATION) + self.jitter.depth
        self._last_activity = now
        if packet.payload_type == self.settings.dtmf_payload_type:
            stats.dtmf_packets += 1
            try:
                digit = self._dtmf.feed(packet)
            except ValueError as exc:
                stats.malformed += 1
                logger.debug("dropped telephone-event from %s: %s", source, exc)
                return
            if digit is not None:
                self._call(self.on_dtmf, digit)
        for frame in self.jitter.add(packet):
            if frame.packet is None:
                if conceal_budget <= 0:
                    stats.gap_frames_skipped += 1
                    continue
                conceal_budget -= 1
            self._deliver(frame)

    def error_received(self, exc: Exception) -> None:
        self.stats.send_errors += 1
        logger.debug("RTP socket error: %s", exc)

    def _accept_source(self, source: Address) -> bool:
        if self._latched is not None:
            return source == self._latched
        if self._expected_host is not None and source[0] != self._expected_host:
            return False
        self._latched = source
        logger.debug("RTP latched on %s:%d", *source)
        return True

    def _deliver(self, frame: JitterFrame) -> None:
        packet = frame.packet
        concealed = False
        if packet is None:
            pcm = self._concealer.conceal()
            concealed = True
            self.stats.frames_concealed += 1
        elif packet.payload_type == self._codec.payload_type:
            pcm = self._concealer.good(self._codec.decode(packet.payload))
        else:  # telephone-event or comfort noise: the slot is silence
            pcm = self._concealer.good(self._concealer.silence())
        if not pcm:
            return
        if packet is not None and packet.payload_type == self._codec.payload_type:
            timestamp = packet.timestamp
        elif self._rx_timestamp is not None:
            timestamp = self._rx_timestamp
        else:
            timestamp = packet.timestamp if packet is not None else 0
        self._rx_timestamp = (timestamp + len(pcm) // SAMPLE_WIDTH) & 0xFFFFFFFF
        self.stats.frames_received += 1
        assert self._loop is not None
        self._call(self.on_audio, AudioFrame(pcm, timestamp, self._loop.time(), concealed))

    def _flush_received(self) -> None:
        if self._loop is None:
            return
        for frame in self.jitter.flush():
            self._deliver(frame)

    # ---- inactivity watchdog ---------------------------------------------------------

    def set_inactivity_timeout(self, seconds: float | None) -> None:
        """Change the RTP timeout (None disables it, e.g. while the call is on hold).

        The countdown restarts from now.
        """
        self._inactivity_timeout = seconds
        self._cancel_watchdog()
        if self._loop is not None and not self._closed:
            self._last_activity = self._loop.time()
            self._timed_out = False
            self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        if self._inactivity_timeout is None or self._closed or self._loop is None:
            return
        deadline = self._last_activity + self._inactivity_timeout
        self._watchdog = self._loop.call_at(deadline, self._check_watchdog)

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _check_watchdog(self) -> None:
        self._watchdog = None
        assert self._loop is not None and self._inactivity_timeout is not None
        if self._loop.time() < self._last_activity + self._inactivity_timeout:
            self._arm_watchdog()  # media arrived meanwhile
            return
        self._timed_out = True
        logger.debug("RTP inactivity timeout after %.1f s", self._inactivity_timeout)
        self._flush_received()
        self._call(self.on_timeout)

    @property
    def timed_out(self) -> bool:
        """Whether the inactivity timeout fired."""
        return self._timed_out

    # ---- playing ---------------------------------------------------------------------

    async def play(self, pcm: bytes) -> PlaybackResult:
        """Send 8 kHz 16-bit PCM as 20 ms frames in real time; return when done.

        A new ``play`` or ``stop_playback`` interrupts the current prompt; so does cancelling
        the awaiting task.
        """
        if self._closed or self._loop is None:
            raise RuntimeError("RTP endpoint is not open")
        self.stop_playback()
        frames = list(split_frames(pcm))
        playback = _Playback([self._codec.encode(f) for f in frames], frames)
        self._playback = playback
        loop = self._loop
        now = loop.time()
        if self._last_tx_time is not None:
            # RTP time runs on through silence (RFC 3550 §5.1): skip the idle samples.
            idle = now - self._last_tx_time - FRAME_DURATION
            if idle > 0:
                self._tx_timestamp += round(idle * SAMPLE_RATE)
        playback.start = now
        self._send_next(playback)
        try:
            return await playback.done
        except asyncio.CancelledError:
            if self._playback is playback:
                self.stop_playback()
            raise

    def stop_playback(self) -> None:
        """Interrupt the prompt being played (barge-in); no-op when idle."""
        playback = self._playback
        if playback is None:
            return
        self._finish(playback, completed=False)

    @property
    def playing(self) -> bool:
        """Whether a prompt is being played."""
        return self._playback is not None

    def _finish(self, playback: _Playback, completed: bool) -> None:
        if playback.handle is not None:
            playback.handle.cancel()
            playback.handle = None
        if self._playback is playback:
            self._playback = None
        if not playback.done.done():
            playback.done.set_result(PlaybackResult(playback.sent, completed))

    def _send_next(self, playback: _Playback) -> None:
        playback.handle = None
        assert self._loop is not None
        if playback.sent == len(playback.payloads):
            self._finish(playback, completed=True)
            return
        index = playback.sent
        now = self._loop.time()
        self._send_frame(playback.payloads[index], playback.pcm[index], index == 0, now)
        playback.sent += 1
        deadline = playback.start + playback.sent * FRAME_DURATION
        if now - deadline > MAX_LAG:
            self.stats.pacing_resets += 1
            playback.start = now - (playback.sent - 1) * FRAME_DURATION
            deadline = now + FRAME_DURATION
        playback.handle = self._loop.call_at(deadline, self._send_next, playback)

    def _send_frame(self, payload: bytes, pcm: bytes, marker: bool, now: float) -> None:
        timestamp = self._tx_timestamp & 0xFFFFFFFF
        target = self.remote_address
        if target is not None and self._transport is not None:
            packet = RtpPacket(
                payload_type=self._codec.payload_type,
                sequence_number=self._seq,
                timestamp=timestamp,
                ssrc=self.ssrc,
                payload=payload,
                marker=marker,
            )
            self._transport.sendto(packet.serialize(), target)
            self._seq = (self._seq + 1) & 0xFFFF
            self.stats.packets_sent += 1
        else:
            self.stats.frames_unsent += 1
        self._tx_timestamp = (self._tx_timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self._last_tx_time = now
        self._call(self.on_sent_audio, AudioFrame(pcm, timestamp, now))

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        # A broken consumer must not close the socket (asyncio does on protocol errors).
        try:
            callback(*args)
        except Exception:
            logger.exception("RTP endpoint callback %r failed", callback)
