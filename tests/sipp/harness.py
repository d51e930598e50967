"""Running the real sipp against a gateway on loopback (tests and bench/sip)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.audio import load_audio
from asr.g711 import pcm_to_ulaw
from config import Settings
from tests.sipp.pcap import write_rtp_pcap
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.services import Services, open_services

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SIPP = shutil.which("sipp")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass(frozen=True)
class SippRun:
    returncode: int
    stdout: str
    stderr: str
    errors: str


async def run_sipp(
    scenario: str, port: int, workdir: Path, *, calls: int = 1, concurrency: int = 1,
    rate: float = 10.0, inf: list[list[str]] | None = None, transport: str = "u1",
    timeout_s: int = 120, values: dict[str, str] | None = None,
    extra: tuple[str, ...] = (), media_ip: str = "127.0.0.1",
) -> SippRun:
    """Run ``scenario`` (a file in tests/sipp/scenarios, its ``@NAME@`` placeholders
    replaced from ``values``) against 127.0.0.1:``port``; sipp's media (its SDP address
    and the RTP it plays) on ``media_ip``, which may differ from its signalling's."""
    assert SIPP is not None, "sipp is not installed (Debian package sip-tester)"
    errors = workdir / f"sipp-{scenario}-{port}.errors"
    xml = (SCENARIOS / scenario).read_text()
    for name, value in (values or {}).items():
        xml = xml.replace(f"@{name}@", value)
    rendered = workdir / f"rendered-{port}-{scenario}"
    rendered.write_text(xml)
    cmd = [
        SIPP, f"127.0.0.1:{port}", "-sf", str(rendered),
        "-i", "127.0.0.1", "-p", str(free_port()), "-mi", media_ip, "-mp", str(free_port()),
        "-m", str(calls), "-l", str(concurrency), "-r", str(rate), "-t", transport,
        "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error", "-max_recv_loops", "1000",
        "-trace_err", "-error_file", str(errors), *extra,
    ]
    if inf is not None:
        inf_file = workdir / f"sipp-{scenario}-{port}.csv"
        inf_file.write_text("SEQUENTIAL\n" + "".join(";".join(r) + "\n" for r in inf))
        cmd += ["-inf", str(inf_file)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    text = errors.read_text(errors="replace") if errors.exists() else ""
    return SippRun(proc.returncode or 0, out.decode(errors="replace"),
                   err.decode(errors="replace"), text)


def call_audio(wav: Path, workdir: Path) -> dict[str, str]:
    """An RTP (PCMU) pcap of ``wav``'s audio, as the values for uac_call.xml."""
    audio = load_audio(wav)
    assert audio.sample_rate == 8000
    out = workdir / (wav.name.split(".")[0] + ".pcap")
    ms = int(write_rtp_pcap(out, pcm_to_ulaw(audio.pcm)) * 1000)
    return {"AUDIO_PCAP": str(out), "AUDIO_MS": str(ms)}


# Prompts rendered once per test session (espeak-ng takes seconds for the whole menu).
SHARED_PROMPTS = Path(tempfile.gettempdir()) / f"voice-intake-test-prompts-{os.getuid()}"


def sip_settings(settings: Settings, **sip: object) -> Settings:
    """``settings`` with SIP on a free loopback port and the given overrides."""
    base = dict(host="127.0.0.1", port=free_port(), answer_delay_ms=100, rtp_timeout_s=10.0)
    base.update(sip)
    ivr = dataclasses.replace(settings.ivr, prompt_dir=SHARED_PROMPTS)
    return dataclasses.replace(settings, sip=dataclasses.replace(settings.sip, **base), ivr=ivr)


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, **open_kwargs: object
) -> AsyncIterator[tuple[Services, SipGateway]]:
    """Services plus a started SIP gateway, closed (calls drafted) on exit."""
    async with open_services(settings, **open_kwargs) as services:  # type: ignore[arg-type]
        gateway = SipGateway(services)
        await gateway.start()
        try:
            yield services, gateway
        finally:
            await gateway.close()


async def wait_for_drafts(
    services: Services, count: int, within: float = 120.0
) -> list[dict[str, Any]]:
    """Poll the store until ``count`` drafts exist (drafting follows hang-up by seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        drafts = await services.store.list_drafts(limit=1000)
        if len(drafts) >= count or loop.time() > deadline:
            return drafts
        await asyncio.sleep(0.25)
