"""Packet loss concealment for 16-bit PCM frames.

How it works: every good frame is remembered. A lost frame is replaced by the last good one
at falling gain (3/4, 1/2, 1/4 with the default three fade frames), then by silence until
audio returns, so a short loss sounds like a short dip and a long one like a pause.
"""

from __future__ import annotations

from asr.g711 import audioop
from voice_gateway.rtp.g711 import PCM_FRAME_BYTES, SAMPLE_WIDTH


class LossConcealer:
    """Turns gaps in a PCM frame stream into faded repeats, then silence."""

    def __init__(self, fade_frames: int = 3) -> None:
        self.fade_frames = fade_frames
        self.concealed = 0
        self._last = bytes(PCM_FRAME_BYTES)
        self._run = 0

    def good(self, pcm: bytes) -> bytes:
        """Record a frame that arrived; returns it unchanged."""
        if pcm:
            self._last = pcm
        self._run = 0
        return pcm

    def silence(self) -> bytes:
        """A silent frame as long as the last good one."""
        return bytes(len(self._last))

    def conceal(self) -> bytes:
        """A frame to stand in for one lost frame (same length as the last good one)."""
        self.concealed += 1
        self._run += 1
        if self._run > self.fade_frames:
            return bytes(len(self._last))
        gain = (self.fade_frames + 1 - self._run) / (self.fade_frames + 1)
        return audioop.mul(self._last, SAMPLE_WIDTH, gain)
