"""Bounded streams: a slow reader loses no final, holds one interim, and an utterance
stream has a cap on the decodes it runs at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
from asr.pool import AsrWorkerPool
from asr.stream import RecognizeStream, TranscriptEvent, TranscriptQueue, UtteranceRecognizeStream
from asr.streaming import VoskRecognizeStream
from config import VadSettings
from tests.asr import signals as sig

SENTENCES = ["BAC009S0150W0154.wav", "BAC009S0252W0123.wav"]


def talk(n: int) -> bytes:
    """``n`` sentences with pauses long enough to end each utterance."""
    parts = [sig.silence(0.5)]
    for i in range(n):
        parts += [sig.trimmed(sig.speech(SENTENCES[i % 2])), sig.silence(1.2)]
    return sig.pcm(np.concatenate(parts))


def event(kind: str, t: float, text: str = "") -> TranscriptEvent:
    return TranscriptEvent(kind, t, t, text)  # type: ignore[arg-type]


async def drain(q: TranscriptQueue) -> list[TranscriptEvent]:
    out = []
    while (e := await q.get()) is not None:
        out.append(e)
    return out


async def test_queue_keeps_only_the_latest_unread_interim() -> None:
    q = TranscriptQueue()
    q.put(event("speech_started", 0.0))
    for i in range(50):
        q.put(event("interim", 0.0, f"{i}"))
    assert q.qsize() == 2 and q.interims_dropped == 49
    q.put(event("final", 1.0, "甲"))
    assert await q.get() == event("speech_started", 0.0)
    assert await q.get() == event("interim", 0.0, "49")  # read: the next one is kept
    q.put(event("interim", 1.5, "甲!"))
    assert await q.get() == event("final", 1.0, "甲")
    q.put(event("speech_started", 2.0))
    q.put(event("interim", 2.0, "乙?"))
    q.put(event("final", 3.0, "乙"))
    q.put(event("interim", 4.0, "丙?"))  # the unread 乙? is stale: it goes
    q.close()
    assert q.qsize() == 4 and q.interims_dropped == 51
    assert [(e.kind, e.text) for e in await drain(q)] == [
        ("speech_started", ""), ("final", "乙"), ("interim", "丙?"),
    ]


async def test_queue_get_waits_for_put_and_ends_after_close() -> None:
    q = TranscriptQueue()
    reader = asyncio.create_task(drain(q))
    await asyncio.sleep(0.01)
    assert not reader.done()
    q.put(event("final", 1.0, "甲"))
    await asyncio.sleep(0.01)
    q.close()
    assert [e.text for e in await reader] == ["甲"]


class CountingDecoder:
    """Decodes in order of arrival; records how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.n = 0

    async def __call__(self, request: DecodeRequest) -> DecodeResult:
        self.n += 1
        n = self.n
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.05 if n % 2 else 0.01)  # out of order on purpose
        finally:
            self.running -= 1
        return DecodeResult(f"第{n}句", 0.9)


async def test_a_whole_recording_pushed_at_once_decodes_a_few_at_a_time_in_order() -> None:
    decoder = CountingDecoder()
    # Utterances that end at each 1.2 s pause (by default Whisper's run on past them).
    stream = UtteranceRecognizeStream(decoder, VadSettings(sentence_pause_ms=700), 16000,
                                      max_decodes=2, speculate=False)
    for frame in sig.frames(talk(6)):
        stream.push(frame)  # like crash recovery: the file at once, nobody reading yet
    stream.end()
    events = []
    async for e in stream:
        events.append(e)
        await asyncio.sleep(0.02)  # a slow reader
    finals = [e for e in events if e.kind == "final"]
    assert [e.text for e in finals] == [f"第{i}句" for i in range(1, 7)]
    assert [e.start for e in finals] == sorted(e.start for e in finals)
    assert decoder.most == 2


@pytest.fixture
async def fake_pool() -> AsyncIterator[AsrWorkerPool]:
    pool = AsrWorkerPool(EngineSpec("fake", options=(("script", "甲|乙|丙"),)), 1)
    await pool.start()
    yield pool
    await pool.close()


async def test_live_stream_with_a_lagging_reader_holds_one_interim_and_every_final(
    fake_pool: AsrWorkerPool,
) -> None:
    stream = VoskRecognizeStream(fake_pool, VadSettings(), 16000)
    await _push_paced(stream, talk(3))
    stream.end()
    await asyncio.wait_for(asyncio.shield(stream._consumer), 30)  # all fed, none read
    # 3 speech starts, 3 finals, the end mark and at most one of dozens of interims.
    assert stream._events.qsize() <= 3 + 3 + 1 + 1
    assert stream._events.interims_dropped > 10
    events = [e async for e in stream]
    assert [e.text for e in events if e.kind == "final"] == ["甲", "乙", "丙"]
    assert sum(e.kind == "interim" for e in events) <= 1


async def _push_paced(stream: RecognizeStream, data: bytes) -> None:
    for i, frame in enumerate(sig.frames(data)):
        stream.push(frame)
        if i % 10 == 0:
            await asyncio.sleep(0.005)  # the session is fed while audio arrives


async def test_audio_after_aclose_starts_nothing() -> None:
    decoder = CountingDecoder()
    stream = UtteranceRecognizeStream(decoder, VadSettings(), 16000)
    await stream.aclose()
    for frame in sig.frames(talk(2)):
        stream.push(frame)
    stream.end()
    await asyncio.sleep(0.1)
    assert decoder.n == 0
    assert [e async for e in stream] == []


async def test_an_abandoned_live_stream_ends_its_reader(fake_pool: AsrWorkerPool) -> None:
    stream = VoskRecognizeStream(fake_pool, VadSettings(), 16000)
    await stream.aclose()
    for frame in sig.frames(talk(1)):
        stream.push(frame)
    assert await asyncio.wait_for(_collect(stream), 5) == []


async def _collect(stream: RecognizeStream) -> list[TranscriptEvent]:
    return [e async for e in stream]
