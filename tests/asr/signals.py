"""Test signals: telephone tones and noises made here, real speech from ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from asr.audio import load_audio

SR = 16000
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
MODEL_DIR = Path(os.environ.get("VOICE_INTAKE_MODEL_DIR", SHARED / "models"))
DEV = SHARED / "audio" / "dev"
CALLS = SHARED / "audio" / "calls" / "dev"

DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209),
    "5": (770, 1336), "6": (770, 1477), "7": (852, 1209), "8": (852, 1336),
    "9": (852, 1477), "0": (941, 1336), "*": (941, 1209), "#": (941, 1477),
}


def tone(freqs: tuple[float, ...], seconds: float, level: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(np.sin(2 * np.pi * f * t) for f in freqs) * level / len(freqs)  # type: ignore[no-any-return]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR))


def dtmf(digits: str, on: float = 0.1, off: float = 0.07) -> np.ndarray:
    return np.concatenate([np.concatenate([tone(DTMF[d], on), silence(off)]) for d in digits])


def dial_tone(seconds: float = 3.0) -> np.ndarray:
    """China's dial tone: a continuous 450 Hz."""
    return tone((450,), seconds)


def busy_tone(cycles: int = 6) -> np.ndarray:
    return np.concatenate([np.concatenate([tone((450,), 0.35), silence(0.35)])] * cycles)


def white_noise(seconds: float, rms: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, rms, int(seconds * SR))


def pink_noise(seconds: float, rms: float, seed: int = 2) -> np.ndarray:
    n = int(seconds * SR)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=n))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    x = np.fft.irfft(spectrum, n)
    return x / np.std(x) * rms  # type: ignore[no-any-return]


def speech(name: str) -> np.ndarray:
    """A real recording from shared/audio/dev at 16 kHz."""
    audio = load_audio(DEV / name).resampled(SR)
    return np.frombuffer(audio.pcm, dtype="<i2").astype(np.float64)


def pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def frames(data: bytes, rate: int = SR, ms: int = 20) -> list[bytes]:
    step = rate * ms // 1000 * 2
    return [data[i : i + step] for i in range(0, len(data), step)]


def trimmed(x: np.ndarray, level: float = 300.0) -> np.ndarray:
    """``x`` without its quiet ends (20 ms frames under ``level`` RMS)."""
    n = SR // 50
    loud = [i for i in range(0, x.size - n + 1, n)
            if np.sqrt(np.mean(x[i : i + n].astype(np.float64) ** 2)) >= level]
    return x[loud[0] : loud[-1] + n] if loud else x[:0]
