"""Call recordings written to disk as the audio arrives.

Every second the buffered audio is handed to the kernel and the WAV header's sizes are
rewritten in place (``os.pwrite``, which leaves the file position alone), so a crash of the
process leaves a valid file missing at most the last second. Forcing the data to the disk
(``fsync``, for power loss) takes milliseconds and must never block the event loop: it runs
in one background thread per process, on a duplicate of the file descriptor.
"""

from __future__ import annotations

import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

_SYNCER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-fsync")


def _header(sample_rate: int, data_bytes: int, channels: int = 1) -> bytes:
    byte_rate = sample_rate * channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * 2, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        """Make what was written so far a valid WAV in the file (and, soon, on the disk)."""
        fh = self._fh
        if fh is None:
            return
        fh.flush()
        os.pwrite(fh.fileno(), _header(self.sample_rate, self._data_bytes), 0)
        _SYNCER.submit(_fsync_and_close, os.dup(fh.fileno()))
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fh is None:
            return
        self.sync()
        self._fh.close()
        self._fh = None
