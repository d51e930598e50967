"""The bare engines, in their own worker processes: what the pipeline is measured against.

Bare Whisper is faster-whisper's ``transcribe`` on each whole file (with the pipeline's
own options and the same t2s); bare Vosk is one ``KaldiRecognizer`` fed the whole file.
Each reports its text, its process CPU seconds and its wall time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

_MODEL: Any = None
_T2S: Any = None


def init_whisper(model_path: str, threads: int) -> None:
    global _MODEL, _T2S
    import opencc
    from faster_whisper import WhisperModel

    _MODEL = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=threads,
                          num_workers=1)
    _T2S = opencc.OpenCC("t2s")


def whisper_file(pcm16k: bytes, beam: int) -> tuple[str, float, float]:
    import ctranslate2

    from asr.engines.whisper import DEFAULT_PROMPT, SAMPLING_SEED

    # The temperature fallback samples. CTranslate2 seeds its generator once per thread,
    # so this fixes only a worker's first fallback, as in the pipeline's workers.
    ctranslate2.set_random_seed(SAMPLING_SEED)
    t0, c0 = time.perf_counter(), time.process_time()
    audio = np.frombuffer(pcm16k, dtype="<i2").astype(np.float32) / 32768.0
    segments, _ = _MODEL.transcribe(audio, language="zh", beam_size=beam, vad_filter=False,
                                    condition_on_previous_text=False,
                                    initial_prompt=DEFAULT_PROMPT)
    text = "".join(_T2S.convert(s.text.strip()) for s in segments)
    return text, time.process_time() - c0, time.perf_counter() - t0


def init_vosk(model_path: str) -> None:
    global _MODEL
    import vosk

    vosk.SetLogLevel(-1)
    _MODEL = vosk.Model(model_path)


def vosk_file(pcm16k: bytes) -> tuple[str, float, float]:
    import vosk

    t0, c0 = time.perf_counter(), time.process_time()
    rec = vosk.KaldiRecognizer(_MODEL, 16000)
    rec.SetWords(True)
    texts: list[str] = []
    step = 16000 * 2 // 5
    for i in range(0, len(pcm16k), step):
        if rec.AcceptWaveform(pcm16k[i : i + step]):
            texts.append(json.loads(rec.Result()).get("text", ""))
    texts.append(json.loads(rec.FinalResult()).get("text", ""))
    return " ".join(t for t in texts if t), time.process_time() - c0, time.perf_counter() - t0


def vosk_segments(segments: list[bytes]) -> tuple[str, float, float]:
    """One recognizer fed only the given speech segments (what the VAD lets through), each
    closed with FinalResult: the floor for VAD-gated decoding, with no pipeline at all."""
    import vosk

    t0, c0 = time.perf_counter(), time.process_time()
    rec = vosk.KaldiRecognizer(_MODEL, 16000)
    rec.SetWords(True)
    texts: list[str] = []
    step = 16000 * 2 // 5
    for pcm16k in segments:
        for i in range(0, len(pcm16k), step):
            if rec.AcceptWaveform(pcm16k[i : i + step]):
                texts.append(json.loads(rec.Result()).get("text", ""))
        texts.append(json.loads(rec.FinalResult()).get("text", ""))
    return " ".join(t for t in texts if t), time.process_time() - c0, time.perf_counter() - t0


def warm() -> int:
    import os

    return os.getpid()


def vosk_session_memory(n: int) -> int:
    """Resident bytes added by ``n`` recognizers, each fed 1 s of audio."""
    import vosk

    from asr.worker import resident_bytes

    before = resident_bytes()
    recs = []
    noise = (np.random.default_rng(0).normal(0, 1000, 16000)).astype("<i2").tobytes()
    for _ in range(n):
        rec = vosk.KaldiRecognizer(_MODEL, 16000)
        rec.AcceptWaveform(noise)
        recs.append(rec)
    return (resident_bytes() - before) // n
