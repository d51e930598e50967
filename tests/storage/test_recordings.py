"""Recordings on a slow or failing disk (storage.recordings)."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from asr.audio import parse_wav
from storage.recordings import RecordingWriter


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
