"""Issue 17 row 5: the database, recordings and prompts are private to the service's user.

The service's command runs as a non-root user (``nobody``) with a permissive umask (022);
the files it creates are 0600 in 0700 directories, and another user (``daemon``) cannot
read the database.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivr.prompts import save_raw, ulaw_wav
from storage.recordings import RecordingWriter

RUNUSER = shutil.which("runuser")
as_root = pytest.mark.skipif(os.geteuid() != 0 or RUNUSER is None,
                             reason="needs root and runuser to switch users")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory the ``nobody`` user may create its data directory in."""
    root = Path(tempfile.mkdtemp(prefix="vi-modes-"))
    root.chmod(0o755)
    shutil.chown(root, "nobody")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _as(user: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert RUNUSER is not None
    return subprocess.run([RUNUSER, "-u", user, "--", *args], text=True, capture_output=True,
                          timeout=60, check=False)


def _with_stdin(text: str) -> tuple[int, object]:
    """fd 0 and ``sys.stdin`` reading ``text``; returns what to restore."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, text.encode())
    os.close(write_fd)
    saved = os.dup(0)
    os.dup2(read_fd, 0)
    os.close(read_fd)
    old = sys.stdin
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    return saved, old


def _warm_up(main: Callable[[list[str]], int], argv: list[str], stdin: str) -> None:
    """Run ``main(argv)`` as root on a throwaway data directory, for its imports."""
    scratch = tempfile.mkdtemp(prefix="vi-warm-")
    env = os.environ.get("VOICE_INTAKE_DATA_DIR")
    os.environ["VOICE_INTAKE_DATA_DIR"] = str(Path(scratch) / "data")
    mask = os.umask(0o022)
    saved, old = _with_stdin(stdin)
    try:
        main(argv)
    finally:
        sys.stdin.close()
        sys.stdin = old  # type: ignore[assignment]
        os.dup2(saved, 0)
        os.close(saved)
        os.umask(mask)
        if env is None:
            os.environ.pop("VOICE_INTAKE_DATA_DIR", None)
        else:
            os.environ["VOICE_INTAKE_DATA_DIR"] = env
        shutil.rmtree(scratch, ignore_errors=True)


def _cli_as(user: str, argv: list[str], stdin: str) -> int:
    """``voice-intake argv`` in a child process that has become ``user`` (umask 022).

    The interpreter lives under /root (0700), out of reach of ``nobody``, so the child is a
    fork of this process that drops root before it runs the command, with every module the
    command needs already imported: the command is run once as root first, on a throwaway
    data directory (the standard library's lazy imports, e.g. aiohttp's ``netrc``, would
    fail in the child)."""
    from voice_gateway import cli

    _warm_up(cli.main, argv, stdin)
    record = pwd.getpwnam(user)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, stdin.encode())
    os.close(write_fd)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.dup2(read_fd, 0)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115
            os.setgroups([])
            os.setgid(record.pw_gid)
            os.setuid(record.pw_uid)
            os.umask(0o022)
            code = cli.main(argv)
        finally:
            os._exit(code)
    os.close(read_fd)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@as_root
def test_the_service_as_a_non_root_user_keeps_its_data_private(
    nobody_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = nobody_dir / "data"
    monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(data))
    rc = _cli_as("nobody", ["users", "add", "agent1", "--role", "agent"],
                 "a long enough passphrase\n")
    assert rc == 0
    db = data / "voice-intake.db"
    assert db.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    assert mode(data) == 0o700
    files = [p for p in data.iterdir() if p.is_file()]
    assert db in files
    for f in files:
        assert mode(f) == 0o600, f
    leak = _as("daemon", "head", "-c16", str(db))
    assert leak.returncode != 0 and leak.stdout == ""


def test_recordings_are_created_private(tmp_path: Path, permissive_umask: None) -> None:
    writer = RecordingWriter(tmp_path / "recordings" / "call.wav", 8000)
    writer.write(b"\0\0" * 800)
    writer.close()
    assert mode(tmp_path / "recordings") == 0o700
    assert mode(tmp_path / "recordings" / "call.wav") == 0o600


def test_prompts_are_created_private(tmp_path: Path, permissive_umask: None) -> None:
    path = save_raw(tmp_path / "prompts", "welcome", ulaw_wav(b"\xff" * 800))
    assert mode(tmp_path / "prompts") == 0o700 and mode(path) == 0o600


def test_the_command_sets_a_private_umask(tmp_path: Path, permissive_umask: None,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from voice_gateway import cli

    monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(tmp_path / "data"))
    try:
        assert cli.main(["users", "list"]) == 0
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(0o022)
