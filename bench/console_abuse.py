"""What the console's abuse limits save (issue 17): CPU for a login flood, memory for large
chunked bodies and for long prompt uploads, each against a baseline run the way the code
worked before the limits, in the same run.

Each case runs in a fresh child process (so peak RSS, ``ru_maxrss``, is the case's own; the
client of the HTTP cases runs in it too):

- ``login``: 150 concurrent wrong passwords for one account. Baseline: the limiter lets
  every attempt through to argon2 (as when the limit was checked before counting).
- ``bodies``: 60 concurrent chunked logins with 1 MB usernames. Baseline: the body read
  whole (``request.text()``), as before the capped read.
- ``upload``: a 20-minute FLAC and a 20-minute Opus (48 kHz stereo) converted as a prompt.
  Baseline: pydub decoding it whole, as before (it is then rejected as too long).

    .venv/bin/python -m bench.console_abuse [--cases login,bodies,upload]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ATTEMPTS = 150
BODIES = 60
BODY_BYTES = 1_000_000
UPLOAD_SECONDS = 1200


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _app(tmp: Path) -> Any:
    from aiohttp.test_utils import TestServer

    from config import load_settings
    from console import CONSOLE
    from voice_gateway.app import init_app
    from voice_gateway.services import open_services

    settings = load_settings(environ={"VOICE_INTAKE_DATA_DIR": str(tmp),
                                      "VOICE_INTAKE_SIP_ENABLED": "false"})
    server = TestServer(init_app(settings, lambda s: open_services(s, with_asr=False)))
    await server.start_server()
    await server.app[CONSOLE].accounts.add_user("agent2", "bench-passphrase-17", "agent")
    return server


async def case_login(baseline: bool) -> dict[str, Any]:
    import aiohttp

    from console import CONSOLE

    server = await _app(Path(tempfile.mkdtemp(prefix="bench-abuse-")))
    console = server.app[CONSOLE]
    checked = 0
    authenticate = console.accounts.authenticate

    async def counting(username: str, password: str) -> Any:
        nonlocal checked
        checked += 1
        return await authenticate(username, password)

    console.accounts.authenticate = counting
    if baseline:
        console.limiter.attempt = lambda *_a: None
        console.limiter.hashing = asyncio.Semaphore(ATTEMPTS)
    url = server.make_url("/api/login")
    cpu0, t0 = _cpu_s(), time.perf_counter()
    async with aiohttp.ClientSession() as http:
        async def one(i: int) -> int:
            async with http.post(url, json={"username": "agent2", "password": f"w{i}"}) as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*(one(i) for i in range(ATTEMPTS)))
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    await server.close()
    return {"argon2_checks": checked, "refused_429": statuses.count(429),
            "cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}


async def case_bodies(baseline: bool) -> dict[str, Any]:
    import aiohttp

    from console import http as console_http

    if baseline:
        async def uncapped(request: Any, limit: int = 0) -> bytes:
            return bytes((await request.text()).encode())

        console_http.read_capped = uncapped
    server = await _app(Path(tempfile.mkdtemp(prefix="bench-abuse-")))
    url = server.make_url("/api/login")
    rss0 = _current_rss_mb()

    async def chunks() -> Any:
        yield b'{"username": "'
        for _ in range(BODY_BYTES // 10_000):
            yield b"a" * 10_000
        yield b'", "password": "x"}'

    async with aiohttp.ClientSession() as http:
        async def one() -> int:
            async with http.post(url, data=chunks(),
                                 headers={"Content-Type": "application/json"}) as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*(one() for _ in range(BODIES)))
    after = _current_rss_mb()
    await server.close()
    return {"statuses": sorted(set(statuses)), "peak_rss_mb": round(_rss_mb(), 1),
            "rss_before_mb": round(rss0, 1), "rss_after_mb": round(after, 1)}


def _make_audio(tmp: Path) -> dict[str, Path]:
    """Small files that decode to a lot: 20 minutes of 48 kHz stereo near-silence as FLAC
    (a few hundred KB, like the tester's), and of quiet noise as 6 kbit/s Opus."""
    files = {"flac": tmp / "long.flac", "opus": tmp / "long.opus"}
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"anullsrc=r=48000:cl=stereo:d={UPLOAD_SECONDS}", "-c:a", "flac",
                    str(files["flac"])], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"anoisesrc=d={UPLOAD_SECONDS}:c=pink:r=48000:a=0.02", "-ac", "2",
                    "-c:a", "libopus", "-b:a", "6k", str(files["opus"])], check=True)
    return files


def case_upload(baseline: bool, path: Path) -> dict[str, Any]:
    from ivr.errors import PromptError
    from ivr.prompts import MAX_SECONDS, file_to_ulaw_wav

    rss0, t0 = _current_rss_mb(), time.perf_counter()
    outcome = "accepted"
    if baseline:  # the code before: pydub decodes everything, then checks the length
        from pydub import AudioSegment

        seg = AudioSegment.from_file(str(path))
        if len(seg) > MAX_SECONDS * 1000:
            outcome = "rejected"
        del seg
    else:
        try:
            file_to_ulaw_wav(path, path.name)
        except PromptError:
            outcome = "rejected"
    return {"file_kb": path.stat().st_size // 1024, "outcome": outcome,
            "peak_rss_mb": round(_rss_mb(), 1), "rss_before_mb": round(rss0, 1),
            "rss_after_mb": round(_current_rss_mb(), 1),
            "wall_s": round(time.perf_counter() - t0, 2)}


def _child(case: str, baseline: bool, path: str | None) -> None:
    if case == "login":
        result = asyncio.run(case_login(baseline))
    elif case == "bodies":
        result = asyncio.run(case_bodies(baseline))
    else:
        result = case_upload(baseline, Path(str(path)))
    print(json.dumps(result))


def _run_child(case: str, baseline: bool, path: Path | None = None) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.console_abuse", "--child", case]
    if baseline:
        args.append("--baseline")
    if path is not None:
        args += ["--path", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="login,bodies,upload")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.baseline, args.path)
        return
    cases = args.cases.split(",")
    if "login" in cases:
        print(f"login: {ATTEMPTS} concurrent wrong passwords for one account")
        for label, base in (("baseline (no count before check)", True), ("now", False)):
            print(f"  {label:34} {_run_child('login', base)}")
    if "bodies" in cases:
        print(f"bodies: {BODIES} concurrent chunked logins, {BODY_BYTES // 1000} KB usernames")
        for label, base in (("baseline (body read whole)", True), ("now (64 KB cap)", False)):
            print(f"  {label:34} {_run_child('bodies', base)}")
    if "upload" in cases:
        with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
            files = _make_audio(Path(tmp))
            for kind, path in files.items():
                print(f"upload: {UPLOAD_SECONDS // 60}-minute {kind} "
                      f"({path.stat().st_size // 1024} KB) as a prompt")
                for label, base in (("baseline (pydub, whole decode)", True),
                                    ("now (probe, capped ffmpeg)", False)):
                    print(f"  {label:34} {_run_child('upload', base, path)}")


if __name__ == "__main__":
    main()
