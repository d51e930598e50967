"""Call recordings written to disk as the audio arrives.

Every second the buffered audio is handed to the kernel and the WAV header's sizes are
rewritten in place (``os.pwrite``, which leaves the file position alone), so a crash of the
process leaves a valid file missing at most the last second. Forcing the data to the disk
(``fsync``, for power loss) takes milliseconds and must never block the event loop: it runs
in one background thread per process, on a duplicate of the file descriptor.

A recording has at most one fsync queued or running. A sync that finds its previous fsync
still pending skips the fsync (the pending one, or the next sync after it, covers the data),
so a disk slower than the sync interval costs neither a growing queue nor a descriptor per
second. ``close()`` must leave the end of the file on its way to the disk: if an fsync is
still pending then, the pending job runs one more fsync on the closed file's descriptor
before it finishes.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
_SYNCER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-fsync")


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
        self._fsync_lock = threading.Lock()
        self._fsync_pending = False  # an fsync of this file is queued or running
        self._final_fd: int | None = None  # closed while pending: the pending job's last fd

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
        self._write_header(fh)
        with self._fsync_lock:
            if self._fsync_pending:
                return
            self._fsync_pending = True
        _SYNCER.submit(self._fsync, os.dup(fh.fileno()))

    def close(self) -> None:
        """Finish the file: its header describes all the audio and a last fsync is due."""
        fh = self._fh
        if fh is None:
            return
        self._write_header(fh)
        fd = os.dup(fh.fileno())
        with self._fsync_lock:
            handed_over = self._fsync_pending
            if handed_over:
                self._final_fd = fd  # the pending job syncs this one before it ends
            self._fsync_pending = True
        if not handed_over:
            _SYNCER.submit(self._fsync, fd)
        fh.close()
        self._fh = None

    def _write_header(self, fh: BinaryIO) -> None:
        fh.flush()
        os.pwrite(fh.fileno(), _header(self.sample_rate, self._data_bytes), 0)
        self._last_sync = time.monotonic()

    def _fsync(self, fd: int) -> None:
        """In the syncer's thread: fsync ``fd`` and close it; then the closing file's
        descriptor, if ``close()`` came meanwhile."""
        next_fd: int | None = fd
        while next_fd is not None:
            fd = next_fd
            try:
                os.fsync(fd)
            except OSError as exc:
                log.warning("recording %s: fsync failed (%s)", self.path.name,
                            exc.strerror or exc)
            finally:
                os.close(fd)
                with self._fsync_lock:
                    next_fd, self._final_fd = self._final_fd, None
                    self._fsync_pending = next_fd is not None
