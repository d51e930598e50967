"""Driving the pipeline for the benchmark: as fast as possible, or paced in real time."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from asr.engines.base import DecodeRequest, DecodeResult
from asr.pool import AsrWorkerPool
from asr.stream import RecognizeStream, TranscriptEvent, UtteranceRecognizeStream
from asr.streaming import VoskRecognizeStream
from asr.vad import Utterance
from bench.asr.common import Item
from config import VadSettings

FRAME_MS = 20


def make_stream(pool: AsrWorkerPool, vad: VadSettings, rate: int,
                on_utterance: dict[float, float] | None = None,
                speculate: bool = True) -> RecognizeStream:
    """The stream the service would open, noting when each utterance was endpointed."""
    if pool.spec.kind == "vosk":
        return VoskRecognizeStream(pool, vad, rate)

    def note(utt: Utterance) -> None:
        if on_utterance is not None:
            on_utterance[round(utt.start, 3)] = time.perf_counter()

    return UtteranceRecognizeStream(pool.decode, vad, rate, on_utterance=note,
                                    speculate=speculate)


async def transcribe_fast(pool: AsrWorkerPool, vad: VadSettings, items: list[Item],
                          concurrency: int) -> dict[str, str]:
    """Every item through its own stream, fed at full speed, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    texts: dict[str, str] = {}

    async def one(item: Item) -> None:
        async with gate:
            stream = make_stream(pool, vad, item.audio.sample_rate)
            events = asyncio.create_task(_collect(stream))
            step = item.audio.sample_rate * FRAME_MS // 1000 * 2
            for i in range(0, len(item.audio.pcm), step):
                stream.push(item.audio.pcm[i : i + step])
                if i % (step * 50) == 0:
                    await asyncio.sleep(0)
            stream.end()
            texts[item.name] = "".join(e.text for e in await events if e.kind == "final")

    await asyncio.gather(*(one(i) for i in items))
    return texts


async def _collect(stream: RecognizeStream) -> list[TranscriptEvent]:
    return [e async for e in stream]


@dataclass
class Latency:
    speech_end_to_final: list[float] = field(default_factory=list)
    endpoint_to_final: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    speculated: int = 0  # decodes started on a pause
    speculation_used: int = 0  # of which the endpoint kept


async def paced(pool: AsrWorkerPool, vad: VadSettings, lanes: list[list[Item]],
                gap_s: float = 1.2, speculate: bool = True) -> Latency:
    """Each lane is one caller speaking its items in real time, with pauses between them.

    Speech end is the stream time of the utterance's last voiced frame (its end minus the
    kept tail); latency is the wall time from that moment to the final's arrival.
    """
    out = Latency()

    async def lane(items: list[Item]) -> None:
        rate = items[0].audio.sample_rate
        if any(i.audio.sample_rate != rate for i in items):
            items = [i for i in items if i.audio.sample_rate == rate]
        endpointed: dict[float, float] = {}
        stream = make_stream(pool, vad, rate, endpointed, speculate)
        tail = (stream.vad if isinstance(stream, UtteranceRecognizeStream) else vad).tail_ms
        tail_s = tail / 1000
        gap = b"\0\0" * int(rate * gap_s)
        audio = b"".join(i.audio.pcm + gap for i in items)
        step = rate * FRAME_MS // 1000 * 2
        t0 = time.perf_counter()

        async def consume() -> None:
            async for e in stream:
                if e.kind != "final" or not e.text:
                    continue
                now = time.perf_counter()
                out.speech_end_to_final.append(now - (t0 + e.end - tail_s))
                out.durations.append(e.end - e.start)
                if (t := endpointed.get(round(e.start, 3))) is not None:
                    out.endpoint_to_final.append(now - t)

        consumer = asyncio.create_task(consume())
        for n, i in enumerate(range(0, len(audio), step)):
            stream.push(audio[i : i + step])
            delay = t0 + (n + 1) * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        stream.end()
        await consumer
        if isinstance(stream, UtteranceRecognizeStream):
            out.speculated += stream.speculated
            out.speculation_used += stream.speculation_used

    await asyncio.gather(*(lane(items) for items in lanes if items))
    return out


async def stream_state_bytes(vad: VadSettings, rate: int, n: int = 20) -> int:
    """Memory one stream holds mid-utterance (resampler, endpointer, buffers), measured
    with tracemalloc over ``n`` streams each fed 5 s of speech-like audio."""
    async def never(_r: DecodeRequest) -> DecodeResult:
        await asyncio.sleep(3600)
        return DecodeResult("", 0.0)

    t = np.arange(rate * 5) / rate
    voice = (np.sin(2 * np.pi * 150 * t) * np.sin(2 * np.pi * 3 * t) ** 2 * 8000)
    pcm = voice.astype("<i2").tobytes()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    streams = [UtteranceRecognizeStream(never, vad, rate) for _ in range(n)]
    step = rate * FRAME_MS // 1000 * 2
    for s in streams:
        for i in range(0, len(pcm), step):
            s.push(pcm[i : i + step])
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    for s in streams:
        await s.aclose()
    return used // n
