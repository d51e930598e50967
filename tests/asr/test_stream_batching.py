"""Batching the ASR front end changes nothing: a dev call fed packet by packet gives the
same utterance cuts, the same audio to the decoder and the same events whether it is
resampled and endpointed per 20 ms packet or ``BATCH_MS`` at a time."""

from __future__ import annotations

import asyncio

import pytest

from asr.audio import load_audio
from asr.engines.base import DecodeRequest, DecodeResult
from asr.stream import BATCH_MS, TranscriptEvent, UtteranceRecognizeStream
from asr.vad import Utterance
from config import VadSettings
from tests.asr import signals as sig

CALLS = ("D01.ulaw.wav", "D02.ulaw.wav", "D05.ulaw.wav")


async def _run(pcm: bytes, rate: int, batch_ms: int
               ) -> tuple[list[Utterance], list[bytes], list[TranscriptEvent]]:
    utterances: list[Utterance] = []
    decoded: list[bytes] = []

    async def decoder(request: DecodeRequest) -> DecodeResult:
        decoded.append(request.pcm)
        return DecodeResult(f"第{len(decoded)}句", 0.9)

    # Cut at 8 s: a call is one utterance up to 28 s by default, and cuts are the point.
    stream = UtteranceRecognizeStream(decoder, VadSettings(max_utterance_s=8.0), rate,
                                      speculate=False,
                                      on_utterance=utterances.append, batch_ms=batch_ms)

    async def consume() -> list[TranscriptEvent]:
        return [ev async for ev in stream]

    consumer = asyncio.create_task(consume())
    for packet in sig.frames(pcm, rate, 20):  # as RTP delivers it
        stream.push(packet)
        await asyncio.sleep(0)
    stream.end()
    return utterances, decoded, await consumer


@pytest.mark.parametrize("name", CALLS)
async def test_batched_front_end_cuts_and_feeds_the_same_audio(name: str) -> None:
    path = sig.CALLS / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    audio = load_audio(path)
    assert audio.sample_rate == 8000
    per_packet = await _run(audio.pcm, 8000, 20)
    batched = await _run(audio.pcm, 8000, BATCH_MS)
    utts, decoded, events = per_packet
    assert len(utts) >= 2  # a real call: several utterances
    assert [(u.start, u.end) for u in batched[0]] == [(u.start, u.end) for u in utts]
    assert [u.pcm for u in batched[0]] == [u.pcm for u in utts]
    assert batched[1] == decoded
    assert [(e.kind, e.start, e.end, e.text, e.pcm) for e in batched[2]] == [
        (e.kind, e.start, e.end, e.text, e.pcm) for e in events]


def test_the_batch_adds_at_most_100_ms() -> None:
    assert 20 <= BATCH_MS <= 100
