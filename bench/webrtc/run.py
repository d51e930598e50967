"""bench/webrtc: WebRTC calls over WHIP on loopback, with SIP's per-call figure beside.

    .venv/bin/python -m bench.webrtc                  # 50 calls, then SIP at 50 calls
    .venv/bin/python -m bench.webrtc --calls 10 --window 5 --no-sip   # a smoke run

One gateway (this process: the app with /whip, the call runners, aiortc's DTLS-SRTP, Opus
decode threads and the Opus encoder of each call's outbound track), the ASR stubbed
(``EngineSpec(kind="fake")``, one worker process), intake only (no IVR: the outbound
track sends silence, still Opus-encoded 50 times a second). The callers are aiortc peer
connections in other processes (``bench.webrtc.client``), sending looped dev-call speech as
Opus, placed at ``--rate`` calls a second, all held up together for ``--window`` seconds.

- Gateway CPU per call: this process's CPU (``getrusage``) over the window / calls; split
  by thread: the event loop (ICE, DTLS, SRTP, RTP, SCTP, resampling, VAD, recordings), the
  Opus decoder threads (one per call), the executor (the outbound Opus encoder).
- Loss: 1 - audio frames the gateway decoded / RTP packets the callers sent (20 ms each).
- Setup: offer POSTed → 201 with the answer, and → ICE + DTLS connected; p50 and p95.
- SIP beside: bench.sip's held-call level at the same number of calls (sipp, PCMU), same
  process and window, its gateway ms of CPU per call-second.

Target (issue 16): 50 concurrent WebRTC calls per gateway core with loss ≤ 0.1 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from asr.engines.base import EngineSpec
from bench.sip.run import (
    CLK_TCK,
    MODEL_DIR,
    SIPP,
    HoldLevel,
    Probe,
    code_version,
    cpu_pid,
    cpu_self,
    dev_speech,
    hold_level,
    table,
)
from config import Settings, load_settings
from tests.sipp.harness import free_port, running_gateway, sip_settings
from voice_gateway import eventloop
from voice_gateway.app import init_app
from voice_gateway.calls.runner import CallRunner
from voice_gateway.services import Services, open_services
from voice_gateway.webrtc.gateway import WebRtcGateway
from voice_gateway.webrtc.transport import WebRtcCallTransport
from voice_gateway.webrtc.whip import WEBRTC

FAKE = EngineSpec(kind="fake")
REPO = Path(__file__).resolve().parents[2]
MAX_LOSS = 0.001
TARGET_CALLS_PER_CORE = 50


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's live threads, by what they do."""
    out = {"loop": 0.0, "opus decode": 0.0, "executor (encode)": 0.0, "other": 0.0}
    for t in threading.enumerate():
        try:
            stat = Path(f"/proc/self/task/{t.native_id}/stat").read_text()
        except (OSError, TypeError):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if t is threading.main_thread():
            key = "loop"
        elif t.name.endswith("-decoder"):
            key = "opus decode"
        elif t.name.startswith("asyncio"):
            key = "executor (encode)"
        else:
            key = "other"
        out[key] += seconds
    return out


def connected(gateway: WebRtcGateway) -> int:
    return sum(1 for r in list(gateway.calls.values())
               if isinstance(r.transport, WebRtcCallTransport)
               and r.transport.connected.is_set())


async def wait_idle(gateway: WebRtcGateway, within: float) -> bool:
    deadline = time.perf_counter() + within
    while gateway.calls:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@dataclass
class WebRtcLevel:
    calls: int
    answered: int
    up_in_window: int
    refused: int
    errors: list[str]
    sent: int
    received: int  # RTP packets, before the jitter buffer
    decoded: int  # 20 ms frames out of the Opus decoder
    gateway_cpu: float  # cores, over the window
    split: dict[str, float]  # cores by thread kind (threads that lived through the window)
    answer_ms: list[float]
    connect_ms: list[float]
    window_s: float
    load: float
    client_cpu: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0

    @property
    def ms_per_call_second(self) -> float:
        return self.gateway_cpu * 1000 / self.up_in_window if self.up_in_window else 0.0


def pct(data: list[float], q: float) -> float:
    if not data:
        return float("nan")
    s = sorted(data)
    return s[min(len(s) - 1, int(q * len(s)))]


@contextlib.asynccontextmanager
async def _fake(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        yield services


async def webrtc_level(workdir: Path, calls: int, rate: float, window_s: float,
                       processes: int) -> WebRtcLevel:
    settings = load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(workdir / "data-webrtc"),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR), "VOICE_INTAKE_SIP_ENABLED": "false"})
    settings = dataclasses.replace(
        settings,
        ivr=dataclasses.replace(settings.ivr, enabled=False),
        sip=dataclasses.replace(settings.sip, max_calls=10_000),
        webrtc=dataclasses.replace(settings.webrtc, max_calls=10_000,
                                   rate_limit_per_s=10_000.0, rate_limit_burst=10_000,
                                   media_timeout_s=60.0))
    app = init_app(settings, _fake)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    gateway: WebRtcGateway = app[WEBRTC]
    received: dict[str, int] = {}
    decoded: dict[str, int] = {}
    done = gateway._call_done

    def probe(r: CallRunner) -> None:
        t = r.transport
        assert isinstance(t, WebRtcCallTransport)
        for tr in t.pc.getTransceivers():  # RTP packets in, before the jitter buffer
            streams = getattr(tr.receiver, "_RTCRtpReceiver__remote_streams", {})
            received[r.call_id] = sum(st.packets_received for st in streams.values())
        decoded[r.call_id] = t.inbound.frames if t.inbound is not None else 0
        done(r)

    gateway._call_done = probe  # type: ignore[method-assign, assignment]
    ramp_s = calls / rate
    up_at = time.time() + 5.0  # the callers' processes import aiortc meanwhile
    window_at = up_at + ramp_s + 2.0
    hold_until = window_at + window_s + 10.0  # room for late connections
    url = f"http://127.0.0.1:{port}/whip"
    shares = [calls // processes + (1 if i < calls % processes else 0)
              for i in range(processes)]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webrtc.client", url, str(n), str(rate / processes),
        str(up_at), str(hold_until), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=REPO)
        for n in shares if n]
    notes: list[str] = []
    try:
        await asyncio.sleep(max(0.0, window_at - time.time()))
        latest = hold_until - window_s - 1.0
        while (up := connected(gateway)) < calls and time.time() < latest:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        if up < calls:
            notes.append(f"only {up} of {calls} calls connected when the window began")
        cpu0, split0, t0 = cpu_self(), thread_cpu(), time.perf_counter()
        clients0 = sum(cpu_pid(p.pid) for p in procs)
        await asyncio.sleep(window_s)
        cpu1, split1, t1 = cpu_self(), thread_cpu(), time.perf_counter()
        client_cpu = (sum(cpu_pid(p.pid) for p in procs) - clients0) / (t1 - t0)
        outs = [await p.communicate() for p in procs]
        results: list[dict[str, Any]] = []
        for out, err in outs:
            for line in out.decode().splitlines():
                with contextlib.suppress(ValueError):
                    results.append(json.loads(line))
            if err.strip():
                notes.append(err.decode(errors="replace").strip().splitlines()[-1][:200])
        if not await wait_idle(gateway, 60):
            notes.append(f"{len(gateway.calls)} calls left open")
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
        await runner.cleanup()
    dt = t1 - t0
    ok = [r for r in results if r.get("status") == 201]
    sent = sum(r.get("sent", 0) for r in ok)
    return WebRtcLevel(
        calls=calls, answered=len(ok), up_in_window=up,
        refused=sum(1 for r in results if r.get("status") not in (201, None)),
        errors=[r["error"] for r in results if "error" in r], sent=sent,
        received=sum(received.values()), decoded=sum(decoded.values()),
        gateway_cpu=(cpu1 - cpu0) / dt,
        split={k: (split1[k] - split0.get(k, 0.0)) / dt for k in split1},
        answer_ms=[r["answer_ms"] for r in ok if "answer_ms" in r],
        connect_ms=[r["connect_ms"] for r in ok if "connect_ms" in r],
        window_s=dt, load=os.getloadavg()[0], client_cpu=client_cpu, notes=notes)


async def sip_level(workdir: Path, calls: int, window_s: float) -> HoldLevel:
    settings = load_settings(environ={"VOICE_INTAKE_DATA_DIR": str(workdir / "data-sip"),
                                      "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR)})
    settings = sip_settings(settings, rate_limit_per_s=1000, rate_limit_burst=1000,
                            max_calls=2000, answer_delay_ms=0, rtp_timeout_s=15.0)
    settings = dataclasses.replace(settings,
                                   ivr=dataclasses.replace(settings.ivr, enabled=False))
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, gateway):
        probe = Probe(gateway)
        probe.install()
        return await hold_level(gateway, services, probe, settings.sip.port, workdir,
                                dev_speech(), window_s, calls)


WHY = {
    "loop": "aiortc parses RTP and RTCP, runs the jitter buffer, SRTP (pylibsrtp) and the "
            "DTLS and SCTP timers in Python, per packet, on the event loop, beside the "
            "pipeline (resampling, VAD, recordings). What would reach the target: a media "
            "server in C (Janus, mediasoup, GStreamer webrtcbin) ending DTLS-SRTP and Opus "
            "and forwarding G.711 RTP to the SIP gateway's RTP endpoint, or one gateway "
            "process per core behind the WHIP endpoint.",
    "opus decode": "libopus through PyAV, one decoder thread per call: decoding at 16 kHz "
                   "(Opus can decode straight to the pipeline's rate) would save the "
                   "48 kHz stereo output and its resampling.",
}


def report(w: WebRtcLevel, sip: HoldLevel | None, loop: str = "asyncio") -> None:
    print(f"\nbench.webrtc · commit {code_version()} · {os.cpu_count()} cores · "
          f"load {w.load:.2f} at the end · gateway event loop: {loop}")
    per_core = 1000 / w.ms_per_call_second if w.ms_per_call_second else float("nan")
    rows = [["WebRTC (Opus, DTLS-SRTP)", str(w.calls), str(w.up_in_window),
             f"{w.loss * 100:.3f}%", f"{w.gateway_cpu:.2f}", f"{w.ms_per_call_second:.1f}",
             f"{per_core:.0f}", f"{pct(w.answer_ms, .5):.0f}/{pct(w.answer_ms, .95):.0f}",
             f"{pct(w.connect_ms, .5):.0f}/{pct(w.connect_ms, .95):.0f}"]]
    if sip is not None:
        sip_ms = sip.ms_per_call_second
        rows.append(["SIP (PCMU, RTP)", str(sip.calls), str(sip.answered),
                     f"{sip.loss * 100:.3f}%", f"{sip.gateway_cpu:.2f}", f"{sip_ms:.1f}",
                     f"{1000 / sip_ms:.0f}" if sip_ms else "-", "-", "-"])
    print(table(["calls over", "calls", "up", "loss", "gateway cores",
                 "ms CPU / call-s", "calls / core", "201 ms p50/p95",
                 "connected ms p50/p95"], rows))
    print(f"\nRTP packets: {w.sent} sent, {w.received} received, {w.decoded} frames decoded")
    print(f"callers' processes: {w.client_cpu:.2f} cores (not counted above)")
    print("where the WebRTC gateway's CPU went (cores, over the window):")
    for kind, cores in w.split.items():
        print(f"  {kind:<20} {cores:.3f}")
    verdict = ("meets" if per_core >= TARGET_CALLS_PER_CORE and w.loss <= MAX_LOSS
               else "misses")
    print(f"\ntarget {TARGET_CALLS_PER_CORE} calls/core at loss ≤ {MAX_LOSS:.1%}: {verdict}")
    if verdict == "misses" and w.split:
        top = max(w.split, key=lambda k: w.split[k])
        print(f"  most of it: {top}. {WHY.get(top, '')}")
    for note in [*w.notes, *w.errors[:5]]:
        print("  note:", note)
    if w.refused:
        print(f"  {w.refused} offers refused")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webrtc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="calls placed a second")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="caller processes")
    parser.add_argument("--no-sip", action="store_true", help="skip the SIP figure")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                        help="the gateway's event loop (default: as `serve`, uvloop if "
                             "installed); the callers' processes keep asyncio's")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.calls} WebRTC calls…", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-webrtc-") as tmp:
        w = eventloop.run(webrtc_level(Path(tmp), args.calls, args.rate, args.window,
                                       args.clients), args.loop)
        sip = None
        if not args.no_sip:
            if SIPP is None:
                print("sipp is not installed: no SIP figure")
            else:
                print(f"{args.calls} SIP calls…", flush=True)
                sip = eventloop.run(sip_level(Path(tmp), args.calls, args.window), args.loop)
    report(w, sip, "uvloop" if eventloop.loop_factory(args.loop) else "asyncio")
    print(f"\n(run took {time.perf_counter() - started:.0f} s; median setup "
          f"{statistics.median(w.connect_ms) if w.connect_ms else float('nan'):.0f} ms)")
