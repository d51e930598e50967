"""Recordings on a slow or failing disk (storage.recordings)."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from asr.audio import parse_wav
from storage.recordings import DISK_HEALTH, DiskHealth, RecordingWriter


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _fds_to(path: Path) -> int:
    """Descriptors of this process open on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:  # closed meanwhile (the listing's own descriptor, a finished fsync)
            pass
    return count


def _wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_fsync_at_a_time_per_recording_on_a_slow_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    covered: dict[int, int] = defaultdict(int)  # inode -> largest file size an fsync saw
    calls = 0

    def slow_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        st = os.fstat(fd)
        time.sleep(0.02)
        real_fsync(fd)
        covered[st.st_ino] = max(covered[st.st_ino], st.st_size)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    before = _open_fds()
    writers = [RecordingWriter(tmp_path / f"call{i}.wav", 8000, sync_interval=0.0)
               for i in range(3)]
    peak_per_file = peak_extra = 0
    for _ in range(50):  # 150 syncs in ~0.1 s against 20 ms per fsync
        for w in writers:
            w.write(b"\x01\x00" * 160)
        peak_per_file = max(peak_per_file, *(_fds_to(w.path) for w in writers))
        peak_extra = max(peak_extra, _open_fds() - before)
        time.sleep(0.002)
    # The writer's own descriptor, and at most one pending fsync's duplicate.
    assert peak_per_file <= 2
    assert peak_extra <= 2 * len(writers)
    for w in writers:
        w.close()
    _wait_until(lambda: all(_fds_to(w.path) == 0 for w in writers))
    assert _open_fds() <= before  # no descriptor leaked
    assert calls < 100
    for w in writers:
        data = w.path.read_bytes()
        assert parse_wav(data).duration == pytest.approx(50 * 0.02)
        # close() left a last fsync that covered the whole file.
        assert covered[os.stat(w.path).st_ino] == len(data)


def test_close_during_a_pending_fsync_leaves_one_more_for_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    release = threading.Event()
    sizes: list[int] = []

    def stuck_fsync(fd: int) -> None:
        assert release.wait(5)
        sizes.append(os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", stuck_fsync)
    rec = RecordingWriter(tmp_path / "call.wav", 8000, sync_interval=0.0)
    for _ in range(10):
        rec.write(b"\x01\x00" * 800)
        assert _fds_to(rec.path) <= 2
    rec.close()
    assert _fds_to(rec.path) <= 2  # the pending fsync's and the one for the end
    release.set()
    _wait_until(lambda: _fds_to(rec.path) == 0)
    # The fsync pending at close, then one for the end of the file: 10 writes, 2 fsyncs.
    assert len(sizes) == 2 and sizes[-1] == 44 + 16000


# --- a disk that fails -------------------------------------------------------------------

SECOND = b"\x01\x00" * 8000  # 1 s at 8 kHz
FRAME = b"\x02\x00" * 160  # 20 ms


class FillingFile:
    """A recording's file on a disk that fills up when ``full`` is set."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "wb", buffering=0)  # noqa: SIM115 (closed by the writer)
        self.full = False

    def _check(self) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(self, data: bytes) -> int:
        self._check()
        return self._raw.write(data)

    def flush(self) -> None:
        self._check()

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()


@pytest.fixture
def filling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[FillingFile]]:
    """A path whose recording is a FillingFile (the files opened, in a list)."""
    path = tmp_path / "rec" / "call.wav"
    opened: list[FillingFile] = []
    real_open = Path.open

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self == path and "w" in mode:
            opened.append(FillingFile(self))
            return opened[-1]
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    return path, opened


def test_a_full_disk_mid_call_leaves_an_incomplete_recording_and_no_exception(
    filling: tuple[Path, list[FillingFile]], caplog: pytest.LogCaptureFixture
) -> None:
    path, opened = filling
    health = DiskHealth()
    rec = RecordingWriter(path, 8000, sync_interval=0.0, health=health)
    rec.write(SECOND)
    assert not rec.incomplete and rec.written_s == 1.0 and health.ok(time.monotonic())
    opened[0].full = True
    with caplog.at_level(logging.WARNING, logger="storage.recordings"):
        for _ in range(100):  # 2 s more: written nowhere, but the call goes on
            rec.write(FRAME)
    assert rec.incomplete and rec.error == "No space left on device"
    assert rec.duration == pytest.approx(3.0)  # the call's real length
    assert rec.written_s == 1.0  # what the file on disk holds
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "call.wav" in warnings[0]
    assert str(path.parent) not in warnings[0]
    now = time.monotonic()
    assert health.last_failure is not None and not health.ok(now)
    assert health.ok(now + 61)
    rec.close()  # quietly
    _wait_until(lambda: _fds_to(path) == 0)
    assert parse_wav(path.read_bytes()).duration == 1.0  # valid up to the failure


def test_a_failed_header_rewrite_is_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = DiskHealth()
    rec = RecordingWriter(tmp_path / "call.wav", 8000, sync_interval=0.0, health=health)
    rec.write(SECOND)

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "pwrite", pwrite)
    rec.write(FRAME)
    assert rec.incomplete and rec.error == "Input/output error"
    assert rec.duration == pytest.approx(1.02) and rec.written_s == 1.0
    assert not health.ok(time.monotonic())
    rec.close()


def test_a_failed_fsync_marks_the_recording_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = DiskHealth()

    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", fsync)
    rec = RecordingWriter(tmp_path / "call.wav", 8000, sync_interval=0.0, health=health)
    rec.write(SECOND)
    _wait_until(lambda: health.last_failure is not None)
    rec.write(FRAME)
    assert rec.incomplete and rec.error == "Input/output error"
    assert rec.duration == pytest.approx(1.02)
    rec.close()
    _wait_until(lambda: _fds_to(rec.path) == 0)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_real_full_device(tmp_path: Path) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    path = tmp_path / "call.wav"
    path.symlink_to("/dev/full")
    rec = RecordingWriter(path, 8000, sync_interval=0.0, health=DiskHealth())
    rec.write(SECOND)
    rec.write(FRAME)
    assert rec.incomplete and rec.error == "No space left on device"
    assert rec.duration == pytest.approx(1.02) and rec.written_s == 0.0
    rec.close()


def test_a_recording_that_cannot_be_opened_starts_incomplete(tmp_path: Path) -> None:
    (tmp_path / "rec").write_text("a file where the directory should be")
    health = DiskHealth()
    rec = RecordingWriter(tmp_path / "rec" / "call.wav", 8000, health=health)
    assert rec.incomplete and rec.error
    rec.write(SECOND)
    assert rec.duration == 1.0 and rec.written_s == 0.0
    assert not health.ok(time.monotonic())
    rec.close()


def test_disk_health_window() -> None:
    health = DiskHealth()
    assert health.ok(100.0) and health.last_failure is None
    health.record_failure("No space left on device", 100.0)
    assert health.last_failure == 100.0 and health.last_error == "No space left on device"
    assert not health.ok(159.0)
    assert health.ok(160.0)
    assert not health.ok(200.0, window_s=120)
    assert isinstance(DISK_HEALTH, DiskHealth)  # the process's, for /readyz
