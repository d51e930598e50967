"""Shared pieces of the interop suite: finding the real peers (Debian binaries), loopback
addresses of their own, and small SIP helpers for messages we craft or read back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import required
from tests.sipp.harness import SippRun, free_port

# scripts/test sets this: there a missing peer is a failure, not a skip.
REQUIRE_ENV = "VOICE_INTAKE_REQUIRE_INTEROP"


def require_binary(path: str) -> str:
    """``path`` if it is an installed executable; else skip (or fail under REQUIRE_ENV)."""
    found = path if os.access(path, os.X_OK) else shutil.which(os.path.basename(path))
    if found:
        return found
    message = f"{path} is not installed (Debian package for the interop suite)"
    if required("INTEROP"):
        pytest.fail(f"{message}, and {REQUIRE_ENV} is set")
    pytest.skip(message)


def loopback_address(ports: tuple[int, ...] = ()) -> str:
    """A random 127.x.y.z address whose ``ports`` are free for UDP and TCP: a peer of its
    own on loopback, so fixed ports (5060) do not collide with other tests."""
    for _ in range(50):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        try:
            for port in ports:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind((host, port))
        except OSError:
            continue
        return host
    raise RuntimeError("no free loopback address")


_HEADER = re.compile(rb"^([!-9;-~]+)[ \t]*:[ \t]*(.*)$")
COMPACT = {b"i": b"call-id", b"v": b"via", b"f": b"from", b"t": b"to", b"l": b"content-length"}


def status_of(message: bytes) -> int | None:
    """The status code of a response, None for a request."""
    match = re.match(rb"SIP/2\.0 (\d{3}) ", message)
    return int(match.group(1)) if match else None


def header(message: bytes, name: str) -> str | None:
    """The first value of header ``name`` (long or compact form) in the head of ``message``."""
    head = message.split(b"\r\n\r\n", 1)[0]
    wanted = name.lower().encode()
    for line in head.split(b"\r\n")[1:]:
        match = _HEADER.match(line)
        if match is None:
            continue
        key = match.group(1).lower()
        if COMPACT.get(key, key) == wanted:
            return match.group(2).decode("utf-8", "replace").strip()
    return None


# --- sipp aimed at any address, with scenarios from either directory -------------------

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def _render(scenario: Path, out: Path, values: dict[str, str]) -> Path:
    xml = scenario.read_text()
    for name, value in values.items():
        xml = xml.replace(f"@{name}@", value)
    out.write_text(xml)
    return out


async def run_sipp_at(
    scenario: Path,
    target: tuple[str, int],
    workdir: Path,
    *,
    calls: int = 1,
    concurrency: int = 1,
    rate: float = 10.0,
    inf: list[list[str]] | None = None,
    values: dict[str, str] | None = None,
    timeout_s: int = 60,
    extra: tuple[str, ...] = (),
    local_ip: str = "127.0.0.1",
    transport: str = "u1",
) -> SippRun:
    """Run the sipp ``scenario`` file (``@NAME@`` filled from ``values``) against
    ``target`` over ``transport`` (UDP), from ``local_ip`` (tests/sipp/harness.run_sipp
    aims at the gateway; this aims at a proxy in front of it)."""
    sipp = require_binary("/usr/bin/sipp")
    tag = f"{scenario.stem}-{target[1]}-{uuid.uuid4().hex[:6]}"
    rendered = _render(scenario, workdir / f"{tag}.xml", values or {})
    errors = workdir / f"{tag}.errors"
    cmd = [
        sipp, f"{target[0]}:{target[1]}", "-sf", str(rendered),
        "-i", local_ip, "-p", str(free_port()), "-mi", local_ip, "-mp", str(free_port()),
        "-m", str(calls), "-l", str(concurrency), "-r", str(rate), "-t", transport,
        "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error", "-max_recv_loops", "1000",
        "-trace_err", "-error_file", str(errors), *extra,
    ]  # fmt: skip
    if inf is not None:
        inf_file = workdir / f"{tag}.csv"
        inf_file.write_text("SEQUENTIAL\n" + "".join(";".join(r) + "\n" for r in inf))
        cmd += ["-inf", str(inf_file)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    text = errors.read_text(errors="replace") if errors.exists() else ""
    return SippRun(proc.returncode or 0, out.decode(errors="replace"),
                   err.decode(errors="replace"), text)  # fmt: skip


# --- Kamailio --------------------------------------------------------------------------

KAMAILIO_CONFIGS = Path(__file__).resolve().parents[2] / "deploy" / "kamailio"


def render_kamailio(name: str, values: dict[str, str]) -> str:
    """deploy/kamailio/``name`` with its ``#!substdef`` values replaced (loopback ports)."""
    text = (KAMAILIO_CONFIGS / name).read_text()
    for key, value in values.items():
        pattern = re.compile(rf'^#!substdef "!{key}!([^!]*)!g"$', re.M)
        assert pattern.search(text), f"{name} has no substdef for {key}"
        line = f'#!substdef "!{key}!{value}!g"'
        text = pattern.sub(line.replace("\\", "\\\\"), text)
    return text


def require_kamailio_module(name: str, package: str) -> None:
    """Skip (or fail under REQUIRE_ENV) unless Kamailio's module ``name`` is installed."""
    if any(Path("/usr/lib").glob(f"*/kamailio/modules/{name}")) or \
            Path(f"/usr/lib/kamailio/modules/{name}").exists():
        return
    message = f"Kamailio's {name} is not installed (Debian package {package})"
    if required("INTEROP"):
        pytest.fail(f"{message}, and {REQUIRE_ENV} is set")
    pytest.skip(message)


@dataclass(frozen=True)
class Dispatcher:
    """deploy/kamailio/dispatcher.cfg rendered for loopback: the config, its UDP/TCP port,
    its TLS port and the certificate it presents there."""

    config: str
    port: int
    tls_port: int
    certificate: Path


def render_dispatcher(workdir: Path, gateways: list[str], **values: str) -> Dispatcher:
    """dispatcher.cfg over ``gateways`` (SIP URIs, set 1) on 127.0.0.1, with a trial TLS
    certificate made in ``workdir``; ``values`` override other substdefs (PROBE_S …)."""
    from voice_gateway.sip.tls import trial_pair

    require_kamailio_module("tls.so", "kamailio-tls-modules")
    port, tls_port = free_port(), free_port(socket.SOCK_STREAM)
    listing = workdir / "dispatcher.list"
    listing.write_text("".join(f"1 {uri}\n" for uri in gateways))
    cert, key = trial_pair(workdir / "kamailio-tls", ["127.0.0.1"])
    config = render_kamailio("dispatcher.cfg", {
        "PROXY_ADDR": "127.0.0.1", "PROXY_PORT": str(port), "TLS_PORT": str(tls_port),
        "TLS_CERTIFICATE": str(cert), "TLS_PRIVATE_KEY": str(key),
        "DISPATCHER_LIST": str(listing), "FAILOVER_MS": "2000", "PROBE_S": "2", **values})
    return Dispatcher(config, port, tls_port, cert)


@dataclass
class Kamailio:
    port: int
    log: Path

    def lines(self, needle: str) -> list[str]:
        """Lines of Kamailio's log holding ``needle``."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if needle in line]


@contextlib.asynccontextmanager
async def running_kamailio(config: str, workdir: Path, port: int) -> AsyncIterator[Kamailio]:
    """Kamailio in the foreground with ``config``, listening on 127.0.0.1:``port`` (UDP and
    TCP); stopped (SIGTERM to the main process, which stops its children) on exit."""
    binary = require_binary("/usr/sbin/kamailio")
    run = workdir / f"kamailio-{port}"
    run.mkdir()
    cfg = run / "kamailio.cfg"
    cfg.write_text(config)
    log = run / "kamailio.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary, "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-w", str(run),
            "-P", str(run / "kamailio.pid"), "-m", "32", "-M", "8",
            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:  # its TCP listener is the last thing it opens
            if proc.returncode is not None:
                raise RuntimeError(f"kamailio exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        yield Kamailio(port, log)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
