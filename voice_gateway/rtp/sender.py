"""RTP sender: the sending half of a call's media, on one clock shared by every call.

How it works. One ``MediaClock`` per event loop ticks every 20 ms on deadlines
``start + n * 20 ms`` (``call_at``, so scheduling delays do not accumulate) and sends the
frame due from each sender that has one: 300 calls cost one timer, not 300, which matters
once every call sends for its whole length. After a stall of more than ``MAX_LAG`` it skips
the frames that could not go out, in RTP time too (the peer's playout and our recording stay
on the wall clock), rather than bursting. A sender joins the clock when it has something to
send and leaves it when it has not; its first frame goes at the next tick (within 20 ms),
or at once when the clock was idle.

A prompt's frames go out while one plays. After ``keep_alive()`` encoded silence fills the
time between prompts (SBCs hang up on a call with no media), or, when the peer offered
CN, a comfort noise packet (RFC 3389) every ``CN_EVERY`` frames, and the sender stays on the
clock: sequence numbers and timestamps run on through prompts and silence alike, and a
prompt takes the place of the silence from the next tick on. Without it the sender leaves
the clock after a prompt and RTP time skips the idle samples when the next one starts
(RFC 3550 §5.1). While we may not send (held: our side is recvonly) the clock runs on and
nothing goes on the wire.

Every prompt frame goes to ``on_sent_audio`` with the time it was due (keep-alive silence
does not: a recorder pads the time between prompts itself), so the system's side of the
recording keeps to the call's clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from voice_gateway.rtp.g711 import (
    FRAME_DURATION,
    FRAME_SAMPLES,
    PCM_FRAME_BYTES,
    SAMPLE_RATE,
    G711Codec,
    split_frames,
)
from voice_gateway.rtp.packet import rtp_header

logger = logging.getLogger(__name__)

MAX_LAG = 0.1  # seconds behind schedule before the sender skips instead of bursting
CN_EVERY = 10  # frames between comfort noise packets in a silence (RFC 3389): 200 ms
CN_SILENCE = bytes([127])  # a CN payload: noise level -127 dBov, i.e. digital silence
SILENCE = bytes(PCM_FRAME_BYTES)
_MASK = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One frame of 8 kHz 16-bit mono PCM, received or sent.

    ``timestamp`` is the RTP timestamp, ``time`` the loop time when it was delivered or
    when it was due to be sent, ``concealed`` is True when the frame stands in for a lost
    packet.
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


class SendCounters(Protocol):
    """Where the sender counts (the endpoint's stats)."""

    packets_sent: int
    frames_unsent: int
    pacing_resets: int


class _Playback:
    def __init__(self, pcm: list[bytes]) -> None:
        self.pcm = pcm
        self.sent = 0
        self.done: asyncio.Future[PlaybackResult] = asyncio.get_running_loop().create_future()


class MediaClock:
    """One 20 ms timer for every sender on an event loop (see the module docstring)."""

    _clocks: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock]] = (
        weakref.WeakKeyDictionary())

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> MediaClock:
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._senders: dict[RtpSender, None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._ticking = False
        self._due = 0.0

    def __len__(self) -> int:
        return len(self._senders)

    def idle(self) -> bool:
        return self._handle is None and not self._ticking

    def next_due(self) -> float:
        """When a sender joining now sends its first frame."""
        return self._loop.time() if self.idle() else self._due

    def join(self, sender: RtpSender) -> None:
        """Tick ``sender`` from the next tick on; an idle clock starts at once, with it."""
        if sender in self._senders:
            return
        self._senders[sender] = None
        if self.idle():
            self._due = self._loop.time()
            self._tick()

    def leave(self, sender: RtpSender) -> None:
        self._senders.pop(sender, None)
        if not self._senders and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        due = self._due
        self._ticking = True
        try:
            for sender in list(self._senders):
                if sender in self._senders and not sender._frame(due):
                    self._senders.pop(sender, None)
        finally:
            self._ticking = False
        if not self._senders:
            return  # idle until a sender joins
        deadline = due + FRAME_DURATION
        now = self._loop.time()
        if now - due > MAX_LAG:
            # Stalled: skip the frames that could not go out, in RTP time as well.
            skipped = int((now - due) / FRAME_DURATION)
            deadline += skipped * FRAME_DURATION
            for sender in self._senders:
                sender._skip(skipped)
        self._due = deadline
        self._handle = self._loop.call_at(deadline, self._tick)


class RtpSender:
    """Prompts and silence for one call, paced in real time (see the module docstring).

    ``send`` puts one datagram on the wire and returns False when there is nowhere to send
    it yet; ``on_sent_audio`` is guarded like the endpoint's callbacks.
    """

    def __init__(
        self,
        codec: G711Codec,
        counters: SendCounters,
        send: Callable[[bytes], bool],
        on_sent_audio: Callable[[AudioFrame], None],
    ) -> None:
        self.ssrc = random.getrandbits(32)
        self.counters = counters
        self.on_sent_audio = on_sent_audio
        self._send = send
        self._codec = codec
        self._silence = codec.encode(SILENCE)
        self._seq = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._last_due: float | None = None
        self._playback: _Playback | None = None
        self._keep_alive = False
        self._allowed = True
        self._marker = True
        self._closed = False
        self._clock: MediaClock | None = None  # while on the clock
        self._cn_pt: int | None = None
        self._silent = 0  # keep-alive frames since the last prompt frame

    def set_codec(self, codec: G711Codec) -> None:
        """Send in ``codec`` from the next frame on (the prompt playing included)."""
        self._codec = codec
        self._silence = codec.encode(SILENCE)

    def set_comfort_noise(self, payload_type: int | None) -> None:
        """Between prompts, send a CN packet (RFC 3389) every ``CN_EVERY`` frames on
        ``payload_type`` rather than a silence frame every 20 ms (``None``: silence frames,
        for a peer that did not offer CN)."""
        self._cn_pt = payload_type

    async def play(self, pcm: bytes) -> PlaybackResult:
        """Send 8 kHz 16-bit PCM as 20 ms frames in real time; return when done.

        A new ``play`` or ``stop_playback`` interrupts the current prompt; so does cancelling
        the awaiting task.
        """
        self.stop_playback()
        playback = _Playback(list(split_frames(pcm)))
        if not playback.pcm:
            return PlaybackResult(0, True)
        self._playback = playback
        if self._clock is None:
            self._start_clock()
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
        if not self._keep_alive:
            self._stop_clock()

    @property
    def playing(self) -> bool:
        """Whether a prompt is being played."""
        return self._playback is not None

    def keep_alive(self) -> None:
        """From now until ``close``, send encoded silence whenever no prompt plays."""
        self._keep_alive = True
        if self._clock is None:
            self._start_clock()

    def set_sending(self, allowed: bool) -> None:
        """Whether we may put media on the wire (the clock runs on either way)."""
        if allowed and not self._allowed:
            self._marker = True  # a new talkspurt for the peer
        self._allowed = allowed

    def close(self) -> None:
        """Stop the clock; the prompt playing ends as interrupted."""
        self._closed = True
        self._keep_alive = False
        self.stop_playback()
        self._stop_clock()

    def _finish(self, playback: _Playback, completed: bool) -> None:
        if self._playback is playback:
            self._playback = None
        if not playback.done.done():
            playback.done.set_result(PlaybackResult(playback.sent, completed))

    def _start_clock(self) -> None:
        clock = self._clock = MediaClock.of(asyncio.get_running_loop())
        self._marker = True
        if self._last_due is not None:
            # RTP time runs on through silence (RFC 3550 §5.1): skip the idle samples.
            idle = clock.next_due() - self._last_due - FRAME_DURATION
            if idle > 0:
                self._timestamp = (self._timestamp + round(idle * SAMPLE_RATE)) & _MASK
        clock.join(self)

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.leave(self)
            self._clock = None

    def _skip(self, frames: int) -> None:
        """The clock stalled: ``frames`` frames were not sent, and RTP time moves on."""
        self.counters.pacing_resets += 1
        self._timestamp = (self._timestamp + frames * FRAME_SAMPLES) & _MASK

    def _frame(self, due: float) -> bool:
        """The clock's tick: send the frame due, if any; False leaves the clock."""
        playback = self._playback
        if playback is not None and playback.sent == len(playback.pcm):
            self._finish(playback, completed=True)
            playback = None
        if playback is not None:
            pcm = playback.pcm[playback.sent]
            payload = self._codec.encode(pcm)
            playback.sent += 1
            if self._silent and self._cn_pt is not None:
                self._marker = True  # a talkspurt after comfort noise
            self._silent = 0
        elif self._keep_alive and not self._closed:
            silent, self._silent = self._silent, self._silent + 1
            if self._cn_pt is not None:
                if silent % CN_EVERY == 0:
                    self._send_packet(self._cn_pt, CN_SILENCE, marker=silent == 0 and
                                      self._marker)
                self._timestamp = (self._timestamp + FRAME_SAMPLES) & _MASK
                self._last_due = due
                return True
            pcm, payload = SILENCE, self._silence
        else:
            self._clock = None  # nothing to send: off the clock until the next prompt
            return False
        # Keep-alive silence is not reported: a recorder fills the gaps before the next
        # prompt itself, and 50 callbacks a second per idle call cost as much as the media.
        self._send_frame(payload, pcm, due, report=playback is not None)
        return True

    def _send_packet(self, payload_type: int, payload: bytes, marker: bool) -> bool:
        """One packet at the current RTP time; False if it could not go."""
        header = rtp_header(payload_type, self._seq, self._timestamp, self.ssrc, marker)
        if self._allowed and self._send(header + payload):
            self._marker = False
            self._seq = (self._seq + 1) & 0xFFFF
            self.counters.packets_sent += 1
            return True
        return False

    def _send_frame(self, payload: bytes, pcm: bytes, due: float, *,
                    report: bool = True) -> None:
        timestamp = self._timestamp
        if not self._send_packet(self._codec.payload_type, payload, self._marker):
            self.counters.frames_unsent += 1
            if not self._allowed:
                pcm = SILENCE  # what the peer hears from us: nothing
        self._timestamp = (timestamp + FRAME_SAMPLES) & _MASK
        self._last_due = due
        if not report:
            return
        try:
            self.on_sent_audio(AudioFrame(pcm, timestamp, due))
        except Exception:
            logger.exception("RTP sender callback %r failed", self.on_sent_audio)
