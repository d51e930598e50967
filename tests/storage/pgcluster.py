"""A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, pg_ctl on a free port.

Uses the Debian server binaries (/usr/lib/postgresql/N/bin). As root, the cluster runs as
the ``postgres`` user (PostgreSQL refuses to run as root). Trust authentication on
127.0.0.1 only; fsync off, since the cluster is thrown away at the end of the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bin_dir() -> Path | None:
    """The newest installed server's bin directory, or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def temporary_cluster() -> Iterator[str]:
    """Start a cluster; yield its server URL (``postgresql+asyncpg://postgres@host:port``)."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="voice-intake-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, cwd=root, capture_output=True, timeout=120)

    started = False
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-locale")
        opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "start")
        started = True
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}"
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"PostgreSQL failed: {exc.stderr.decode(errors='replace')}{tail}") \
            from exc
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError):
                run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


async def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the cluster; return its SQLAlchemy URL."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{server_url}/{name}"
