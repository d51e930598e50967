"""Whisper decodes an utterance after its context (#15 item 5): the previous utterance's
audio at the start of the window and its text as the decoder's forced prefix; only the
utterance's own text comes back; and a long utterance is decoded to its end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from asr.audio import load_audio
from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
from asr.engines.whisper import WhisperEngine
from asr.stream import UtteranceRecognizeStream
from config import VadSettings
from tests.asr import signals as sig

pytestmark = pytest.mark.slow

A = "BAC009S0150W0154.wav"  # 从今年开始万达就要全面退出住宅销售市场
B = "BAC009S0252W0487.wav"  # 北京东南四环七车追尾无人员伤亡


@pytest.fixture(scope="module")
def engine(whisper_dir: Path) -> WhisperEngine:
    return WhisperEngine(EngineSpec("whisper", str(whisper_dir), threads=2))


def test_only_the_utterance_after_the_context_is_transcribed(engine: WhisperEngine) -> None:
    a, b = sig.pcm(sig.speech(A)), sig.pcm(sig.speech(B))
    before = engine.decode(DecodeRequest(a)).text
    assert "万达" in before
    result = engine.decode(DecodeRequest(b, context_pcm=a + sig.pcm(sig.silence(0.5)),
                                         context_text=before))
    assert result.text.startswith("北京东南") and "伤亡" in result.text
    assert "万达" not in result.text and "住宅" not in result.text


def test_context_is_left_out_when_it_does_not_fit_the_window(engine: WhisperEngine) -> None:
    b = sig.pcm(sig.speech(B))
    long_context = sig.pcm(np.tile(sig.speech(A), 8))  # about 40 s: no room for b
    plain = engine.decode(DecodeRequest(b))
    assert engine.decode(DecodeRequest(b, context_pcm=long_context,
                                       context_text="从今年开始")) == plain
    # Silence after context is still silence: nothing is invented for it.
    quiet = engine.decode(DecodeRequest(sig.pcm(sig.silence(3)), context_pcm=b,
                                        context_text=plain.text))
    assert quiet.text == ""


async def test_a_long_utterance_is_decoded_to_its_end(engine: WhisperEngine) -> None:
    """An 18 s monologue in one window (the call through the stream, utterances of up to
    28 s): Whisper closed a segment at 10 s and stopped there; the rest is decoded from
    that point, as faster-whisper's transcribe does."""
    async def decode(req: DecodeRequest) -> DecodeResult:
        return await asyncio.to_thread(engine.decode, req)

    call = load_audio(sig.CALLS / "D01.ulaw.wav")  # 8 kHz μ-law, 19.9 s
    stream = UtteranceRecognizeStream(decode, VadSettings(max_utterance_s=28.0),
                                      call.sample_rate)
    for frame in sig.frames(call.pcm, call.sample_rate):
        stream.push(frame)
    stream.end()
    (final,) = [e async for e in stream if e.kind == "final"]
    assert final.end - final.start > 15
    assert final.text.startswith("你好") and "电梯" in final.text  # before 10 s
    assert "三号楼" in final.text and "电话" in final.text  # and after


def test_the_rest_after_an_early_stop(engine: WhisperEngine) -> None:
    """Where the decode goes on: from the last timestamp of a sequence that ends with a
    closed segment (two timestamps running), in the utterance's own time; not after a
    sequence that ends in text or a lone timestamp, nor for a rest under MIN_REST_S."""
    begin = engine._tokenizer.timestamp_begin
    text = engine._tokenizer.encode(" 你好")
    pcm = sig.pcm(sig.white_noise(18, 1000))
    ts = begin + 500  # 10.00 s
    assert engine._unheard([begin, *text, ts, ts], DecodeRequest(pcm)) == pcm[320000:]
    assert engine._unheard([begin, *text, ts], DecodeRequest(pcm)) == b""
    assert engine._unheard([begin, *text], DecodeRequest(pcm)) == b""
    near_end = begin + 890  # 17.8 s: 0.2 s left
    assert engine._unheard([begin, *text, near_end, near_end], DecodeRequest(pcm)) == b""
    # With 4 s of context before it, the window's 10 s is the utterance's 6 s.
    with_context = DecodeRequest(pcm, context_pcm=sig.pcm(sig.silence(4)),
                                 context_text="喂")
    assert engine._unheard([*text, ts, ts], with_context) == pcm[192000:]
