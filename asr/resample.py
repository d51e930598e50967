"""Streaming resampling to the engines' 16 kHz, keeping filter state across frames."""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    """Feed 16-bit mono PCM chunks of any size at ``in_rate``; get ``out_rate`` PCM back."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")
        )

    def process(self, pcm: bytes) -> bytes:
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        out: np.ndarray = self._stream.resample_chunk(samples, last=False)
        return out.astype("<i2").tobytes()

    def flush(self) -> bytes:
        """The samples still held in the filter (call once, at the end of the stream)."""
        if self._stream is None:
            return b""
        out: np.ndarray = self._stream.resample_chunk(np.zeros(0, dtype="<i2"), last=True)
        return out.astype("<i2").tobytes()
