"""A call's incoming audio: onto the disk and into the recognizer, each whatever the other
does.

``push`` writes the caller's audio to the recording and hands it to the recognizer. A
recording that cannot be written (disk full) is marked incomplete and the call goes on:
transcription does not depend on the disk. A consumer task turns the recognizer's events
into the call machine's and awaits ``deliver`` for each, so a slow runner slows the
consumer (bounded), never the media path. The system's own side (prompts) is recorded
beside it, time-aligned, in ``<call>.out.wav``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.stream import RecognizeStream, TranscriptEvent, open_recognize_stream
from config import Settings
from storage import RecordingWriter
from voice_gateway.calls.machine import Event, SpeechBegan, TranscriptFinal

if TYPE_CHECKING:
    from asr.pool import AsrWorkerPool

log = logging.getLogger(__name__)

Deliver = Callable[[Event, TranscriptEvent], Awaitable[None]]


def machine_event(ev: TranscriptEvent, offset: float = 0.0) -> Event | None:
    """The call machine's event for a recognizer event (interims are not the machine's);
    ``offset`` is added to its times (audio fed from that point of the recording)."""
    if ev.kind == "speech_started":
        return SpeechBegan()
    if ev.kind != "final":
        return None
    words = tuple((w.text, round(w.start + offset, 3), round(w.end + offset, 3),
                   round(w.confidence, 3)) for w in ev.words)
    return TranscriptFinal(round(ev.start + offset, 3), round(ev.end + offset, 3), ev.text,
                           round(ev.confidence, 3), words, ev.error, ev.pcm,
                           alternatives=ev.alternatives)


class CallAudio:
    """Recording plus recognizer for one call (see the module docstring)."""

    def __init__(self, settings: Settings, recognizer: RecognizeStream | None, call_id: str,
                 input_rate: int, *, record: bool = True, record_outbound: bool = False,
                 time_offset: float = 0.0) -> None:
        """``record`` False: the audio is only transcribed (recovery reads a recording
        that is already on disk, from ``time_offset`` seconds on)."""
        self.path = settings.recordings_dir / f"{call_id}.wav"
        # Opened when the call is answered: a refused or cancelled call leaves no file.
        self.recording: RecordingWriter | None = None
        self.outbound: RecordingWriter | None = None
        self._record, self._record_outbound = record, record_outbound
        self.rate = input_rate
        self.offset = time_offset
        self._pushed = 0
        self.stream = recognizer
        self._consumer: asyncio.Task[None] | None = None
        self._ended = False
        self.closed = False

    @classmethod
    def open(cls, settings: Settings, pool: AsrWorkerPool, call_id: str, input_rate: int,
             **kwargs: Any) -> CallAudio:
        stream = open_recognize_stream(pool, settings.vad, input_rate)
        return cls(settings, stream, call_id, input_rate, **kwargs)

    def open_recording(self) -> None:
        """Start the recordings (never raises: a disk that fails makes them incomplete)."""
        if self.closed or self.recording is not None or not self._record:
            return
        self.recording = RecordingWriter(self.path, self.rate)
        if self._record_outbound:
            self.outbound = RecordingWriter(self.path.with_suffix(".out.wav"), self.rate)

    def start(self, deliver: Deliver) -> None:
        """Start handing recognizer events to ``deliver`` (awaited, in order)."""
        if self.stream is not None and self._consumer is None:
            self._consumer = asyncio.create_task(self._consume(self.stream, deliver))

    async def _consume(self, stream: RecognizeStream, deliver: Deliver) -> None:
        async for ev in stream:
            event = machine_event(ev, self.offset)
            if event is not None:
                await deliver(event, ev)

    def push(self, pcm: bytes) -> None:
        """Caller audio at the call's input rate (16-bit mono PCM)."""
        if self.closed:
            return
        self._pushed += len(pcm)
        if self.recording is not None:
            self.recording.write(pcm)
        if self.stream is not None and not self._ended:
            self.stream.push(pcm)

    def record_sent(self, pcm: bytes, at: float) -> None:
        """The system's audio that started ``at`` seconds into the call: silence until
        then keeps both sides aligned."""
        out = self.outbound
        if out is None or self.closed:
            return
        gap = int(at * self.rate) - int(out.duration * self.rate)
        if gap > 0:
            out.write(b"\x00\x00" * gap)
        out.write(pcm)

    @property
    def duration(self) -> float:
        """Seconds of the caller's audio, from the start of the call."""
        return self.offset + self._pushed / 2 / self.rate

    @property
    def complete(self) -> bool:
        """False when the recording could not be written in full (disk full)."""
        return not getattr(self.recording, "incomplete", False)

    def end_input(self) -> None:
        """No more audio: the recognizer finishes its last utterance."""
        if not self._ended:
            self._ended = True
            if self.stream is not None:
                self.stream.end()

    async def drained(self) -> None:
        """Every final has been delivered."""
        self.end_input()
        if self._consumer is not None:
            await asyncio.shield(self._consumer)

    async def close(self) -> None:
        """Close the recordings and stop the recognizer (without waiting for finals)."""
        if self.closed:
            return
        self.closed = True
        out = self.outbound
        if out is not None:
            # The system's side ends with the call: pad the silence after the last prompt.
            gap = int(self.duration * self.rate) - int(out.duration * self.rate)
            if gap > 0:
                out.write(b"\x00\x00" * gap)
        for writer in (self.recording, self.outbound):
            if writer is None:
                continue
            try:
                writer.close()
            except OSError as exc:
                log.warning("recording %s not closed cleanly: %s", Path(writer.path).name, exc)
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._consumer
        if self.stream is not None:
            with contextlib.suppress(Exception):
                await self.stream.aclose()
