"""bench/sip: the SIP gateway under sipp load, beside the raw UDP ceiling of this machine.

    .venv/bin/python -m bench.sip            # full run, about 6-9 minutes
    .venv/bin/python -m bench.sip --quick    # about 2 minutes

One gateway process (this one) with the ASR stubbed (``EngineSpec(kind="fake")``, one worker
process), sipp as a subprocess, everything on 127.0.0.1. Four parts:

1. Ceiling: UDP datagrams/s that a plain asyncio socket and a plain blocking socket receive
   from a sender process (172-byte datagrams, as G.711 RTP).
2. Held calls: sipp at rising concurrency, each call playing a PCMU pcap for the hold time.
   Loss = 1 - (RTP packets the gateway accepted, read from each call's ``RtpEndpoint.stats``
   as the call finishes) / (packets in the pcap × calls answered). Gateway CPU (this
   process: ``getrusage(RUSAGE_SELF)``), ASR worker CPU and sipp CPU (``/proc/PID/stat``) are
   taken over a window in which every call of the level is up and media is flowing.
3. Call setup rate: short calls (INVITE/200/ACK/BYE, no media) at rising rates; a level
   passes when every call succeeds and is finished (drafted) by the gateway.
4. CPU per call: gateway ms per call-second of media (from 2), and per call setup (from 3,
   which includes the session, the recording files, storage and drafting of an empty call).

The machine's load average is printed: on a shared machine, run it when the load is low.
Every sipp run is bounded (-m calls, -timeout) and the whole bench stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import dataclasses
import io
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.audio import load_audio
from asr.engines.base import EngineSpec
from asr.g711 import pcm_to_ulaw
from bench.sip.ceiling import CeilingResult, asyncio_ceiling, blocking_ceiling
from bench.sip.outbound import OUTBOUND_HEADERS, OutboundLevel, outbound_level, outbound_rows
from config import load_settings
from tests.sipp.harness import free_port, running_gateway, sip_settings
from tests.sipp.pcap import write_rtp_pcap
from voice_gateway import eventloop
from voice_gateway.calls.runner import CallRunner
from voice_gateway.calls.sip_gateway import SipCallTransport, SipGateway
from voice_gateway.services import Services

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", "/work/shared"))
CALLS_DIR = SHARED / "audio" / "calls" / "dev"
MODEL_DIR = SHARED / "models"
SIPP = shutil.which("sipp")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PACKETS_PER_S = 50  # G.711 at 20 ms
MAX_LOSS = 0.001  # 0.1 %
RAMP_CPS = 25  # how fast the held calls are set up (setup costs CPU: keep it out of the way)
SETUP_P95_MS = 500.0  # a setup rate counts only if INVITE→200 stays under this at p95


@dataclass
class Plan:
    ceiling_s: float
    window_s: float  # measured seconds with every call of a level up
    levels: list[int]
    rates: list[int]
    rate_s: float
    bisect: int  # extra levels tried between the last good and the first bad one
    ivr: bool = False  # walk the configured IVR menu (prompts played) instead of intake only
    outbound: list[int] = field(default_factory=list)  # 回访 INVITE rates (--outbound)
    loop: str = ""  # the gateway's event loop, as it ran


FULL = Plan(ceiling_s=5.0, window_s=12.0, levels=[50, 100, 150, 200, 300, 400, 500],
            rates=[25, 50, 75, 100, 150, 200], rate_s=6.0, bisect=2)
QUICK = Plan(ceiling_s=3.0, window_s=5.0, levels=[100, 200, 300], rates=[25, 50, 100],
             rate_s=3.0, bisect=0)


# ---- CPU accounting -------------------------------------------------------------------


def cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def cpu_pid(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def udp_counters() -> dict[str, int]:
    """The kernel's UDP counters (machine-wide): RcvbufErrors are datagrams dropped because
    a socket's receive buffer was full; NoPorts arrived at a closed port."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()
             if ln.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:]), strict=True))


@dataclass
class Snapshot:
    t: float
    gateway: float
    gateway_sys: float
    workers: float
    sipp: float | None
    accepted: int

    @staticmethod
    def take(gateway: SipGateway, services: Services, sipp_pid: int | None) -> Snapshot:
        pids = services.pool.worker_pids if services.pool is not None else []
        ru = resource.getrusage(resource.RUSAGE_SELF)
        sipp = cpu_pid(sipp_pid) if sipp_pid else 0.0
        return Snapshot(
            time.perf_counter(), ru.ru_utime + ru.ru_stime, ru.ru_stime,
            sum(cpu_pid(p) for p in pids), sipp if sipp > 0 else None,
            sum(_rtp(c).stats.rtp_accepted for c in list(gateway.calls.values())),
        )


# ---- instrumenting the gateway (no product code changed) --------------------------------


@dataclass
class CallRecord:
    accepted: int
    frames_received: int
    frames_concealed: int
    lost: int
    answered: bool
    reason: str


@dataclass
class Probe:
    """Wraps a gateway's ``_offer`` and ``_call_done`` on the instance: call arrival
    times, and each call's RTP counters as it finishes."""

    gateway: SipGateway
    arrivals: list[float] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)

    def install(self) -> None:
        gw = self.gateway
        offer: Callable[[Any], None] = gw._offer
        done: Callable[[CallRunner], None] = gw._call_done

        def timed_offer(ev: Any) -> None:
            self.arrivals.append(time.perf_counter())
            offer(ev)

        def recorded_done(runner: CallRunner) -> None:
            transport = runner.transport
            assert isinstance(transport, SipCallTransport)
            s = transport.rtp.stats
            self.records.append(CallRecord(
                s.rtp_accepted, s.frames_received, s.frames_concealed,
                getattr(s.jitter, "lost", 0), runner.machine.answered,
                runner.machine.end_reason))
            done(runner)

        gw._offer = timed_offer  # type: ignore[method-assign]
        gw._call_done = recorded_done  # type: ignore[method-assign]

    def reset(self) -> None:
        self.arrivals.clear()
        self.records.clear()


class FsyncTimer:
    """Diagnostics only: time spent in ``os.fsync`` as called by storage.recordings (which
    runs on the event loop). Installed on that module's ``os`` reference, in this process."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def install(self) -> None:
        import storage.recordings as recordings

        real = os.fsync
        timer = self

        class _Os:
            def __getattr__(self, name: str) -> Any:
                return getattr(os, name)

            @staticmethod
            def fsync(fd: int) -> None:
                t = time.perf_counter()
                try:
                    real(fd)
                finally:
                    timer.seconds += time.perf_counter() - t
                    timer.calls += 1

        if hasattr(recordings, "os"):
            recordings.os = _Os()


FSYNC = FsyncTimer()


class LagMonitor:
    """The event loop's worst lateness: a 10 ms timer and how late it fires."""

    def __init__(self) -> None:
        self.max_lag = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.max_lag = max(self.max_lag, loop.time() - due)

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _rtp(runner: CallRunner) -> Any:
    transport = runner.transport
    assert isinstance(transport, SipCallTransport)
    return transport.rtp


def answered_calls(gateway: SipGateway) -> int:
    return sum(1 for c in list(gateway.calls.values()) if c.live.is_set())


async def wait_idle(gateway: SipGateway, within: float) -> bool:
    deadline = time.perf_counter() + within
    while gateway.calls:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


# ---- sipp ---------------------------------------------------------------------------


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    rtd_ms: list[float]
    timed_out: bool
    stderr: str


class Sipp:
    """One sipp run (a UAC) against the gateway, bounded in calls and time."""

    runs = 0

    def __init__(self, scenario: str, values: dict[str, str], port: int, workdir: Path,
                 *, calls: int, concurrency: int, rate: float, timeout_s: float) -> None:
        self.workdir = workdir
        self.timeout_s = timeout_s
        workdir.mkdir(parents=True, exist_ok=True)
        xml = (SCENARIOS / scenario).read_text()
        for name, value in values.items():
            xml = xml.replace(f"@{name}@", value)
        self.rendered = workdir / scenario
        self.rendered.write_text(xml)
        self.stat_file = workdir / "stat.csv"
        Sipp.runs += 1
        # Distinct, valid mobile numbers per run: the drafter's repeat-caller lookup then
        # costs what it costs for a fresh caller, not a growing history of the same number.
        inf = workdir / "callers.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(
            f"139{Sipp.runs:02d}{n:06d}\n" for n in range(calls)))
        assert SIPP is not None, "sipp is not installed (Debian package sip-tester)"
        self.cmd = [
            SIPP, f"127.0.0.1:{port}", "-sf", str(self.rendered),
            "-i", "127.0.0.1", "-p", str(free_port()),
            "-mi", "127.0.0.1", "-mp", str(free_port()),
            "-m", str(calls), "-l", str(concurrency), "-r", str(rate), "-t", "u1",
            "-nostdin", "-timeout", f"{int(timeout_s)}s", "-timeout_error",
            "-max_recv_loops", "1000", "-recv_timeout", "20000",
            "-trace_stat", "-stf", str(self.stat_file), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1",
            "-trace_err", "-error_file", str(workdir / "errors.log"), "-inf", str(inf),
        ]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> int:
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, cwd=self.workdir, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self) -> SippResult:
        assert self.proc is not None
        timed_out = False
        try:
            _, err = await asyncio.wait_for(self.proc.communicate(), self.timeout_s + 30)
        except TimeoutError:
            timed_out = True
            self.proc.kill()
            _, err = await self.proc.communicate()
        ok, failed = self._counts()
        return SippResult(self.proc.returncode or 0, ok, failed, self._rtd(), timed_out,
                          err.decode(errors="replace")[-2000:])

    def _counts(self) -> tuple[int, int]:
        if not self.stat_file.exists():
            return 0, 0
        rows = list(csv.reader(io.StringIO(self.stat_file.read_text()), delimiter=";"))
        rows = [r for r in rows if r]
        if len(rows) < 2:
            return 0, 0
        head, last = rows[0], rows[-1]
        col = {name: i for i, name in enumerate(head)}
        return (int(last[col["SuccessfulCall(C)"]]), int(last[col["FailedCall(C)"]]))

    def _rtd(self) -> list[float]:
        out: list[float] = []
        for path in self.workdir.glob("*_rtt.csv"):
            for row in csv.reader(io.StringIO(path.read_text()), delimiter=";"):
                with contextlib.suppress(ValueError, IndexError):
                    out.append(float(row[1]))
        return out


# ---- audio ---------------------------------------------------------------------------


def dev_speech() -> bytes:
    """The dev calls' audio (8 kHz PCM), one after the other."""
    files = sorted(CALLS_DIR.glob("*.ulaw.wav"))
    if not files:
        raise SystemExit(f"no audio in {CALLS_DIR}")
    return b"".join(load_audio(f).pcm for f in files)


def hold_pcap(workdir: Path, speech: bytes, seconds: float) -> tuple[Path, int]:
    """A PCMU pcap of ``speech`` looped to ``seconds``; returns it and its packet count."""
    want = int(seconds * 8000) * 2
    pcm = speech * (want // len(speech) + 1)
    pcm = pcm[: want - want % 320]
    out = workdir / f"hold-{int(seconds)}s.pcap"
    duration = write_rtp_pcap(out, pcm_to_ulaw(pcm))
    return out, round(duration * PACKETS_PER_S)


# ---- the measurements ------------------------------------------------------------------


@dataclass
class HoldLevel:
    calls: int
    answered: int
    sipp_ok: int
    sipp_failed: int
    sent: int
    accepted: int
    concealed: int
    hold_s: float
    window_s: float
    gateway_cpu: float  # fraction of one core
    gateway_sys: float  # of which in the kernel
    workers_cpu: float
    sipp_cpu: float | None
    gateway_pps: float
    rcvbuf_errors: int
    no_ports: int
    max_lag_ms: float
    teardown_lag_ms: float
    fsync_s: float  # seconds per second the loop spent in os.fsync (recordings) in the window
    load: float
    note: str = ""

    @property
    def loss(self) -> float:
        return 1.0 - self.accepted / self.sent if self.sent else 1.0

    @property
    def ok(self) -> bool:
        return (self.sipp_failed == 0 and self.answered == self.calls
                and self.loss <= MAX_LOSS and not self.note)

    @property
    def ms_per_call_second(self) -> float:
        return self.gateway_cpu * 1000 / self.calls if self.calls else 0.0


async def hold_level(gateway: SipGateway, services: Services, probe: Probe, port: int,
                     workdir: Path, speech: bytes, window_s: float, calls: int) -> HoldLevel:
    """``calls`` calls set up at RAMP_CPS, each holding long enough that all are up, with
    media flowing, for ``window_s``; CPU and packet rate are taken over that window."""
    probe.reset()
    ramp_s = calls / RAMP_CPS
    hold_s = ramp_s + window_s + 3.0  # seconds of media; the BYE follows 2 s later
    level_dir = workdir / f"hold-{calls}"
    level_dir.mkdir(parents=True, exist_ok=True)
    pcap, packets = hold_pcap(level_dir, speech, hold_s)
    udp0 = udp_counters()
    sipp = Sipp("uac_hold.xml", {"AUDIO_PCAP": str(pcap), "AUDIO_MS": str(packets * 20)},
                port, level_dir, calls=calls, concurrency=calls, rate=RAMP_CPS,
                timeout_s=hold_s + ramp_s + 60)
    pid = await sipp.start()
    note = ""
    started = time.perf_counter()
    deadline = started + ramp_s + 5
    while answered_calls(gateway) < calls and sipp.running:
        if time.perf_counter() > deadline:
            note = f"only {answered_calls(gateway)} up"
            break
        await asyncio.sleep(0.05)
    # Up to the first call's end (its media stops after hold_s), less a margin.
    window = max(1.0, min(window_s, started + hold_s - 1.0 - time.perf_counter()))
    with LagMonitor() as lag:
        a = Snapshot.take(gateway, services, pid)
        fsync0 = FSYNC.seconds
        await asyncio.sleep(window)
        b = Snapshot.take(gateway, services, pid)
        fsync_s = FSYNC.seconds - fsync0
        window_lag, lag.max_lag = lag.max_lag, 0.0
        result = await sipp.wait()
    if not await wait_idle(gateway, 60):
        note = note or "calls left open"
    udp1 = udp_counters()
    dt = b.t - a.t
    records = [r for r in probe.records if r.answered]
    if result.timed_out:
        note = note or "sipp timed out"
    return HoldLevel(
        calls=calls, answered=len(records), sipp_ok=result.successful,
        sipp_failed=result.failed, sent=packets * len(records),
        accepted=sum(r.accepted for r in records),
        concealed=sum(r.frames_concealed for r in records), hold_s=hold_s, window_s=dt,
        gateway_cpu=(b.gateway - a.gateway) / dt,
        gateway_sys=(b.gateway_sys - a.gateway_sys) / dt,
        workers_cpu=(b.workers - a.workers) / dt,
        sipp_cpu=(b.sipp - a.sipp) / dt if a.sipp is not None and b.sipp is not None else None,
        gateway_pps=(b.accepted - a.accepted) / dt,
        rcvbuf_errors=udp1["RcvbufErrors"] - udp0["RcvbufErrors"],
        no_ports=udp1["NoPorts"] - udp0["NoPorts"], max_lag_ms=window_lag * 1000,
        teardown_lag_ms=lag.max_lag * 1000, fsync_s=fsync_s / dt,
        load=os.getloadavg()[0], note=note,
    )


@dataclass
class SetupLevel:
    rate: int
    calls: int
    sipp_ok: int
    sipp_failed: int
    completed: int
    refused: int
    achieved_cps: float
    gateway_cpu_s: float
    elapsed_s: float
    rtd_ms: list[float]
    load: float
    note: str = ""

    @property
    def failures(self) -> str:
        """Why this rate does not count ('' when it does)."""
        if self.note:
            return self.note
        if self.sipp_failed or self.sipp_ok != self.calls:
            return f"{self.calls - self.sipp_ok} calls failed"
        if self.completed != self.calls or self.refused:
            return f"{self.completed} drafted, {self.refused} refused"
        if self.achieved_cps < 0.9 * self.rate:
            return "rate not sustained"
        if self.rtd(0.95) > SETUP_P95_MS:
            return f"p95 setup > {SETUP_P95_MS:.0f} ms"
        return ""

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def ms_per_setup(self) -> float:
        return self.gateway_cpu_s * 1000 / self.calls if self.calls else 0.0

    def rtd(self, q: float) -> float:
        if not self.rtd_ms:
            return float("nan")
        data = sorted(self.rtd_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


async def setup_level(gateway: SipGateway, probe: Probe, port: int, workdir: Path,
                      rate: int, seconds: float) -> SetupLevel:
    probe.reset()
    calls = max(10, int(rate * seconds))
    completed0, refused0 = gateway.completed, gateway.refused
    sipp = Sipp("uac_short.xml", {"HOLD_MS": "200"}, port, workdir / f"setup-{rate}",
                calls=calls, concurrency=max(50, rate * 4), rate=rate, timeout_s=seconds + 60)
    cpu0, t0 = cpu_self(), time.perf_counter()
    await sipp.start()
    result = await sipp.wait()
    note = "" if await wait_idle(gateway, 60) else "calls left open"
    cpu1, t1 = cpu_self(), time.perf_counter()
    arrivals = probe.arrivals
    achieved = ((len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
                if len(arrivals) > 1 and arrivals[-1] > arrivals[0] else 0.0)
    if result.timed_out:
        note = note or "sipp timed out"
    return SetupLevel(
        rate=rate, calls=calls, sipp_ok=result.successful, sipp_failed=result.failed,
        completed=gateway.completed - completed0, refused=gateway.refused - refused0,
        achieved_cps=achieved, gateway_cpu_s=cpu1 - cpu0, elapsed_s=t1 - t0,
        rtd_ms=result.rtd_ms, load=os.getloadavg()[0], note=note,
    )


# ---- report ----------------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and whether the working tree had changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=HERE, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=HERE, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes' if dirty.strip() else ''}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def ceiling_rows(ceilings: list[CeilingResult]) -> Iterator[list[str]]:
    for c in ceilings:
        yield [c.name, f"{c.received_pps:,.0f}", f"{c.cpu_fraction:.2f}",
               f"{c.pps_per_core:,.0f}", f"{c.pps_per_core / PACKETS_PER_S:,.0f}"]


def report(plan: Plan, ceilings: list[CeilingResult], holds: list[HoldLevel],
           setups: list[SetupLevel], load0: tuple[float, float, float],
           outbound: list[OutboundLevel] | None = None) -> None:
    print()
    print(f"bench/sip — {os.cpu_count()} cores, load average at start "
          f"{load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}; gateway = this process, "
          "ASR stubbed (fake engine, 1 worker process), sipp on the same machine")
    print(f"code: {code_version()}; event loop: {plan.loop}; calls: "
          + ("IVR menu as configured" if plan.ivr else "straight to intake (IVR off)"))
    print()
    print("1. Ceiling: plain Python UDP receive on 127.0.0.1 (172-byte datagrams, sender in "
          f"another process, {plan.ceiling_s:.0f} s)")
    print(table(["receiver", "pkts/s", "cpu (cores)", "pkts/s per core",
                 "G.711 calls per core"], list(ceiling_rows(ceilings))))
    print()
    print(f"2. Held calls: PCMU (dev calls looped), set up at {RAMP_CPS}/s, each held until "
          f"all are up plus {plan.window_s:.0f} s; loss = 1 - accepted / (pcap packets × "
          "answered calls); CPU (fraction of one core) over the window with every call up")
    rows = []
    for h in sorted(holds, key=lambda h: h.calls):
        rows.append([
            str(h.calls), f"{h.hold_s:.0f}", f"{h.answered}", f"{h.sipp_failed}",
            f"{h.sent:,}", f"{h.accepted:,}", f"{h.loss * 100:.3f}%", f"{h.concealed}",
            f"{h.rcvbuf_errors}", f"{h.no_ports}", f"{h.max_lag_ms:.0f}",
            f"{h.teardown_lag_ms:.0f}", f"{h.fsync_s:.2f}", f"{h.gateway_pps:,.0f}",
            f"{h.gateway_pps / (h.calls * PACKETS_PER_S) * 100:.0f}%", f"{h.gateway_cpu:.2f}",
            f"{h.gateway_sys:.2f}", f"{h.ms_per_call_second:.2f}",
            f"{h.gateway_cpu / h.gateway_pps * 1e6:.1f}" if h.gateway_pps else "-",
            f"{h.workers_cpu:.2f}",
            "-" if h.sipp_cpu is None else f"{h.sipp_cpu:.2f}",
            f"{h.load:.1f}", "ok" if h.ok else (h.note or "LOSS/FAIL"),
        ])
    print(table(["calls", "hold s", "answered", "failed", "pkts sent", "accepted", "loss",
                 "concealed", "rcvbuf drops", "to closed port", "loop lag ms", "at hang-ups",
                 "fsync s/s",
                 "gw pkts/s", "%", "gw cpu", "of it sys",
                 "ms cpu/call-s", "µs cpu/pkt", "asr cpu", "sipp cpu", "load", "verdict"], rows))
    print("   (rcvbuf drops: kernel UDP RcvbufErrors during the level, machine-wide: they include"
          " datagrams to sipp's media port, which sipp never reads; to closed port: datagrams"
          " arriving after a call's RTP socket closed; loop lag: worst lateness of a 10 ms"
          " timer on the gateway's loop in the window; at hang-ups: from then until every call"
          " is drafted; fsync s/s: loop time blocked in os.fsync of recordings; % : gateway"
          " pkts/s of the 50/s per call offered; µs cpu/pkt: gateway CPU per RTP packet it"
          " received (its sending included), the figure that depends least on the machine's"
          " load: × 50 it is ms per call-second when no packet is lost)")
    print()
    print("3. Call setup rate: short calls (INVITE/100/180/200/ACK, 200 ms, BYE/200; no "
          "media), answer_delay_ms=0; a rate counts with no failed call, every call drafted, "
          f"≥ 90 % of the rate seen at the gateway and p95 INVITE→200 ≤ {SETUP_P95_MS:.0f} ms")
    rows = []
    for s in setups:
        rows.append([
            str(s.rate), str(s.calls), f"{s.achieved_cps:.1f}", str(s.sipp_ok),
            str(s.sipp_failed), str(s.completed), str(s.refused),
            f"{s.rtd(0.5):.0f}", f"{s.rtd(0.95):.0f}", f"{s.rtd(0.99):.0f}",
            f"{s.ms_per_setup:.1f}", f"{s.gateway_cpu_s / s.elapsed_s:.2f}", f"{s.load:.1f}",
            "ok" if s.ok else s.failures,
        ])
    print(table(["cps asked", "calls", "cps seen", "ok", "failed", "drafted", "refused",
                 "200 p50 ms", "p95", "p99", "gw ms cpu/call", "gw cpu", "load", "verdict"],
                rows))
    print()
    good = [h for h in holds if h.ok]
    best = max(good, key=lambda h: h.calls) if good else None
    under_core = [h for h in good if h.gateway_cpu <= 1.0]
    best_core = max(under_core, key=lambda h: h.calls) if under_core else None
    ok_rates = [s for s in setups if s.ok]
    best_rate = max(ok_rates, key=lambda s: s.rate) if ok_rates else None
    asy = next((c for c in ceilings if "asyncio" in c.name), None)
    blk = next((c for c in ceilings if "blocking" in c.name), None)
    media_ms = statistics.median([h.ms_per_call_second for h in good]) if good else 0.0
    if outbound:
        print("3b. Outbound (回访 surveys to sipp-as-citizen, which presses 1 and 1; no prompt "
              "audio; INVITE/s seen: first to last INVITE; cap up: per-trunk concurrency)")
        print(table(OUTBOUND_HEADERS, outbound_rows(outbound)))
        print()
    print("4. Summary")
    summary: list[list[str]] = []
    if best is not None:
        summary.append(["most concurrent calls with loss ≤ 0.1 %", f"{best.calls}",
                        f"gateway {best.gateway_cpu:.2f} core, loss {best.loss * 100:.3f}%"])
    else:
        summary.append(["most concurrent calls with loss ≤ 0.1 %", "none", "every level failed"])
    summary.append(["… of those with gateway ≤ 1 core (target ≥ 300)",
                    str(best_core.calls) if best_core else "none",
                    "MET" if best_core and best_core.calls >= 300 else "NOT MET"])
    summary.append(["call setups/s sustained, no failures (target ≥ 50)",
                    str(best_rate.rate) if best_rate else "none",
                    "MET" if best_rate and best_rate.rate >= 50 else "NOT MET"])
    if media_ms:
        summary.append(["gateway CPU per call-second of media", f"{media_ms:.2f} ms",
                        f"= {media_ms * 300 / 1000:.2f} core for 300 calls, "
                        f"{1000 / media_ms:.0f} calls per core"])
    if ok_rates:
        per_setup = statistics.median([s.ms_per_setup for s in ok_rates])
        summary.append(["gateway CPU per call setup (incl. session, storage, draft)",
                        f"{per_setup:.1f} ms",
                        f"= {1000 / per_setup:.0f} setups/s per core" if per_setup else ""])
    if best is not None and asy is not None and asy.pps_per_core:
        gw_per_core = best.gateway_pps / best.gateway_cpu if best.gateway_cpu else 0.0
        summary.append(["gateway pkts/s at its best level", f"{best.gateway_pps:,.0f}",
                        f"{best.gateway_pps / asy.received_pps:.2f}× the asyncio ceiling rate"])
        summary.append(["gateway pkts/s per core", f"{gw_per_core:,.0f}",
                        f"{gw_per_core / asy.pps_per_core:.3f}× asyncio socket"
                        + (f", {gw_per_core / blk.pps_per_core:.3f}× blocking socket"
                           if blk and blk.pps_per_core else "")])
        summary.append(["µs gateway CPU per RTP packet",
                        f"{1e6 / gw_per_core:.1f}" if gw_per_core else "-",
                        f"asyncio receive alone: {1e6 / asy.pps_per_core:.1f} µs"])
    print(table(["figure", "value", "note"], summary))


# ---- main ------------------------------------------------------------------------------


def next_level(results: list[HoldLevel], plan: Plan, tried: int) -> int | None:
    """The next concurrency to try: the plan's rising levels until one fails, then up to
    ``plan.bisect`` levels halfway between the best good one and the first bad one."""
    bad = [h.calls for h in results if not h.ok]
    good = [h.calls for h in results if h.ok]
    if not bad:
        rest = [n for n in plan.levels if n > max(good, default=0)]
        return rest[0] if rest else None
    if tried >= plan.bisect:
        return None
    lo, hi = max([n for n in good if n < min(bad)], default=0), min(bad)
    mid = (lo + hi) // 2 // 10 * 10
    return mid if lo < mid < hi and hi - lo > 20 else None


async def gateway_part(plan: Plan, workdir: Path) -> tuple[list[HoldLevel], list[SetupLevel],
                                                           list[OutboundLevel]]:
    settings = load_settings(environ={"VOICE_INTAKE_DATA_DIR": str(workdir / "data"),
                                      "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR)})
    settings = sip_settings(settings, rate_limit_per_s=1000, rate_limit_burst=1000,
                            max_calls=2000, answer_delay_ms=0, rtp_timeout_s=15.0)
    ivr = getattr(settings, "ivr", None)
    if ivr is not None and hasattr(ivr, "enabled") and not plan.ivr:
        # Intake only: no prompts, no menu timeouts ending a held call early.
        settings = dataclasses.replace(settings, ivr=dataclasses.replace(ivr, enabled=False))
    speech = dev_speech()
    plan.loop = eventloop.loop_name(asyncio.get_running_loop())
    holds: list[HoldLevel] = []
    setups: list[SetupLevel] = []
    async with running_gateway(settings, spec=EngineSpec(kind="fake"), workers=1) as (
            services, gateway):
        probe = Probe(gateway)
        probe.install()
        FSYNC.install()
        port = settings.sip.port
        for rate in plan.rates:
            level = await setup_level(gateway, probe, port, workdir, rate, plan.rate_s)
            setups.append(level)
            print(f"  setup {rate:>4}/s: {level.sipp_ok}/{level.calls} ok, seen "
                  f"{level.achieved_cps:.0f}/s, p95 {level.rtd(0.95):.0f} ms, "
                  f"{level.ms_per_setup:.1f} ms cpu/call, load {level.load:.1f} "
                  f"{level.failures}", flush=True)
            if not level.ok:
                break
        bisected = 0
        while (calls := next_level(holds, plan, bisected)) is not None:
            if any(not h.ok for h in holds):
                bisected += 1
            h = await hold_level(gateway, services, probe, port, workdir, speech,
                                 plan.window_s, calls)
            holds.append(h)
            sipp_cpu = "-" if h.sipp_cpu is None else f"{h.sipp_cpu:.2f}"
            print(f"  hold {calls:>4} calls: loss {h.loss * 100:.3f}%, gateway "
                  f"{h.gateway_cpu:.2f} core, {h.gateway_pps:,.0f} pkts/s, "
                  f"sipp {sipp_cpu}, load {h.load:.1f} {h.note}", flush=True)
        outbound: list[OutboundLevel] = []
        for rate in plan.outbound:  # a 6 s ramp; a survey lasts about 4 s
            o = await outbound_level(gateway, workdir, calls=rate * 6, rate=rate,
                                     concurrency=rate * 5)
            outbound.append(o)
            print(f"  outbound {rate:>3}/s: {o.answered}/{o.calls} answered, "
                  f"{o.attempts_per_s:.1f} INVITE/s, peak {o.peak_up} up, load {o.load:.1f}",
                  flush=True)
    return holds, setups, outbound


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="about 2 minutes")
    parser.add_argument("--levels", help="concurrent calls, e.g. 100,200,300")
    parser.add_argument("--rates", help="call setup rates, e.g. 25,50,100")
    parser.add_argument("--ivr", action="store_true",
                        help="calls walk the configured IVR menu (default: straight to intake)")
    parser.add_argument("--outbound", help="回访 rows: INVITE rates, e.g. 2,5 (a 6 s ramp each)")
    parser.add_argument("--window", type=float,
                        help="seconds measured with every held call up")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                        help="the gateway's event loop (default: as `serve`, uvloop if "
                             "installed)")
    args = parser.parse_args(argv)
    if SIPP is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    plan = QUICK if args.quick else FULL
    if args.levels:
        plan.levels[:] = [int(x) for x in args.levels.split(",")]
    if args.rates:
        plan.rates[:] = [int(x) for x in args.rates.split(",")]
    if args.window:
        plan.window_s = args.window
    plan.ivr = args.ivr
    if args.outbound:
        plan.outbound[:] = [int(x) for x in args.outbound.split(",")]
    load0 = os.getloadavg()
    started = time.perf_counter()
    print(f"load average {load0[0]:.2f}; ceiling ({plan.ceiling_s:.0f} s each)…", flush=True)
    ceilings = [asyncio_ceiling(plan.ceiling_s), blocking_ceiling(plan.ceiling_s)]
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        holds, setups, outbound = eventloop.run(gateway_part(plan, Path(tmp)), args.loop)
    report(plan, ceilings, holds, setups, load0, outbound)
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")
