"""sipp as the called party (a UAS scenario in tests/sipp/scenarios), for outbound tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.sipp.harness import SCENARIOS, SIPP, SippRun, free_port


@dataclass
class SippUas:
    """A sipp listening on 127.0.0.1:``port``; ``result()`` waits for it to finish."""

    port: int
    process: asyncio.subprocess.Process
    errors: Path
    timeout_s: float

    async def result(self) -> SippRun:
        out, err = await asyncio.wait_for(self.process.communicate(), self.timeout_s + 30)
        text = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        return SippRun(self.process.returncode or 0, out.decode(errors="replace"),
                       err.decode(errors="replace"), text)  # fmt: skip


@contextlib.asynccontextmanager
async def sipp_uas(
    scenario: str, workdir: Path, *, values: dict[str, str] | None = None, calls: int = 1,
    transport: str = "u1", timeout_s: int = 60, port: int | None = None,
) -> AsyncIterator[SippUas]:
    """Start sipp with ``scenario`` (``@NAME@`` placeholders from ``values``) as a UAS for
    ``calls`` calls; killed on exit if it is still running."""
    assert SIPP is not None, "sipp is not installed (Debian package sip-tester)"
    port = port or free_port()
    xml = (SCENARIOS / scenario).read_text()
    for name, value in (values or {}).items():
        xml = xml.replace(f"@{name}@", value)
    rendered = workdir / f"rendered-{port}-{scenario}"
    rendered.write_text(xml)
    errors = workdir / f"sipp-{scenario}-{port}.errors"
    cmd = [
        SIPP, "-sf", str(rendered), "-i", "127.0.0.1", "-p", str(port),
        "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", str(calls), "-t", transport,
        "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error", "-trace_err",
        "-error_file", str(errors),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    await asyncio.sleep(0.3)  # let it bind (our INVITE is retransmitted anyway)
    uas = SippUas(port, proc, errors, timeout_s)
    try:
        yield uas
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
