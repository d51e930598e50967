"""RecognizeStream with the fake engine: event order, times, rates, errors, crashes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from asr.audio import load_audio
from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
from asr.pool import AsrWorkerCrashed, AsrWorkerPool
from asr.stream import RecognizeStream, TranscriptEvent, UtteranceRecognizeStream
from asr.streaming import VoskRecognizeStream
from config import VadSettings
from tests.asr import signals as sig

TWO_SENTENCES = np.concatenate([
    sig.silence(0.5), sig.speech("BAC009S0150W0154.wav"), sig.silence(1.5),
    sig.speech("BAC009S0252W0123.wav"), sig.silence(1.5),
])


async def feed(stream: RecognizeStream, data: bytes, rate: int) -> list[TranscriptEvent]:
    async def consume() -> list[TranscriptEvent]:
        return [e async for e in stream]

    consumer = asyncio.create_task(consume())
    for i, frame in enumerate(sig.frames(data, rate)):
        stream.push(frame)
        if i % 25 == 0:
            await asyncio.sleep(0)  # let decodes run while audio still arrives
    stream.end()
    return await consumer


def finals(events: list[TranscriptEvent]) -> list[TranscriptEvent]:
    return [e for e in events if e.kind == "final"]


def at_rate(x: np.ndarray, rate: int) -> bytes:
    return load_audio_bytes(sig.pcm(x), rate)


def load_audio_bytes(pcm16k: bytes, rate: int) -> bytes:
    from asr.audio import PcmAudio

    return PcmAudio(pcm16k, 16000).resampled(rate).pcm


class ScriptedDecoder:
    """An in-process decoder: text by utterance order, optionally failing some."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.requests: list[DecodeRequest] = []
        self._fail = fail or set()

    async def __call__(self, request: DecodeRequest) -> DecodeResult:
        self.requests.append(request)
        n = len(self.requests)
        await asyncio.sleep(0.05 if n == 1 else 0)  # the first finishes last
        if n in self._fail:
            raise AsrWorkerCrashed("utterance crashed the ASR worker twice")
        return DecodeResult(f"第{n}句 话", 0.8)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
async def test_utterance_stream_events_in_order_at_any_rate(rate: int) -> None:
    decoder = ScriptedDecoder()
    stream = UtteranceRecognizeStream(decoder, VadSettings(), rate, prompt="提示")
    events = await feed(stream, at_rate(TWO_SENTENCES, rate), rate)
    assert [e.kind for e in events] == ["speech_started", "speech_started", "final", "final"] \
        or [e.kind for e in events] == ["speech_started", "final", "speech_started", "final"]
    texts = [e.text for e in finals(events)]
    assert texts == ["第1句话", "第2句话"]  # utterance order, normalised
    first, second = finals(events)
    assert 0.3 < first.start < first.end < second.start < second.end
    assert second.end <= TWO_SENTENCES.size / sig.SR
    assert all(r.prompt == "提示" for r in decoder.requests)
    assert len(first.pcm) == round((first.end - first.start) * 16000) * 2


async def test_a_failed_decode_gives_an_error_final_and_the_stream_goes_on() -> None:
    stream = UtteranceRecognizeStream(ScriptedDecoder(fail={1}), VadSettings(), 16000)
    events = finals(await feed(stream, sig.pcm(TWO_SENTENCES), 16000))
    assert events[0].error and events[0].text == "" and events[0].pcm
    assert events[1].error is None and events[1].text == "第2句话"


async def test_silence_and_tones_decode_nothing() -> None:
    decoder = ScriptedDecoder()
    x = np.concatenate([sig.silence(1), sig.dtmf("12345#"), sig.dial_tone(2),
                        sig.white_noise(2, 1000)])
    events = await feed(UtteranceRecognizeStream(decoder, VadSettings(), 16000),
                        sig.pcm(x), 16000)
    assert events == [] and decoder.requests == []


async def test_push_after_end_is_an_error() -> None:
    stream = UtteranceRecognizeStream(ScriptedDecoder(), VadSettings(), 16000)
    stream.end()
    with pytest.raises(RuntimeError):
        stream.push(b"\0\0")
    assert [e async for e in stream] == []


@pytest.fixture
async def fake_pool() -> AsyncIterator[AsrWorkerPool]:
    pool = AsrWorkerPool(EngineSpec("fake", options=(("script", "甲|乙"),)), 2)
    await pool.start()
    yield pool
    await pool.close()


async def test_live_stream_gives_interim_then_final(fake_pool: AsrWorkerPool) -> None:
    stream = VoskRecognizeStream(fake_pool, VadSettings(), 8000)
    events = await feed(stream, at_rate(TWO_SENTENCES, 8000), 8000)
    kinds = [e.kind for e in events]
    assert kinds.count("speech_started") == 2
    assert kinds.count("final") == 2
    assert kinds.index("interim") < kinds.index("final")
    first, second = finals(events)
    assert first.text == "甲" and second.text == "乙"
    # Word times come back in stream time, though only speech was fed.
    assert first.words[0].start == pytest.approx(first.start, abs=0.05)
    assert first.words[0].end == pytest.approx(first.end, abs=0.05)
    assert second.words[0].start == pytest.approx(second.start, abs=0.05)
    assert second.words[0].end == pytest.approx(second.end, abs=0.05)


async def test_live_stream_replays_the_utterance_when_its_worker_dies(
    fake_pool: AsrWorkerPool,
) -> None:
    stream = VoskRecognizeStream(fake_pool, VadSettings(), 16000)
    data = sig.pcm(TWO_SENTENCES)
    consumer = asyncio.create_task(_collect(stream))
    killed = False
    for i, frame in enumerate(sig.frames(data)):
        stream.push(frame)
        await asyncio.sleep(0)
        if not killed and i > 150 and stream._session is not None:  # inside sentence one
            pid = stream._session.worker_pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed = True
    stream.end()
    events = await consumer
    assert killed
    texts = [e.text for e in finals(events)]
    assert len(texts) == 2 and all(texts) and not any(e.error for e in finals(events))
    assert fake_pool.restarts == 1


async def _collect(stream: RecognizeStream) -> list[TranscriptEvent]:
    return [e async for e in stream]


async def test_live_stream_rejects_a_bad_grammar(fake_pool: AsrWorkerPool) -> None:
    from asr.engines.vosk import GrammarError

    with pytest.raises(GrammarError):
        VoskRecognizeStream(fake_pool, VadSettings(), 16000, grammar=("好", ""))


def test_calls_fixture_exists() -> None:
    assert Path(sig.CALLS / "calls.tsv").is_file()
    assert load_audio(sig.CALLS / "D01.ulaw.wav").sample_rate == 8000


async def test_decoding_starts_at_the_pause_and_a_resumed_pause_is_cancelled() -> None:
    """Speculative endpointing: the decode that gives the final starts tail_ms after the
    last word, not end_ms; a pause the caller talks through cancels its decode."""
    vad = VadSettings()
    pushed = 0.0
    started: list[tuple[float, bytes]] = []
    cancelled: list[float] = []

    async def decoder(request: DecodeRequest) -> DecodeResult:
        at = pushed
        started.append((at, request.pcm))
        try:
            await asyncio.sleep(0.03)
        except asyncio.CancelledError:
            cancelled.append(at)
            raise
        return DecodeResult(f"第{len(started)}次", 0.9)

    stream = UtteranceRecognizeStream(decoder, vad, 16000)
    x = np.concatenate([sig.silence(0.5), sig.trimmed(sig.speech("BAC009S0150W0154.wav")),
                        sig.silence(0.5), sig.trimmed(sig.speech("BAC009S0252W0123.wav")),
                        sig.silence(1.5)])
    consumer = asyncio.create_task(_collect(stream))
    for frame in sig.frames(sig.pcm(x), 16000):
        stream.push(frame)
        pushed += 0.02
        await asyncio.sleep(0.001)  # decodes run while audio arrives, as in a live call
    stream.end()
    (final,) = finals(await consumer)
    assert stream.speculation_used == 1 and stream.speculated == len(started)
    # The 0.5 s pause between the sentences (at least) was spoken through: cancelled.
    assert len(cancelled) >= 1 and len(started) == len(cancelled) + 1
    at, pcm = started[-1]
    assert pcm == final.pcm and final.text == f"第{len(started)}次"
    # Started within a VAD batch (60 ms) of tail_ms after the last word, well before the
    # endpoint at end_ms.
    assert final.end <= at <= final.end + 0.08
    assert at < final.end + (vad.end_ms - vad.tail_ms) / 1000


async def test_without_speculation_decoding_waits_for_the_endpoint() -> None:
    vad = VadSettings()
    pushed = 0.0
    started: list[float] = []

    async def decoder(request: DecodeRequest) -> DecodeResult:
        started.append(pushed)
        return DecodeResult("好", 0.9)

    stream = UtteranceRecognizeStream(decoder, vad, 16000, speculate=False)
    x = np.concatenate([sig.silence(0.5), sig.speech("BAC009S0150W0154.wav"), sig.silence(1.5)])
    consumer = asyncio.create_task(_collect(stream))
    for frame in sig.frames(sig.pcm(x), 16000):
        stream.push(frame)
        pushed += 0.02
        await asyncio.sleep(0)
    stream.end()
    (final,) = finals(await consumer)
    assert started[0] >= final.end + (vad.end_ms - vad.tail_ms) / 1000 - 0.001
    assert stream.speculated == 0
