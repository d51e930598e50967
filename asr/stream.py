"""``RecognizeStream``: audio frames in, transcript events out.

``push(frame)`` takes PCM at the stream's input rate (8 kHz from G.711, 48 kHz from
WebRTC, 16 kHz from files); ``flush()`` ends the current utterance now; ``end()`` says no
more audio will come. ``async for event in stream`` yields speech starts, interim and final
transcripts with times relative to the start of the stream, finals in utterance order, and
stops after the last final following ``end()``.

Two implementations, chosen by :func:`open_recognize_stream` from the pool's engine:

- :class:`UtteranceRecognizeStream` for engines that decode whole utterances
  (faster-whisper): resampling and endpointing here, each utterance decoded in the pool
  as soon as it ends, finals released in utterance order.
- :class:`asr.streaming.VoskRecognizeStream` for engines with live recognizer state
  (Vosk): speech audio fed to a recognizer session pinned to one worker, interim results
  while the caller speaks.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from asr.engines.base import DecodeRequest, DecodeResult, Word
from asr.normalize import normalize_text
from asr.pool import AsrPoolError
from asr.resample import StreamResampler
from asr.vad import (
    SAMPLE_RATE,
    EndCandidate,
    Endpointer,
    EndRetracted,
    SpeechStarted,
    Utterance,
    VadEvent,
)
from config import VadSettings

if TYPE_CHECKING:
    from asr.pool import AsrWorkerPool

log = logging.getLogger(__name__)
BATCH_MS = 60

EventKind = Literal["speech_started", "interim", "final"]
# Quiet kept before each utterance for per-utterance engines: Whisper loses onsets
# without some lead-in (measured on shared/audio/dev, with 0.3 s before and after it lost
# up to 3 points of CER against whole files).
WHISPER_CONTEXT_MS = 600


@dataclass(frozen=True)
class TranscriptEvent:
    kind: EventKind
    start: float
    end: float = 0.0
    text: str = ""
    confidence: float = 0.0
    words: tuple[Word, ...] = field(default_factory=tuple)
    # Set on a final whose decoding failed: the audio is kept, the text is empty.
    error: str | None = None
    # The utterance's audio (16 kHz PCM), for finals; not serialised.
    pcm: bytes = field(default=b"", repr=False)


class RecognizeStream(abc.ABC):
    """Frames in (``push``/``flush``/``end``), transcript events out (``async for``)."""

    @abc.abstractmethod
    def push(self, pcm: bytes) -> None:
        """Caller audio, 16-bit mono PCM at the stream's input rate."""

    @abc.abstractmethod
    def flush(self) -> None:
        """End the current utterance now."""

    @abc.abstractmethod
    def end(self) -> None:
        """No more audio; the iteration stops after the last final."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[TranscriptEvent]: ...

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Abandon the stream (work in flight is cancelled)."""


Decoder = Callable[[DecodeRequest], Awaitable[DecodeResult]]


class UtteranceRecognizeStream(RecognizeStream):
    """VAD-segmented decoding through an async ``decode`` (usually ``AsrWorkerPool.decode``)."""

    def __init__(
        self,
        decode: Decoder,
        vad: VadSettings,
        input_rate: int,
        prompt: str | None = None,
        *,
        on_utterance: Callable[[Utterance], None] | None = None,
        context_ms: int = WHISPER_CONTEXT_MS,
        speculate: bool = True,
    ) -> None:
        self._decode = decode
        self._resampler = StreamResampler(input_rate, SAMPLE_RATE)
        self._batch: list[bytes] = []
        self._batched = 0
        self._batch_bytes = input_rate * BATCH_MS // 1000 * 2
        # Per-utterance decoders see only the utterance: give them some quiet before it.
        self.vad = dataclasses.replace(vad, pre_roll_ms=max(vad.pre_roll_ms, context_ms))
        # Speculative endpointing: once the caller has paused for the tail time, the
        # utterance's audio is what the endpoint would keep, so its decode starts then
        # rather than at the end of the hangover, tail_ms → end_ms earlier (0.4 s by
        # default). Speech resuming cancels it: still queued it costs nothing; already
        # decoding, the pool's work is wasted, which happens only when a worker was idle.
        self._endpointer = Endpointer(self.vad, speculate=speculate)
        self._speculative: tuple[Utterance, asyncio.Task[DecodeResult]] | None = None
        self.speculated = 0  # decodes started on a pause, and of those:
        self.speculation_used = 0  # the endpoint came and kept them
        self._prompt = prompt
        self._on_utterance = on_utterance
        self._events: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()
        # Decodes in flight, in utterance order; finals are released in that order.
        self._pending: asyncio.Queue[tuple[Utterance, asyncio.Task[DecodeResult]] | None] = (
            asyncio.Queue()
        )
        self._ended = False
        self._collector = asyncio.get_running_loop().create_task(self._collect())

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise RuntimeError("push() after end()")
        # Resample and endpoint 60 ms at a time rather than per 20 ms packet: a third of
        # the calls into soxr and the VAD for at most 40 ms more latency.
        self._batch.append(pcm)
        self._batched += len(pcm)
        if self._batched >= self._batch_bytes:
            self._process_batch()

    def _process_batch(self) -> None:
        if self._batch:
            pcm = b"".join(self._batch)
            self._batch.clear()
            self._batched = 0
            self._handle(self._endpointer.push(self._resampler.process(pcm)))

    def flush(self) -> None:
        self._process_batch()
        self._handle(self._endpointer.flush())

    def end(self) -> None:
        if self._ended:
            return
        self._process_batch()
        tail = self._resampler.flush()
        self._handle(self._endpointer.push(tail) + self._endpointer.flush())
        self._ended = True
        self._pending.put_nowait(None)

    def _handle(self, events: list[VadEvent]) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._events.put_nowait(TranscriptEvent("speech_started", ev.time))
            elif isinstance(ev, EndCandidate):
                self._retract()
                self.speculated += 1
                self._speculative = (ev.utterance, self._start_decode(ev.utterance))
            elif isinstance(ev, EndRetracted):
                self._retract()
            elif isinstance(ev, Utterance):
                if self._on_utterance is not None:
                    self._on_utterance(ev)
                guess = self._speculative
                if guess is not None and (guess[0].start, guess[0].end) == (ev.start, ev.end):
                    self._speculative = None
                    self.speculation_used += 1
                    task = guess[1]
                else:
                    self._retract()
                    task = self._start_decode(ev)
                self._pending.put_nowait((ev, task))

    def _start_decode(self, utt: Utterance) -> asyncio.Task[DecodeResult]:
        return asyncio.ensure_future(self._decode(DecodeRequest(utt.pcm, prompt=self._prompt)))

    def _retract(self) -> None:
        if self._speculative is not None:
            self._speculative[1].cancel()
            self._speculative = None

    async def _collect(self) -> None:
        try:
            while (item := await self._pending.get()) is not None:
                utt, task = item
                try:
                    result = await task
                except (AsrPoolError, OSError) as exc:
                    log.error("utterance %.2f-%.2f s not transcribed: %s", utt.start, utt.end, exc)
                    self._events.put_nowait(
                        TranscriptEvent("final", utt.start, utt.end, error=str(exc), pcm=utt.pcm)
                    )
                    continue
                words = tuple(
                    Word(w.text, utt.start + w.start, utt.start + w.end, w.confidence)
                    for w in result.words
                )
                self._events.put_nowait(
                    TranscriptEvent(
                        "final", utt.start, utt.end, normalize_text(result.text),
                        result.confidence, words, pcm=utt.pcm,
                    )
                )
        finally:
            self._events.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[TranscriptEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def aclose(self) -> None:
        """Abandon the stream: cancel decodes still in flight."""
        self._retract()
        self._collector.cancel()
        while not self._pending.empty():
            item = self._pending.get_nowait()
            if item is not None:
                item[1].cancel()


def open_recognize_stream(
    pool: AsrWorkerPool,
    vad: VadSettings,
    input_rate: int,
    *,
    prompt: str | None = None,
    grammar: tuple[str, ...] | None = None,
) -> RecognizeStream:
    """The right stream for the pool's engine: live sessions for Vosk, utterances else."""
    if pool.spec.kind == "vosk":
        from asr.streaming import VoskRecognizeStream

        return VoskRecognizeStream(pool, vad, input_rate, grammar=grammar)
    return UtteranceRecognizeStream(pool.decode, vad, input_rate, prompt)
