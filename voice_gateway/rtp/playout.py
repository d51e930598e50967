"""Playout: the caller's audio on its own RTP timeline, telephone events beside it.

How it works. The jitter buffer releases one stream's packets in sequence order: audio,
RFC 4733 events, comfort noise, and gaps where a packet was lost. Only audio occupies the
timeline, at its own RTP timestamp. The playout keeps ``position``, the timestamp where the
next sample belongs; an audio packet that starts later than that has the hole filled first:
concealment for as many frames as packets were lost since the last audio, silence for the
rest (the sender paused: audio muted during a key, DTX). Audio starting a little before the
position (it overlaps what was filled) is trimmed; far before it, or a new SSRC, means the
sender restarted its clock and the timeline starts again from that packet.

Events never take audio's place: they are parsed beside it. An event covers
``[timestamp, timestamp + duration)``; where no audio comes for that span (a sender that
mutes audio while a key is down) the span becomes silence, filled ``depth`` frames behind the
event so that audio sent alongside the event always gets its own slots. A key with no end
packet covers at most ``max_key_s``. A comfort noise packet covers one frame.

Filling is bounded by the wall clock: the timeline may not run ahead of the time since it
was anchored by more than ``depth`` frames. A sender that jumps its timestamps with no pause
(a spliced stream), or claims a long event at once, therefore cannot stretch the recording:
a hole that cannot be filled is skipped and the timeline re-anchors. So the recording's
length is the call's length. Pure and synchronous: time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_gateway.rtp.dtmf import TelephoneEvent
from voice_gateway.rtp.g711 import FRAME_SAMPLES, SAMPLE_RATE, SAMPLE_WIDTH
from voice_gateway.rtp.plc import LossConcealer

_WRAP = 1 << 32
_HALF = 1 << 31


def _delta(a: int, b: int) -> int:
    """``a - b`` in 32-bit RTP timestamp arithmetic (signed, wrap-safe)."""
    return (a - b + _HALF) % _WRAP - _HALF


@dataclass(frozen=True, slots=True)
class PlayoutFrame:
    """PCM placed at ``timestamp`` on the caller's timeline; ``concealed`` stands in for a
    lost packet."""

    pcm: bytes
    timestamp: int
    concealed: bool = False


@dataclass(slots=True)
class PlayoutStats:
    """Frames placed by kind, and the timeline's corrections."""

    audio_frames: int = 0
    silence_frames: int = 0
    concealed_frames: int = 0
    skipped_frames: int = 0  # holes not filled: the sender jumped, the clock did not
    trimmed: int = 0  # audio packets cut (or dropped) for overlapping what was placed
    restarts: int = 0  # new SSRC or a clock the sender restarted


class Playout:
    """Places one call's received packets on its timeline (see the module docstring)."""

    def __init__(
        self,
        *,
        depth: int = 3,
        max_key_s: float = 5.0,
        sample_rate: int = SAMPLE_RATE,
        frame_samples: int = FRAME_SAMPLES,
    ) -> None:
        self.depth = depth
        self.frame = frame_samples
        self.rate = sample_rate
        self.lag = depth * frame_samples
        self.max_key = round(max_key_s * sample_rate)
        self.stats = PlayoutStats()
        self._concealer = LossConcealer()
        self._ssrc: int | None = None
        self._position = 0
        self._anchor_time = 0.0
        self._placed = 0  # samples placed since the anchor
        self._lost = 0  # gaps released since the last audio
        self._claim: int | None = None  # where the latest event's span ends

    @property
    def position(self) -> int | None:
        """RTP timestamp of the next sample, None before the first packet."""
        return None if self._ssrc is None else self._position

    def audio(self, ssrc: int, timestamp: int, pcm: bytes, now: float) -> list[PlayoutFrame]:
        """An audio packet, decoded: the hole before it (if any), then the audio itself."""
        out: list[PlayoutFrame] = []
        self._follow(ssrc, timestamp, now)
        ahead = _delta(timestamp, self._position)
        if ahead > 0:
            skipped = self._fill(ahead, now, out)
            if skipped:
                self.stats.skipped_frames += -(-skipped // self.frame)
                self._anchor(timestamp, now)
        elif ahead < 0:
            if -ahead > self.lag:
                self.stats.restarts += 1
                self._restart(ssrc, timestamp, now)
            else:
                self.stats.trimmed += 1
                pcm = pcm[-ahead * SAMPLE_WIDTH :]
        self._lost = 0
        if pcm:
            self._concealer.good(pcm)
            self.stats.audio_frames += 1
            self._emit(pcm, False, out)
        return out

    def event(
        self, ssrc: int, timestamp: int, event: TelephoneEvent, now: float
    ) -> list[PlayoutFrame]:
        """A telephone-event packet: silence where its span has no audio, ``depth`` behind."""
        self._follow(ssrc, timestamp, now)
        self._lost = 0  # holes next to events are most likely events
        span = event.duration if event.end else min(event.duration, self.max_key)
        self._extend_claim((timestamp + span) % _WRAP)
        return self._fill_to_claim(now, lag=self.lag)

    def comfort_noise(self, ssrc: int, timestamp: int, now: float) -> list[PlayoutFrame]:
        """A comfort noise packet (RFC 3389): one frame of silence at its timestamp."""
        self._follow(ssrc, timestamp, now)
        self._lost = 0
        self._extend_claim((timestamp + self.frame) % _WRAP)
        return self._fill_to_claim(now, lag=0)

    def lost(self) -> None:
        """The jitter buffer gave up a packet: concealed if audio follows the hole."""
        self._lost += 1

    def finish(self, now: float) -> list[PlayoutFrame]:
        """The stream ended (hang-up, timeout): place what the last event still covers."""
        if self._ssrc is None:
            return []
        return self._fill_to_claim(now, lag=0)

    # ---- the timeline -----------------------------------------------------------------------

    def _follow(self, ssrc: int, timestamp: int, now: float) -> None:
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self.stats.restarts += 1
            self._restart(ssrc, timestamp, now)

    def _restart(self, ssrc: int, timestamp: int, now: float) -> None:
        self._ssrc = ssrc
        self._claim = None
        self._lost = 0
        self._anchor(timestamp, now)

    def _anchor(self, timestamp: int, now: float) -> None:
        self._position = timestamp % _WRAP
        self._anchor_time = now
        self._placed = 0

    def _budget(self, now: float) -> int:
        """Samples the timeline may still grow by filling, from the wall clock."""
        return round((now - self._anchor_time) * self.rate) + self.lag - self._placed

    def _extend_claim(self, end: int) -> None:
        if self._claim is None or _delta(end, self._claim) > 0:
            self._claim = end

    def _fill_to_claim(self, now: float, lag: int) -> list[PlayoutFrame]:
        out: list[PlayoutFrame] = []
        if self._claim is not None:
            missing = _delta(self._claim, self._position) - lag
            if missing > 0:
                self._fill(missing, now, out)  # what the clock does not allow waits
        return out

    def _fill(self, samples: int, now: float, out: list[PlayoutFrame]) -> int:
        """Fill ``samples`` before the next audio as far as the clock allows; return how
        many were not filled."""
        budget = max(0, self._budget(now))
        allowed = samples if samples <= budget else budget - budget % self.frame
        left = allowed
        silent = False
        while left > 0:
            chunk = min(left, self.frame)
            size = chunk * SAMPLE_WIDTH
            if self._lost > 0:
                self._lost -= 1
                pcm = self._concealer.conceal()[:size]
                pcm += bytes(size - len(pcm))
                self.stats.concealed_frames += 1
                self._emit(pcm, True, out)
            else:
                silent = True
                self.stats.silence_frames += 1
                self._emit(bytes(size), False, out)
            left -= chunk
        if silent:
            self._concealer.good(self._concealer.silence())
        return samples - allowed

    def _emit(self, pcm: bytes, concealed: bool, out: list[PlayoutFrame]) -> None:
        out.append(PlayoutFrame(pcm, self._position, concealed))
        samples = len(pcm) // SAMPLE_WIDTH
        self._position = (self._position + samples) % _WRAP
        self._placed += samples
