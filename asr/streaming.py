"""A live recognizer stream for Vosk: interim results while the caller speaks.

How it works. Audio is resampled and endpointed here, on the loop (cheap). From speech
start to utterance end the endpointer releases the utterance audio (``SpeechAudio``);
it is gathered into ~0.2 s chunks and queued, in order, to one consumer task, which feeds
them to a :class:`RecognizerSession`: a ``KaldiRecognizer`` living in one worker process
for the life of the stream (sticky: every chunk goes to the same worker, in order).
Silence between utterances is never fed, which is where VAD gating saves decoding. At
utterance end the session is told to finish: Kaldi's final result becomes the final
event. Kaldi may also close segments inside long speech on its own; those are finals too.

Kaldi counts word times from the first sample the session was fed; since only speech is
fed, a small map (fed seconds → stream seconds, one entry per contiguous run) turns them
back into stream times.

If the worker dies, the session is gone. The audio of the open segment is kept, so it is
replayed once into a new session (on a fresh or another worker); a second loss in the
same utterance gives a final with ``error`` and the stream goes on with the next one.

Bounds. Events wait for the reader in a :class:`asr.stream.TranscriptQueue`: every speech
start and final, and only the latest unread interim, so a lagging reader costs a few
events per utterance, not one per 0.2 s fed. The op queue holds speech audio not yet fed
(one op per 0.2 s chunk): it is the caller's words, so it is never dropped; the consumer
drains it as fast as the worker answers, and a worker that stops answering is killed
after the pool's ``decode_timeout_s`` (the segment is replayed or failed, as above), so
it cannot stall the queue for longer.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asr.engines.base import DecodeResult, SessionUpdate, Word
from asr.engines.vosk import grammar_json
from asr.normalize import normalize_text
from asr.pool import AsrPoolError, AsrWorkerLost, AsrWorkerPool, RecognizerSession
from asr.resample import StreamResampler
from asr.stream import (
    RecognizeStream,
    TranscriptEvent,
    TranscriptQueue,
    normalized_alternatives,
)
from asr.vad import SAMPLE_RATE, Endpointer, SpeechAudio, SpeechStarted, Utterance, VadEvent
from config import VadSettings

log = logging.getLogger(__name__)

CHUNK_BYTES = SAMPLE_RATE * 2 // 5  # 0.2 s: interim results five times a second



@dataclass(frozen=True)
class _Audio:
    pcm: bytes
    start: float


@dataclass(frozen=True)
class _End:
    utterance: Utterance


@dataclass(frozen=True)
class _Grammar:
    grammar: tuple[str, ...] | None


_Op = _Audio | _End | _Grammar


class _GiveUp(Exception):
    """The open segment's session was lost twice."""


class VoskRecognizeStream(RecognizeStream):
    """Speech audio fed live to a sticky recognizer session in the worker pool."""

    def __init__(
        self,
        pool: AsrWorkerPool,
        vad: VadSettings,
        input_rate: int,
        *,
        grammar: tuple[str, ...] | None = None,
    ) -> None:
        if grammar is not None:
            grammar_json(grammar)  # reject a bad grammar here, before any worker sees it
        self._pool = pool
        self._grammar = grammar
        self._resampler = StreamResampler(input_rate, SAMPLE_RATE)
        self._endpointer = Endpointer(vad, emit_audio=True)
        self._events = TranscriptQueue()
        self._ops: asyncio.Queue[_Op | None] = asyncio.Queue()
        self._chunk = bytearray()
        self._chunk_start = 0.0
        self._ended = False
        self._abandoned = False
        self._session: RecognizerSession | None = None
        # Fed seconds → stream seconds, one entry per contiguous run of fed audio.
        self._map_fed: list[float] = []
        self._map_stream: list[float] = []
        self._fed_s = 0.0
        # Audio of the open segment, replayed into a new session if the worker dies.
        self._segment: list[tuple[bytes, float]] = []
        self._segment_failed = False
        self._segment_had_final = False
        self._replayed = False
        self._last_partial = ""
        self._consumer = asyncio.get_running_loop().create_task(self._consume())

    # Producer side (on the loop, cheap).

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise RuntimeError("push() after end()")
        self._handle(self._endpointer.push(self._resampler.process(pcm)))

    def flush(self) -> None:
        self._handle(self._endpointer.flush())

    def end(self) -> None:
        if self._ended:
            return
        tail = self._resampler.flush()
        self._handle(self._endpointer.push(tail) + self._endpointer.flush())
        self._ended = True
        self._ops.put_nowait(None)

    def set_grammar(self, grammar: tuple[str, ...] | None) -> None:
        """Use ``grammar`` (menu choices) from the next utterance on; None lifts it."""
        if grammar is not None:
            grammar_json(grammar)
        self._ops.put_nowait(_Grammar(grammar))

    def _handle(self, events: list[VadEvent]) -> None:
        if self._abandoned:
            return  # audio after aclose(): nobody will read what it says
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._events.put(TranscriptEvent("speech_started", ev.time))
            elif isinstance(ev, SpeechAudio):
                if not self._chunk:
                    self._chunk_start = ev.start
                elif abs(self._chunk_start + len(self._chunk) / 2 / SAMPLE_RATE
                         - ev.start) > 1e-6:
                    self._send_chunk()
                    self._chunk_start = ev.start
                self._chunk += ev.pcm
                if len(self._chunk) >= CHUNK_BYTES:
                    self._send_chunk()
            elif isinstance(ev, Utterance):
                self._send_chunk()
                self._ops.put_nowait(_End(ev))

    def _send_chunk(self) -> None:
        if self._chunk:
            self._ops.put_nowait(_Audio(bytes(self._chunk), self._chunk_start))
            self._pool.note_stream_audio(len(self._chunk))  # backlog until fed
            self._chunk.clear()

    # Consumer side: one task, ops in order, decoding in the worker.

    async def _consume(self) -> None:
        try:
            while (op := await self._ops.get()) is not None:
                if isinstance(op, _Audio):
                    try:
                        await self._on_audio(op.pcm, op.start)
                    finally:
                        self._pool.note_stream_audio(-len(op.pcm))
                elif isinstance(op, _End):
                    await self._on_end(op.utterance)
                else:
                    self._grammar = op.grammar
                    await self._drop_session()
        finally:
            while not self._ops.empty():  # abandoned: what was queued is no backlog now
                left = self._ops.get_nowait()
                if isinstance(left, _Audio):
                    self._pool.note_stream_audio(-len(left.pcm))
            await self._drop_session()
            self._events.close()

    async def _on_audio(self, pcm: bytes, start: float) -> None:
        if self._segment_failed:
            return
        self._segment.append((pcm, start))
        try:
            update = await self._feed_with_retry(pcm, start)
        except _GiveUp:
            return
        self._publish(update)

    async def _on_end(self, utt: Utterance) -> None:
        try:
            if self._segment_failed or self._session is None:
                return
            try:
                result = await self._session.finish()
            except AsrWorkerLost:
                try:
                    self._publish(await self._replay())
                    assert self._session is not None
                    result = await self._session.finish()
                except (_GiveUp, AsrPoolError) as exc:
                    self._fail_segment(str(exc))
                    return
            except AsrPoolError as exc:
                self._fail_segment(str(exc))
                return
            if not self._segment_had_final:
                self._final(result, utt.start, utt.end, utt.pcm)
            elif result.text:
                start = self._to_stream(result.words[0].start) if result.words else utt.start
                self._final(result, start, utt.end, utt.pcm)
        finally:
            self._segment = []
            self._segment_failed = False
            self._segment_had_final = False
            self._replayed = False
            self._last_partial = ""

    async def _feed_with_retry(self, pcm: bytes, start: float) -> SessionUpdate:
        try:
            session = await self._ensure_session()
            self._note_fed(pcm, start)
            return await session.feed(pcm)
        except AsrWorkerLost as exc:
            log.warning("recognizer session lost (%s); replaying the segment once", exc)
            try:
                return await self._replay()
            except (_GiveUp, AsrPoolError) as exc2:
                self._fail_segment(str(exc2))
                raise _GiveUp from exc2
        except AsrPoolError as exc:
            self._fail_segment(str(exc))
            raise _GiveUp from exc

    async def _replay(self) -> SessionUpdate:
        """A new session, fed the open segment's audio again (once per segment)."""
        if self._replayed:
            raise _GiveUp("recognizer session lost twice in one utterance")
        self._replayed = True
        await self._drop_session()
        session = await self._ensure_session()
        finals: list[DecodeResult] = []
        update = SessionUpdate()
        for pcm, start in self._segment:
            self._note_fed(pcm, start)
            update = await session.feed(pcm)
            finals.extend(update.finals)
        return SessionUpdate(tuple(finals), update.partial)

    async def _ensure_session(self) -> RecognizerSession:
        if self._session is None:
            self._session = await self._pool.open_session(self._grammar)
            self._map_fed.clear()
            self._map_stream.clear()
            self._fed_s = 0.0
        return self._session

    async def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(AsrPoolError):  # its worker is gone, and the session too
                await session.close()

    def _note_fed(self, pcm: bytes, start: float) -> None:
        if not self._map_fed or abs(self._to_stream(self._fed_s) - start) > 1e-6:
            self._map_fed.append(self._fed_s)
            self._map_stream.append(start)
        self._fed_s += len(pcm) / 2 / SAMPLE_RATE

    def _to_stream(self, fed: float) -> float:
        i = bisect.bisect_right(self._map_fed, fed + 1e-9) - 1
        if i < 0:
            return fed
        return self._map_stream[i] + fed - self._map_fed[i]

    def _publish(self, update: SessionUpdate) -> None:
        for result in update.finals:
            self._segment_had_final = True
            start = self._to_stream(result.words[0].start) if result.words else 0.0
            end = self._to_stream(result.words[-1].end) if result.words else start
            self._final(result, start, end)
            # Kaldi closed this segment: audio so far need not be replayed.
            self._segment = []
        text = normalize_text(update.partial)
        if text and text != self._last_partial:
            self._last_partial = text
            start = self._map_stream[-1] if self._map_stream else 0.0
            self._events.put(TranscriptEvent("interim", start, self._to_stream(
                self._fed_s), text))

    def _final(self, result: DecodeResult, start: float, end: float, pcm: bytes = b"") -> None:
        """``pcm``: the utterance's audio, for the utterance-closing final (a menu may have
        it decoded again under its grammar); finals Vosk closes mid-utterance carry none."""
        words = tuple(Word(w.text, self._to_stream(w.start), self._to_stream(w.end),
                           w.confidence) for w in result.words)
        self._events.put(TranscriptEvent(
            "final", start, end, normalize_text(result.text), result.confidence, words,
            pcm=pcm, alternatives=normalized_alternatives(result)))
        self._last_partial = ""

    def _fail_segment(self, reason: str) -> None:
        log.error("utterance not transcribed: %s", reason)
        self._segment_failed = True
        start = self._segment[0][1] if self._segment else 0.0
        self._events.put(TranscriptEvent("final", start, start, error=reason))
        if self._session is not None:
            self._session.abandon()
            self._session = None

    async def __aiter__(self) -> AsyncIterator[TranscriptEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def aclose(self) -> None:
        self._abandoned = True
        self._consumer.cancel()
        self._events.close()  # the consumer may be cancelled before it ever ran
        await self._drop_session()
