"""A browser call's audio: the caller's track read into 16-bit mono PCM at the pipeline's
rate, and prompts sent on an outbound track paced in real time.

aiortc decodes the caller's Opus (48 kHz stereo) or G.711 (8 kHz) in its own decoder
thread; :class:`InboundAudio` resamples each frame to :data:`RATE` with libswresample (one
resampler per call, state kept across frames) and hands it on, noting when audio last came
so that a silent peer can be hung up on. :class:`PromptTrack` is what aiortc's sender
pulls from: one 20 ms frame per ``recv`` while a prompt plays, on deadlines counted from
the first frame (no drift), and nothing between prompts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
from collections.abc import Callable

import av
import numpy as np
import soxr
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

RATE = 16000  # the pipeline's rate: the recognizers' own, and the recordings'
FRAME_S = 0.020
FRAME_SAMPLES = int(RATE * FRAME_S)
FRAME_BYTES = FRAME_SAMPLES * 2
_TIME_BASE = fractions.Fraction(1, RATE)
_MAX_LAG_S = 0.5  # behind the clock by more than this (a gap, a stall): skip ahead
TAIL_FRAMES = 5  # silence after a prompt: flushes the encoder's resampler (40 ms) and more


def upsample_prompt(pcm: bytes, rate: int) -> bytes:
    """Prompt audio (16-bit mono at ``rate``) at :data:`RATE`."""
    if rate == RATE or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, rate, RATE, quality="HQ")
    return np.asarray(out, dtype="<i2").tobytes()


class PromptTrack(MediaStreamTrack):
    """The call's outbound audio (see the module docstring). ``on_sent(pcm, at)`` gets
    every prompt frame sent, ``at`` in loop time when it went out.

    Between prompts nothing is sent (as with Opus DTX): encoding and encrypting 50
    frames of silence a second was a third of a call's CPU. A few frames of silence follow
    each prompt, so that the encoder's buffered tail goes out with it, and the frames'
    timestamps follow the clock across the gaps, so the browser plays each prompt on
    time."""

    kind = "audio"

    def __init__(self, on_sent: Callable[[bytes, float], None] | None = None) -> None:
        super().__init__()
        self.on_sent = on_sent
        self._pcm = bytearray()
        self._playing: asyncio.Future[bool] | None = None
        self._wake = asyncio.Event()
        self._tail = 0  # silence frames still to send after a prompt
        self._start: float | None = None
        self._frames = 0  # frame slots since the first frame (the media clock)
        self.frames_sent = 0

    async def play(self, pcm: bytes) -> bool:
        """Send ``pcm`` (at :data:`RATE`) after what is playing; True once all of it has
        gone out, False when stopped first."""
        while self._playing is not None and not self._playing.done():
            await asyncio.shield(self._playing)
        if self.readyState != "live":
            return False
        self._pcm = bytearray(pcm)
        self._playing = asyncio.get_running_loop().create_future()
        self._wake.set()
        return await self._playing

    async def play_unheard(self, seconds: float) -> bool:
        """A prompt for a caller who receives no audio (a send-only offer): it takes its
        time, so the menu keeps the pace of its captions, and can be stopped the same."""
        while self._playing is not None and not self._playing.done():
            await asyncio.shield(self._playing)
        loop = asyncio.get_running_loop()
        playing: asyncio.Future[bool] = loop.create_future()
        self._playing = playing

        def played() -> None:
            if not playing.done():
                playing.set_result(True)

        timer = loop.call_later(seconds, played)
        try:
            return await playing
        finally:
            timer.cancel()

    def stop_playback(self) -> None:
        """Barge-in: the prompt stops at the next frame."""
        if self._pcm:
            self._tail = TAIL_FRAMES
        self._pcm.clear()
        if self._playing is not None and not self._playing.done():
            self._playing.set_result(False)

    def stop(self) -> None:
        self.stop_playback()
        super().stop()
        self._wake.set()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._pcm and self._tail <= 0:
            self._wake.clear()
            await self._wake.wait()  # nothing to say: no packets until the next prompt
            if self.readyState != "live":
                raise MediaStreamError
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._start is None:
            self._start = now
        elif now - (self._start + self._frames * FRAME_S) > _MAX_LAG_S:
            # After a gap (or a stalled loop): on with the clock, no burst to catch up.
            self._frames = math.ceil((now - self._start) / FRAME_S)
        wait = self._start + self._frames * FRAME_S - now
        if wait > 0:
            await asyncio.sleep(wait)
        if self.readyState != "live":
            raise MediaStreamError
        pts = self._frames * FRAME_SAMPLES
        self._frames += 1
        self.frames_sent += 1
        chunk = bytes(self._pcm[:FRAME_BYTES])
        if chunk:
            del self._pcm[:FRAME_BYTES]
            self._tail = TAIL_FRAMES
            if self.on_sent is not None:
                self.on_sent(chunk, loop.time())
            if len(chunk) < FRAME_BYTES:
                chunk += bytes(FRAME_BYTES - len(chunk))
            if not self._pcm and self._playing is not None and not self._playing.done():
                self._playing.set_result(True)
        else:
            self._tail -= 1
            chunk = bytes(FRAME_BYTES)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = RATE
        frame.pts = pts
        frame.time_base = _TIME_BASE
        return frame


class InboundAudio:
    """Reads the caller's track until it ends or :meth:`stop`; ``on_audio(pcm)`` gets
    16-bit mono PCM at :data:`RATE`."""

    def __init__(self, track: MediaStreamTrack, on_audio: Callable[[bytes], None]) -> None:
        self.track = track
        self._on_audio = on_audio
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self.last_audio: float | None = None
        self.frames = 0
        self._task: asyncio.Task[None] | None = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                break
            if not isinstance(frame, av.AudioFrame):
                continue
            self.frames += 1
            self.last_audio = loop.time()
            self._emit(self._resampler.resample(frame))
        self._flush()

    def _emit(self, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            pcm = bytes(out.planes[0])[: out.samples * 2]
            if pcm:
                self._on_audio(pcm)

    def _flush(self) -> None:
        with contextlib.suppress(ValueError, av.FFmpegError):
            self._emit(self._resampler.resample(None))

    async def stop(self) -> None:
        """No more audio: what the resampler holds is delivered, then nothing."""
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._flush()
        elif not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("inbound audio ended with an error: %r", exc)
