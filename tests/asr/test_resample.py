"""Streaming resampling: 8 kHz and 48 kHz to 16 kHz, state kept across frames."""

from __future__ import annotations

import numpy as np
import pytest

from asr.resample import StreamResampler


def _sine(rate: int, seconds: float, freq: float = 1000.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 10000).astype("<i2").tobytes()


def _run(rate: int, data: bytes, frame_bytes: int) -> np.ndarray:
    rs = StreamResampler(rate, 16000)
    out = b"".join(rs.process(data[i : i + frame_bytes])
                   for i in range(0, len(data), frame_bytes)) + rs.flush()
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_frame_by_frame_equals_one_piece(rate: int) -> None:
    data = _sine(rate, 1.0)
    whole = _run(rate, data, len(data))
    framed = _run(rate, data, rate * 20 // 1000 * 2)  # 20 ms RTP/WebRTC frames
    odd = _run(rate, data, 2 * 37)  # frames that do not divide the filter's blocks
    # Exactly equal: the output depends on the audio only, never on how it was cut (with
    # soxr's int16 output its dither followed the chunks: up to 2 LSB apart).
    assert np.array_equal(whole, framed)
    assert np.array_equal(whole, odd)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_output_is_16k_with_the_tone_in_place(rate: int) -> None:
    out = _run(rate, _sine(rate, 1.0, 1000.0), rate * 20 // 1000 * 2)
    assert abs(out.size - 16000) <= 2
    spectrum = np.abs(np.fft.rfft(out[1000:15000]))
    peak_hz = np.argmax(spectrum) * 16000 / 14000
    assert abs(peak_hz - 1000) < 5


def test_no_clicks_at_frame_boundaries() -> None:
    out = _run(8000, _sine(8000, 1.0, 440.0), 320)
    # A 440 Hz sine at 16 kHz changes by at most 2π·440/16000·10000 ≈ 1728 per sample.
    assert np.max(np.abs(np.diff(out[200:-200]))) < 1800


def test_same_rate_passes_through() -> None:
    data = _sine(16000, 0.1)
    rs = StreamResampler(16000, 16000)
    assert rs.process(data) == data
    assert rs.flush() == b""
