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

Bounds. Nothing here blocks the loop (``push`` is synchronous) and no final or speech
start is ever dropped; what a slow reader leaves unread is bounded by its kind. Events
wait in a :class:`TranscriptQueue`, which holds at most one interim: a newer interim
replaces the unread one (it is stale anyway), so a reader that lags sees speech starts
and finals in order, each once (at most two per utterance not yet read), and the latest
interim. An utterance stream runs at most ``max_decodes`` decodes at once (default
:data:`MAX_DECODES`, counting a speculative one); further utterances wait in order, so a
whole recording pushed at once (crash recovery) takes a few of the pool's slots, not all.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import logging
from collections import deque
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
# Caller audio is resampled and endpointed this many ms at a time rather than per 20 ms
# packet: a third of the calls into soxr and the VAD, for at most 40 ms more latency. The
# result is the same audio, cut at the same frames, as per packet (see asr/resample.py).
BATCH_MS = 60

EventKind = Literal["speech_started", "interim", "final"]
# Quiet kept before each utterance for per-utterance engines: Whisper loses onsets
# without some lead-in (measured on shared/audio/dev, with 0.3 s before and after it lost
# up to 3 points of CER against whole files).
WHISPER_CONTEXT_MS = 600
# Decodes one utterance stream runs at once (the pool's default max_batch).
MAX_DECODES = 4
# With ``context_gap_s`` (off by default), an utterance after a pause of at most that
# long is decoded with the one before it as context, if both fit in CONTEXT_MAX_S (see
# ``follows``). Measured on the public long clips (6 clips of 8 read sentences, 1 s
# pauses, both copies) with 28 s utterances it cost 1-2 points of CER: Whisper, forced
# to write the previous sentence's text, repeats its errors (智能价势 → 自动价势).
CONTEXT_GAP_S = 1.5
CONTEXT_MAX_S = 29.0


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
    # The engine's other hypotheses of a final (n-best), normalised like ``text``.
    alternatives: tuple[str, ...] = ()


class TranscriptQueue:
    """Events from a stream to its reader: ``put`` never blocks, and never drops a speech
    start or a final; an interim replaces the one still unread (at most one is held).
    After ``close()`` (the stream ended or was abandoned) nothing more is taken."""

    def __init__(self) -> None:
        self._items: deque[TranscriptEvent] = deque()
        self._interim: TranscriptEvent | None = None  # the unread interim, if any
        self._closed = False
        self._changed = asyncio.Event()
        self.interims_dropped = 0

    def put(self, event: TranscriptEvent) -> None:
        if self._closed:
            return
        if event.kind == "interim":
            if (old := self._interim) is not None:
                self.interims_dropped += 1
                if self._items[-1] is old:
                    self._items.pop()
                else:  # a final or speech start came after it: it is stale
                    self._items.remove(old)
            self._interim = event
        self._items.append(event)
        self._changed.set()

    def close(self) -> None:
        """No more events: ``get`` returns None once the queue is drained."""
        self._closed = True
        self._changed.set()

    def qsize(self) -> int:
        """Events held, counting the end mark once closed (like an ``asyncio.Queue``)."""
        return len(self._items) + self._closed

    async def get(self) -> TranscriptEvent | None:
        """The next event, or None after the last one."""
        while not self._items:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        event = self._items.popleft()
        if event is self._interim:
            self._interim = None
        return event


def follows(before: Utterance, utt: Utterance, gap_s: float) -> bool:
    """``utt`` goes on from ``before``: the VAD split long speech between them, or the
    pause was at most ``gap_s``, and both fit in one Whisper window with a second to
    spare. Such an utterance is decoded with the one before as context (its audio heard
    again at the start of the window, its text forced as the decoder's prefix), as the
    bare engine would have heard it in one window: a sentence cut by the VAD loses no
    context."""
    return -1e-6 <= utt.start - before.end <= gap_s and utt.end - before.start <= CONTEXT_MAX_S


_Prior = asyncio.Task[DecodeResult] | DecodeResult | Exception


@dataclass
class _Decoding:
    """An utterance in order; its decode starts when a slot of the stream is free."""

    utterance: Utterance
    task: asyncio.Task[DecodeResult] | None = None


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
        max_decodes: int = MAX_DECODES,
        context_gap_s: float | None = None,
        batch_ms: int = BATCH_MS,
    ) -> None:
        if max_decodes < 1:
            raise ValueError(f"max_decodes must be at least 1, not {max_decodes}")
        self._decode = decode
        self._max_decodes = max_decodes
        self._resampler = StreamResampler(input_rate, SAMPLE_RATE)
        self._batch: list[bytes] = []
        self._batched = 0
        self._batch_bytes = input_rate * batch_ms // 1000 * 2
        # Per-utterance decoders see only the utterance: give them some quiet before it.
        # They hear each sentence with those before it if short pauses do not end it.
        self.vad = dataclasses.replace(vad, pre_roll_ms=max(vad.pre_roll_ms, context_ms),
                                       end_ms=max(vad.end_ms, vad.sentence_pause_ms))
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
        self._events = TranscriptQueue()
        # Utterances in order; finals are released in that order. The first ``_started``
        # have their decode running (or done), the rest wait for a slot.
        self._order: deque[_Decoding] = deque()
        self._started = 0
        # The last utterance whose final is out, and its result: the context of the next.
        self._last: tuple[Utterance, _Prior] | None = None
        self._context_gap_s = context_gap_s
        self._more = asyncio.Event()  # an utterance was added, or end()
        self._ended = False
        self._abandoned = False
        self._collector = asyncio.get_running_loop().create_task(self._collect())

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise RuntimeError("push() after end()")
        self._batch.append(pcm)  # processed BATCH_MS at a time
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

    @property
    def pending(self) -> int:
        """Utterances cut and events made that the reader has not taken yet (0: every
        final of the audio pushed before a ``flush`` has been read)."""
        return len(self._order) + (self._speculative is not None) + self._events.qsize()

    def end(self) -> None:
        if self._ended:
            return
        self._process_batch()
        tail = self._resampler.flush()
        self._handle(self._endpointer.push(tail) + self._endpointer.flush())
        self._ended = True
        self._more.set()

    def _handle(self, events: list[VadEvent]) -> None:
        if self._abandoned:
            return  # audio after aclose(): nobody will read what it says
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._events.put(TranscriptEvent("speech_started", ev.time))
            elif isinstance(ev, EndCandidate):
                self._retract()
                if self._in_flight() < self._max_decodes:  # else it waits for the end
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
                    # Every utterance before it has its decode started (else no slot
                    # would have been free for the guess): it joins them.
                    assert self._started == len(self._order)
                    self._order.append(_Decoding(ev, guess[1]))
                    self._started += 1
                else:
                    self._retract()
                    self._order.append(_Decoding(ev))
                    self._start_waiting()
                self._more.set()

    def _in_flight(self) -> int:
        return self._started + (self._speculative is not None)

    def _start_waiting(self) -> None:
        """Start the decodes of waiting utterances, in order, while slots are free."""
        while self._started < len(self._order) and self._in_flight() < self._max_decodes:
            item = self._order[self._started]
            item.task = self._start_decode(item.utterance)
            self._started += 1

    def _start_decode(self, utt: Utterance) -> asyncio.Task[DecodeResult]:
        before = self._before(utt)
        gap = self._context_gap_s
        if before is None or gap is None or not follows(before[0], utt, gap):
            return asyncio.ensure_future(
                self._decode(DecodeRequest(utt.pcm, prompt=self._prompt)))
        return asyncio.ensure_future(self._decode_in_context(utt, *before))

    def _before(self, utt: Utterance) -> tuple[Utterance, _Prior] | None:
        """The utterance just before ``utt`` and its decode (running or done)."""
        for item in reversed(self._order):
            if item.task is not None and item.utterance.start < utt.start:
                return item.utterance, item.task
        return self._last

    async def _decode_in_context(self, utt: Utterance, before: Utterance,
                                 prior: _Prior) -> DecodeResult:
        """``utt`` decoded after what was heard just before it (see :func:`follows`)."""
        if isinstance(prior, asyncio.Task):
            try:  # shielded: a retracted guess must not cancel the decode before it
                prior = await asyncio.shield(prior)
            except (AsrPoolError, OSError) as exc:
                prior = exc
        request = DecodeRequest(utt.pcm, prompt=self._prompt)
        if isinstance(prior, DecodeResult) and prior.text:
            # The pause between them is not kept: the VAD heard no speech in it.
            gap = b"\0\0" * round(max(0.0, utt.start - before.end) * SAMPLE_RATE)
            request = dataclasses.replace(request, context_pcm=before.pcm + gap,
                                          context_text=prior.text)
        return await self._decode(request)

    def _retract(self) -> None:
        if self._speculative is not None:
            self._speculative[1].cancel()
            self._speculative = None

    async def _collect(self) -> None:
        try:
            while True:
                if not self._order:
                    if self._ended:
                        return
                    self._more.clear()
                    await self._more.wait()
                    continue
                head = self._order[0]
                assert head.task is not None  # the first waiting one gets the first slot
                try:
                    result: DecodeResult | Exception = await head.task
                except (AsrPoolError, OSError) as exc:
                    result = exc
                self._order.popleft()
                self._last = (head.utterance, result)
                self._started -= 1
                self._start_waiting()
                self._events.put(self._final(head.utterance, result))
        finally:
            self._events.close()

    @staticmethod
    def _final(utt: Utterance, result: DecodeResult | Exception) -> TranscriptEvent:
        if isinstance(result, Exception):
            log.error("utterance %.2f-%.2f s not transcribed: %s", utt.start, utt.end, result)
            return TranscriptEvent("final", utt.start, utt.end, error=str(result), pcm=utt.pcm)
        words = tuple(
            Word(w.text, utt.start + w.start, utt.start + w.end, w.confidence)
            for w in result.words
        )
        return TranscriptEvent("final", utt.start, utt.end, normalize_text(result.text),
                               result.confidence, words, pcm=utt.pcm,
                               alternatives=normalized_alternatives(result))

    async def __aiter__(self) -> AsyncIterator[TranscriptEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def aclose(self) -> None:
        """Abandon the stream: cancel decodes still in flight."""
        self._abandoned = True
        self._retract()
        self._collector.cancel()
        self._events.close()  # the collector may be cancelled before it ever ran
        while self._order:
            if (task := self._order.popleft().task) is not None:
                task.cancel()
        self._started = 0


def normalized_alternatives(result: DecodeResult) -> tuple[str, ...]:
    """A result's other hypotheses, normalised, without empties or the text itself."""
    text = normalize_text(result.text)
    out: list[str] = []
    for alt in result.alternatives:
        alt = normalize_text(alt)
        if alt and alt != text and alt not in out:
            out.append(alt)
    return tuple(out)


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
