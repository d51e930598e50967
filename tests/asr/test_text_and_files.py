"""Normalisation, the hot-word prompt, audio loading, and batch transcription."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from asr import g711
from asr.audio import AudioFormatError, load_audio, parse_wav
from asr.batch import transcribe_files
from asr.engines.base import EngineSpec
from asr.hotwords import MAX_PROMPT_CHARS, build_prompt, engine_prompt
from asr.normalize import normalize_text
from asr.pool import AsrWorkerPool
from config import Settings, VadSettings
from tests.asr import signals as sig


@pytest.mark.parametrize(("raw", "clean"), [
    ("我 姓 黄 ， 电话 幺三八 。", "我姓黄电话幺三八"),
    ("电话159-102-030-4-0", "电话159 102 030 4 0"),
    ("手机 138 1122 3344，谢谢！", "手机138 1122 3344谢谢"),
    ("６２２２三四幺零", "6222三四幺零"),  # digits and 幺 stay as spoken
    ("  ", ""),
])
def test_normalize(raw: str, clean: str) -> None:
    assert normalize_text(raw) == clean


def test_hotword_prompt_from_shipped_data() -> None:
    prompt = build_prompt()
    assert len(prompt) <= MAX_PROMPT_CHARS + 1
    for word in ("朝阳区", "海淀区", "街道", "物业"):
        assert word in prompt
    assert "井盖没" not in prompt  # a longer form of a word already there adds nothing


def test_hotword_prompt_survives_missing_files(tmp_path: Path) -> None:
    prompt = build_prompt(tmp_path / "none.json", tmp_path / "none.toml")
    assert prompt.startswith("以下是")
    assert engine_prompt(Settings()) is None  # off unless asked for


def _wav(tag: int, channels: int, rate: int, bits: int, payload: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_ulaw_call_file_matches_its_pcm_twin() -> None:
    ulaw = load_audio(sig.CALLS / "D03.ulaw.wav")
    pcm = load_audio(sig.CALLS / "D03.pcm8k.wav")
    assert ulaw.sample_rate == pcm.sample_rate == 8000
    assert ulaw.pcm == pcm.pcm


def test_wav_variants() -> None:
    x = (np.sin(np.arange(800) / 5) * 8000).astype("<i2")
    stereo = np.repeat(x, 2).tobytes()
    assert parse_wav(_wav(1, 2, 8000, 16, stereo)).pcm == x.tobytes()
    alaw = parse_wav(_wav(6, 1, 8000, 8, g711.pcm_to_alaw(x.tobytes())))
    assert np.max(np.abs(np.frombuffer(alaw.pcm, "<i2") - x)) < 300
    f32 = parse_wav(_wav(3, 1, 48000, 32, (x / 32767).astype("<f4").tobytes()))
    assert f32.sample_rate == 48000
    assert np.max(np.abs(np.frombuffer(f32.pcm, "<i2") - x)) <= 1


def test_bad_audio_is_refused_with_a_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFormatError, match="empty"):
        load_audio(empty)
    with pytest.raises(AudioFormatError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioFormatError, match="format tag 85"):
        parse_wav(_wav(85, 1, 8000, 16, b"\0" * 100))


async def test_transcribe_files_in_order_with_progress() -> None:
    pool = AsrWorkerPool(EngineSpec("fake", options=(("script", "你好 世界"),)), 2)
    await pool.start()
    files = [sig.CALLS / "D03.ulaw.wav", sig.DEV / "BAC009S0150W0154.wav",
             sig.CALLS / "D15.pcm8k.wav"]
    done: list[Path] = []
    try:
        results = await transcribe_files(pool, VadSettings(), files, done.append)
    finally:
        await pool.close()
    assert [r["path"] for r in results] == [str(f) for f in files]
    assert sorted(done) == sorted(files)
    for r in results:
        assert r["text"].startswith("你好世界")
        assert r["utterances"] and all(u["end"] > u["start"] for u in r["utterances"])
        json.dumps(r, ensure_ascii=False)  # jsonl-ready
