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

A disk that fails (full, I/O error) must not stop the call: the caller's audio goes on to
the recognizer after ``write()``. The first failure (opening, writing, the header, an fsync)
closes the file, marks the recording ``incomplete`` with the reason, and is logged once;
the file stays a valid WAV of what its header last described (``written_s``), and later
writes only count the call's length (``duration``). Each failure is also noted in
``DISK_HEALTH``, which /readyz reads.
"""

from __future__ import annotations

import contextlib
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


class DiskHealth:
    """When a recording last failed to be written (monotonic seconds): the disk counts as
    unhealthy for a while after each failure. Thread-safe (fsyncs fail in the syncer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_failure: float | None = None
        self.last_error: str | None = None

    def record_failure(self, error: str, now: float) -> None:
        with self._lock:
            self.last_failure, self.last_error = now, error

    def ok(self, now: float, window_s: float = 60.0) -> bool:
        """No recording write failed in the ``window_s`` seconds before ``now``."""
        with self._lock:
            return self.last_failure is None or now - self.last_failure >= window_s


DISK_HEALTH = DiskHealth()
"""This process's recordings' disk, for /readyz: ``DISK_HEALTH.ok(time.monotonic())``."""


def _header(sample_rate: int, data_bytes: int, channels: int = 1) -> bytes:
    byte_rate = sample_rate * channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * 2, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class RecordingWriter:
    """Append 16-bit mono PCM to a WAV file; ``close()`` finalises it. Disk errors never
    reach the caller: they make the recording ``incomplete`` (see the module docstring)."""

    def __init__(self, path: Path, sample_rate: int, sync_interval: float = 1.0, *,
                 health: DiskHealth = DISK_HEALTH) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.incomplete = False
        self.error: str | None = None  # why the recording is incomplete
        self._health = health
        self._received_bytes = 0  # the call's audio so far
        self._data_bytes = 0  # handed to the file
        self._header_bytes = 0  # the size the header in the file gives
        self._sync_interval = sync_interval
        self._last_sync = time.monotonic()
        self._closed = False
        self._fsync_lock = threading.Lock()
        self._fsync_pending = False  # an fsync of this file is queued or running
        self._final_fd: int | None = None  # closed while pending: the pending job's last fd
        self._fsync_error: str | None = None  # set by the syncer's thread
        self._fh: BinaryIO | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 (callers' voices), whatever the umask, then opened for writing.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self._fh = path.open("wb")
            self._fh.write(_header(sample_rate, 0))
        except OSError as exc:
            self._fail(_reason(exc))

    @property
    def duration(self) -> float:
        """Seconds of audio written to the recording, stored or not."""
        return self._received_bytes / 2 / self.sample_rate

    @property
    def written_s(self) -> float:
        """Seconds of audio in the file (once closed; up to ``duration`` if complete)."""
        return self._data_bytes / 2 / self.sample_rate

    def write(self, pcm: bytes) -> None:
        if self._closed:
            raise ValueError(f"recording {self.path.name} is closed")
        self._received_bytes += len(pcm)
        fh = self._fh
        if fh is None:
            return
        if self._fsync_error is not None:
            self._fail(self._fsync_error, logged=True)
            return
        try:
            fh.write(pcm)
        except OSError as exc:
            self._fail(_reason(exc))
            return
        self._data_bytes += len(pcm)
        if time.monotonic() - self._last_sync >= self._sync_interval:
            self.sync()

    def sync(self) -> None:
        """Make what was written so far a valid WAV in the file (and, soon, on the disk)."""
        fh = self._fh
        if fh is None:
            return
        with self._fsync_lock:
            start_fsync = not self._fsync_pending
            self._fsync_pending = True
        try:
            self._write_header(fh)
            fd = os.dup(fh.fileno()) if start_fsync else -1
        except OSError as exc:
            if start_fsync:
                with self._fsync_lock:
                    self._fsync_pending = False
            self._fail(_reason(exc))
            return
        if start_fsync:
            _SYNCER.submit(self._fsync, fd)

    def close(self) -> None:
        """Finish the file: its header describes all the audio and a last fsync is due."""
        if self._closed:
            return
        self._closed = True
        fh = self._fh
        if fh is None:
            return
        try:
            self._write_header(fh)
            fd = os.dup(fh.fileno())
        except OSError as exc:
            self._fail(_reason(exc))
            return
        with self._fsync_lock:
            handed_over = self._fsync_pending
            if handed_over:
                self._final_fd = fd  # the pending job syncs this one before it ends
            self._fsync_pending = True
        if not handed_over:
            _SYNCER.submit(self._fsync, fd)
        self._fh = None
        try:
            fh.close()
        except OSError as exc:
            self._fail(_reason(exc))

    def _write_header(self, fh: BinaryIO) -> None:
        fh.flush()
        os.pwrite(fh.fileno(), _header(self.sample_rate, self._data_bytes), 0)
        self._header_bytes = self._data_bytes
        self._last_sync = time.monotonic()

    def _fail(self, error: str, *, logged: bool = False) -> None:
        """The disk failed: no more writes, the file as its header describes it."""
        if not self.incomplete:
            self.incomplete, self.error = True, error
            self._data_bytes = self._header_bytes
            self._health.record_failure(error, time.monotonic())
            if not logged:
                log.warning("recording %s: not written (%s); the call goes on without it",
                            self.path.name, error)
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):  # the buffer it cannot flush
                fh.close()

    def _fsync(self, fd: int) -> None:
        """In the syncer's thread: fsync ``fd`` and close it; then the closing file's
        descriptor, if ``close()`` came meanwhile."""
        next_fd: int | None = fd
        while next_fd is not None:
            fd = next_fd
            try:
                os.fsync(fd)
            except OSError as exc:
                if self._fsync_error is None:
                    self._fsync_error = _reason(exc)
                    self._health.record_failure(self._fsync_error, time.monotonic())
                    log.warning("recording %s: fsync failed (%s)", self.path.name,
                                self._fsync_error)
            finally:
                os.close(fd)
                with self._fsync_lock:
                    next_fd, self._final_fd = self._final_fd, None
                    self._fsync_pending = next_fd is not None
