"""RTP endpoint: one UDP socket carrying one call's media in both directions.

How it works. ``datagram_received`` drops and counts whatever is not RTP for this call (RTCP,
too short, wrong version, malformed, unexpected payload type, other sources). Whose packets
count is ``RtpSettings.source`` (symmetric RTP, as Asterisk's ``rtp_symmetric``): ``sdp``
takes the address the SDP names and otherwise latches on the first source that sends (an SBC
or media gateway sending from another address than its SDP or its signalling); ``latch``
takes the first source whatever the SDP says; ``strict`` only the host that sent the INVITE.
Media is sent where it comes from once latched; other sources are then dropped. A new SDP
address (re-INVITE) drops the latch.

Audio and telephone-event packets share one sequence space, so both go through the jitter
buffer; what it releases is placed on the caller's timeline by :class:`Playout` (audio at
its own RTP timestamps, losses concealed, events beside it, never in audio's slots) and
handed to ``on_audio`` frame by frame. Events also go straight to the DTMF detector, so
digits are not delayed by the buffer. A watchdog (``loop.call_at``) fires ``on_timeout``
once when no valid packet came for ``inactivity_timeout`` seconds, after flushing the buffer
so nothing received is lost.

Sending (prompts, and silence between them for the whole call) is :class:`RtpSender`'s:
one clock, drift-free, to where the media comes from.

With SRTP (``set_srtp``, keys from SDES) every datagram is unprotected (authenticated,
replay-checked, decrypted) before it is parsed, and every packet we send is protected;
what fails is counted (``srtp_rejected``) and dropped like garbage RTP. Without it, the
path is as it was: one check of an attribute per packet each way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from voice_gateway.rtp.dtmf import DtmfDetector, DtmfDigit, TelephoneEvent
from voice_gateway.rtp.g711 import PCMU, G711Codec
from voice_gateway.rtp.jitterbuffer import JitterBuffer, JitterFrame, JitterStats
from voice_gateway.rtp.packet import RTP_HEADER_SIZE, RTP_VERSION, RtpPacket, is_rtcp
from voice_gateway.rtp.playout import Playout, PlayoutFrame, PlayoutStats
from voice_gateway.rtp.ports import PortAllocator, RtpPortsExhausted
from voice_gateway.rtp.sender import AudioFrame, PlaybackResult, RtpSender
from voice_gateway.rtp.srtp import SrtpContext, SrtpError

__all__ = [
    "AudioFrame",
    "EndpointStats",
    "PlaybackResult",
    "RtpEndpoint",
    "RtpSettings",
    "RtpSource",
]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
RtpSource = Literal["sdp", "latch", "strict"]
COMFORT_NOISE_PAYLOAD_TYPE = 13  # RFC 3389: carries no audio we need; kept as silence


@dataclass(frozen=True, slots=True)
class RtpSettings:
    """Media parameters of one call, as negotiated in SDP, and whose media to take.

    ``source``: see the module docstring. ``max_key_s``: how long an RFC 4733 key with no
    end packet counts on the caller's timeline.
    """

    codec: G711Codec = PCMU
    dtmf_payload_type: int | None = 101
    inactivity_timeout: float | None = 30.0
    jitter_depth: int = 3
    source: RtpSource = "sdp"
    max_key_s: float = 5.0
    # CN agreed in SDP (RFC 3389): the keep-alive between prompts is comfort noise on it.
    comfort_noise_payload_type: int | None = None


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
    srtp_rejected: int = 0  # failed SRTP authentication or the replay check
    dtmf_packets: int = 0
    frames_received: int = 0
    frames_concealed: int = 0
    packets_sent: int = 0
    frames_unsent: int = 0  # no address to send to yet, or we may only receive (hold)
    send_errors: int = 0
    pacing_resets: int = 0
    gap_frames_skipped: int = 0  # holes not filled: the sender jumped, time did not
    jitter: JitterStats = field(default_factory=JitterStats)
    playout: PlayoutStats = field(default_factory=PlayoutStats)


AudioCallback = Callable[[AudioFrame], None]


def _ignore_audio(frame: AudioFrame) -> None:
    pass


def _ignore_dtmf(digit: DtmfDigit) -> None:
    pass


def _ignore() -> None:
    pass


class RtpEndpoint(asyncio.DatagramProtocol):
    """The media side of one call: receive, decode, detect DTMF, play prompts.

    Callbacks run on the event loop, synchronously, and must be quick (hand work to a queue);
    an exception raised by one is logged and does not break the endpoint.

    Typical use::

        endpoint = RtpEndpoint(settings, on_audio=..., on_dtmf=..., on_timeout=...)
        port = await endpoint.bind("0.0.0.0", allocator)   # for the SDP answer
        endpoint.set_remote((sdp_host, sdp_port), signalling_host=sip_source_host)
        endpoint.keep_alive()                              # answered: silence until a prompt
        result = await endpoint.play(prompt_pcm)           # endpoint.stop_playback() to barge in
        endpoint.set_codec(PCMA, dtmf_payload_type=96)     # a re-INVITE changed the codec
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
        self.local_port: int | None = None

        self._codec = self.settings.codec
        self._decoders: dict[int, G711Codec] = {}
        self._event_types: set[int] = set()
        self._accepted_types: set[int] = set()
        self._use_payload_types(self._codec, self.settings.dtmf_payload_type)
        self._dtmf = DtmfDetector()
        self._playout = Playout(depth=self.settings.jitter_depth, max_key_s=self.settings.max_key_s)
        self.stats.playout = self._playout.stats
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._allocator: PortAllocator | None = None
        self._remote: Address | None = None
        self._signalling_host: str | None = None
        self._latched: Address | None = None
        self._srtp: SrtpContext | None = None
        self._closed = False

        self._last_activity = 0.0
        self._inactivity_timeout = self.settings.inactivity_timeout
        self._watchdog: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._sender = RtpSender(self._codec, self.stats, self._send_datagram, self._sent)
        self._sender.set_comfort_noise(self.settings.comfort_noise_payload_type)

    @property
    def ssrc(self) -> int:
        """Our SSRC."""
        return self._sender.ssrc

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
        """Stop sending and the watchdog, deliver what the buffer holds, free the port."""
        if self._closed:
            return
        self._closed = True
        self._sender.close()
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

    def set_remote(self, remote: Address | None, *, signalling_host: str | None = None) -> None:
        """The address the SDP names (where to send until latched) and the host that sent
        the INVITE (the only one ``strict`` takes; the SDP host if None).

        Calling this again (re-INVITE) drops the latch if either changed.
        """
        if remote != self._remote or signalling_host != self._signalling_host:
            if self._latched is not None:
                logger.debug("RTP latch on %s:%d dropped: new SDP address", *self._latched)
            self._latched = None
        self._remote = remote
        self._signalling_host = signalling_host

    def set_codec(self, codec: G711Codec, dtmf_payload_type: int | None,
                  comfort_noise_payload_type: int | None = None) -> None:
        """Use what an offer/answer (re-INVITE included) agreed: ``codec`` with its payload
        type for sending and receiving, telephone-events on ``dtmf_payload_type``, comfort
        noise (if agreed) on ``comfort_noise_payload_type``.

        Packets of the previous payload types still in flight are decoded as before; the
        prompt playing goes on in the new codec, in the same sequence and timestamp run.
        """
        if (codec, dtmf_payload_type, comfort_noise_payload_type) == (
                self._codec, self.settings.dtmf_payload_type,
                self.settings.comfort_noise_payload_type):
            return
        self.settings = dataclasses.replace(
            self.settings, codec=codec, dtmf_payload_type=dtmf_payload_type,
            comfort_noise_payload_type=comfort_noise_payload_type,
        )
        self._codec = codec
        self._sender.set_codec(codec)
        self._sender.set_comfort_noise(comfort_noise_payload_type)
        self._use_payload_types(codec, dtmf_payload_type)

    def set_srtp(self, context: SrtpContext | None) -> None:
        """Protect what we send and unprotect what comes with ``context`` (SRTP agreed by
        SDES), or neither (``None``: plain RTP). A re-INVITE that changes a key gives a new
        context; replay windows and rollover counters start afresh with it."""
        self._srtp = context

    @property
    def srtp(self) -> SrtpContext | None:
        """The SRTP context in use, if any."""
        return self._srtp

    def _use_payload_types(self, codec: G711Codec, dtmf_payload_type: int | None) -> None:
        self._decoders[codec.payload_type] = codec
        self._event_types.discard(codec.payload_type)
        if dtmf_payload_type is not None:
            self._event_types.add(dtmf_payload_type)
            self._decoders.pop(dtmf_payload_type, None)
        cn = self.settings.comfort_noise_payload_type
        self._accepted_types = {*self._decoders, *self._event_types, COMFORT_NOISE_PAYLOAD_TYPE,
                                *((cn,) if cn is not None else ())}

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
        if self._srtp is not None:
            try:
                data = self._srtp.unprotect(data)
            except SrtpError as exc:
                stats.srtp_rejected += 1
                logger.debug("dropped SRTP from %s: %s", addr, exc)
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
        self._last_activity = now
        if packet.payload_type in self._event_types:
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
            self._place(frame, now)

    def error_received(self, exc: Exception) -> None:
        self.stats.send_errors += 1
        logger.debug("RTP socket error: %s", exc)

    def _accept_source(self, source: Address) -> bool:
        if source == self._latched:
            return True
        mode = self.settings.source
        if mode == "sdp" and source == self._remote:
            # The address the SDP names always wins over a source latched on meanwhile.
            self._latch(source)
            return True
        if self._latched is not None:
            return False
        if mode == "strict":
            host = self._signalling_host or (self._remote[0] if self._remote else None)
            if host is not None and source[0] != host:
                return False
        self._latch(source)
        return True

    def _latch(self, source: Address) -> None:
        self._latched = source
        logger.debug("RTP latched on %s:%d", *source)

    def _place(self, frame: JitterFrame, now: float) -> None:
        packet = frame.packet
        playout = self._playout
        if packet is None:
            playout.lost()
            return
        pt = packet.payload_type
        codec = self._decoders.get(pt)
        if codec is not None:
            placed = playout.audio(packet.ssrc, packet.timestamp, codec.decode(packet.payload), now)
        elif pt in self._event_types:
            try:
                event = TelephoneEvent.parse(packet.payload)
            except ValueError:
                return
            placed = playout.event(packet.ssrc, packet.timestamp, event, now)
        else:  # comfort noise
            placed = playout.comfort_noise(packet.ssrc, packet.timestamp, now)
        if placed:
            self._deliver(placed, now)

    def _deliver(self, frames: list[PlayoutFrame], now: float) -> None:
        stats = self.stats
        stats.gap_frames_skipped = self._playout.stats.skipped_frames
        for frame in frames:
            stats.frames_received += 1
            if frame.concealed:
                stats.frames_concealed += 1
            self._call(self.on_audio, AudioFrame(frame.pcm, frame.timestamp, now, frame.concealed))

    def _flush_received(self) -> None:
        if self._loop is None:
            return
        now = self._loop.time()
        for frame in self.jitter.flush():
            self._place(frame, now)
        self._deliver(self._playout.finish(now), now)

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

    # ---- sending --------------------------------------------------------------------

    async def play(self, pcm: bytes) -> PlaybackResult:
        """Send 8 kHz 16-bit PCM as 20 ms frames in real time; return when done.

        A new ``play`` or ``stop_playback`` interrupts the current prompt; so does cancelling
        the awaiting task. With ``keep_alive`` on, the prompt takes the place of the silence
        from the next frame on.
        """
        if self._closed or self._loop is None:
            raise RuntimeError("RTP endpoint is not open")
        return await self._sender.play(pcm)

    def stop_playback(self) -> None:
        """Interrupt the prompt being played (barge-in); no-op when idle."""
        self._sender.stop_playback()

    @property
    def playing(self) -> bool:
        """Whether a prompt is being played."""
        return self._sender.playing

    def keep_alive(self) -> None:
        """From now until ``close``, send encoded silence whenever no prompt plays."""
        if self._closed or self._loop is None:
            raise RuntimeError("RTP endpoint is not open")
        self._sender.keep_alive()

    def set_sending(self, allowed: bool) -> None:
        """Whether we may send (SDP direction sendrecv/sendonly, not recvonly/inactive, as
        on hold). While we may not, the clock runs on: prompts take their time, RTP time
        and the recording stay on the call's clock, and nothing goes on the wire."""
        self._sender.set_sending(allowed)

    def _send_datagram(self, data: bytes) -> bool:
        target = self._latched or self._remote
        if target is None or self._transport is None:
            return False
        if self._srtp is not None:
            try:
                data = self._srtp.protect(data)
            except SrtpError as exc:
                self.stats.send_errors += 1
                logger.debug("SRTP protect failed: %s", exc)
                return False
        self._transport.sendto(data, target)
        return True

    def _sent(self, frame: AudioFrame) -> None:
        self.on_sent_audio(frame)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        # A broken consumer must not close the socket (asyncio does on protocol errors).
        try:
            callback(*args)
        except Exception:
            logger.exception("RTP endpoint callback %r failed", callback)
