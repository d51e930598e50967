"""Call recordings written to disk as the audio arrives.

The WAV header's sizes are rewritten and the file flushed at least once a second, so a
crash leaves a valid file missing at most the last second of audio.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import BinaryIO


def _header(sample_rate: int, data_bytes: int, channels: int = 1) -> bytes:
    byte_rate = sample_rate * channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * 2, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


class RecordingWriter:
    """Append 16-bit mono PCM to a WAV file; ``close()`` finalises it."""

    def __init__(self, path: Path, sample_rate: int, sync_interval: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sample_rate = sample_rate
        self._fh: BinaryIO | None = path.open("wb")
        self._fh.write(_header(sample_rate, 0))
        self._data_bytes = 0
        self._sync_interval = sync_interval
        self._last_sync = time.monotonic()

    @property
    def duration(self) -> float:
        return self._data_bytes / 2 / self.sample_rate

    def write(self, pcm: bytes) -> None:
        if self._fh is None:
            raise ValueError(f"recording {self.path.name} is closed")
        self._fh.write(pcm)
        self._data_bytes += len(pcm)
        if time.monotonic() - self._last_sync >= self._sync_interval:
            self.sync()

    def sync(self) -> None:
        """Make what was written so far a valid WAV on disk."""
        fh = self._fh
        if fh is None:
            return
        pos = fh.tell()
        fh.seek(0)
        fh.write(_header(self.sample_rate, self._data_bytes))
        fh.seek(pos)
        fh.flush()
        os.fsync(fh.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fh is None:
            return
        self.sync()
        self._fh.close()
        self._fh = None
