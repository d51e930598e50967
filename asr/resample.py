"""Streaming resampling to the engines' 16 kHz, keeping filter state across frames.

soxr filters in single precision whatever the sample type; with int16 output it also adds
dither whose pattern follows the chunk sizes, so the same audio cut differently came out
different (by up to 2 LSB). Here soxr works in float32 and the result is rounded to int16
without dither: the output depends only on the audio, never on how it was cut into chunks,
so resampling 100 ms at a time gives exactly what 20 ms packets one by one give.
"""

from __future__ import annotations

import numpy as np
import soxr

_INT16_MIN, _INT16_MAX = -32768, 32767


def _to_int16(out: np.ndarray) -> bytes:
    # In place and through the ufuncs themselves: np.clip's Python wrappers cost more than
    # the arithmetic on a 60 ms chunk.
    np.rint(out, out=out)
    np.maximum(out, _INT16_MIN, out=out)
    np.minimum(out, _INT16_MAX, out=out)
    pcm: bytes = out.astype("<i2").tobytes()
    return pcm


class StreamResampler:
    """Feed 16-bit mono PCM chunks of any size at ``in_rate``; get ``out_rate`` PCM back."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, pcm: bytes) -> bytes:
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        return _to_int16(self._stream.resample_chunk(samples, last=False))

    def flush(self) -> bytes:
        """The samples still held in the filter (call once, at the end of the stream)."""
        if self._stream is None:
            return b""
        return _to_int16(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
