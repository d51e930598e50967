"""bench/tcp_flood: 20,000 idle TCP connections against ``voice-intake serve`` (#14 item 7).

    .venv/bin/python -m bench.tcp_flood [--connections 20000] [--sources 400] [--calls 5]

Before the SIP limits, about 20,000 idle connections exhausted the gateway's file
descriptors: calls got 503 ("no bindable RTP port"), ``/healthz`` timed out, and 483,305
tracebacks (215 MB) were logged in 75 s. This bench runs the real server (the fake ASR
engine, ``bench.faults.fake_serve``, so that no model load skews it) with its default
``sip.tcp_*`` limits, and measures, in one run:

1. baseline: ``/healthz`` latency over 100 requests, and ``--calls`` sipp calls over UDP
   (each plays a dev call, then BYE): answered and drafted;
2. the flood: helper processes (at most 5,000 sockets each) open ``--connections`` TCP
   connections to the SIP port from ``--sources`` loopback addresses (127.0.1.x …), send
   nothing, and keep them open; after ``HOLD_S`` seconds each socket is checked: still
   open (held by the gateway) or closed/reset (refused at accept);
3. under the flood, the same ``/healthz`` requests and sipp calls, the gateway's open file
   descriptors, and what it logged meanwhile (lines, tracebacks).

Figures are printed beside the baseline. Targets: calls all answered and drafted, /healthz
p95 within 10× its baseline (and under 1 s), held connections ≤ ``sip.tcp_max_connections``,
no traceback, a handful of log lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from bench.faults.procs import Callers, Serve, read_calls
from bench.faults.run import build_pcap
from bench.sip.run import code_version
from tests.conftest import CALLS_DIR

HOLD_S = 8.0  # the flood is judged this long after its last connect
PER_PROCESS = 5000
DEFAULT_MAX_CONNECTIONS = 2000

# One flooding process: opens its share of connections, reports what the gateway kept.
FLOODER = textwrap.dedent("""
    import errno, json, select, socket, sys, time
    port, count, first_source, per_source, hold = (int(sys.argv[1]), int(sys.argv[2]),
        int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    socks, failed = [], 0
    t0 = time.time()
    for i in range(count):
        n = first_source + i // per_source
        src = f"127.{1 + n // 250}.{n % 250 + 1}.1"
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            err = s.connect_ex(("127.0.0.1", port))
        except OSError:
            failed += 1
            s.close()
            continue
        if err not in (0, errno.EINPROGRESS):
            failed += 1
            s.close()
            continue
        socks.append(s)
    opened = time.time() - t0
    time.sleep(hold)
    held = closed = pending = 0
    for s in socks:
        try:
            s.getpeername()
        except OSError:  # never connected: the SYN waits in a full accept queue, or failed
            pending += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            closed += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
            continue
        try:
            data = s.recv(1, socket.MSG_PEEK)
            closed += data == b""
            held += data != b""
        except BlockingIOError:
            held += 1
        except OSError:
            closed += 1
    print(json.dumps({"attempted": count, "failed": failed, "held": held, "closed": closed,
                      "pending": pending, "open_s": opened}), flush=True)
    sys.stdin.readline()  # keep them open until told
""")


def healthz(port: int, n: int = 100) -> tuple[float, float, int]:
    """p50 and p95 latency (ms) of ``n`` sequential GET /healthz, and how many failed."""
    times: list[float] = []
    failed = 0
    for _ in range(n):
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                r.read()
        except OSError:
            failed += 1
            continue
        times.append((time.perf_counter() - t) * 1000)
    if not times:
        return float("nan"), float("nan"), failed
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], failed


def run_calls(serve: Serve, workdir: Path, name: str, numbers: list[str], pcap: Path,
              audio_s: float) -> tuple[int, int]:
    """sipp calls over UDP: (answered 200, drafted)."""
    callers = Callers(name, workdir, serve.sip_port, numbers, pcap, int(audio_s * 1000),
                      rate=5.0, bye_wait_ms=1000)
    callers.start()
    callers.wait(audio_s + 120)
    answered = sum(v.final == 200 for v in callers.views().values())
    deadline = time.time() + 60
    drafted = 0
    while time.time() < deadline:
        calls = read_calls(serve.db)
        drafted = sum(1 for n in numbers if (c := calls.get(n)) is not None and c.drafted)
        if drafted == len(numbers):
            break
        time.sleep(0.5)
    return answered, drafted


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tcp_flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--sources", type=int, default=400,
                        help="loopback source addresses the connections come from")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-tcp-flood-"))
    pcap, audio_s = build_pcap(CALLS_DIR / "D02.ulaw.wav", workdir)
    serve = Serve("flood", workdir, workdir / "data", engine="fake", fake_delay=0.05)
    started = time.time()
    print(f"bench/tcp_flood — {args.connections:,} connections from {args.sources} sources, "
          f"{args.calls} calls per phase; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; code {code_version()}", flush=True)
    flooders: list[subprocess.Popen[str]] = []
    try:
        serve.start()
        if serve.wait_ready(120) is None:
            raise SystemExit(f"serve did not get ready; log {serve.logs[-1]}")
        base_fds = open_fds(serve.pid)
        base_health = healthz(serve.http_port)
        base_calls = run_calls(serve, workdir, "base", [f"1390000{i:04d}" for i in
                                                        range(args.calls)], pcap, audio_s)
        log_before = serve.logs[-1].read_text(errors="replace").count("\n")
        print(f"baseline: healthz p50/p95 {base_health[0]:.1f}/{base_health[1]:.1f} ms, "
              f"calls answered/drafted {base_calls[0]}/{base_calls[1]}", flush=True)

        per_source = max(1, -(-args.connections // args.sources))
        left, first = args.connections, 0
        while left > 0:
            n = min(PER_PROCESS, left)
            flooders.append(subprocess.Popen(
                [sys.executable, "-c", FLOODER, str(serve.sip_port), str(n), str(first),
                 str(per_source), str(HOLD_S)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            first += -(-n // per_source)
            left -= n
        reports = [json.loads(p.stdout.readline() or "{}") for p in flooders if p.stdout]
        flood_fds = open_fds(serve.pid)
        flood_health = healthz(serve.http_port)
        flood_calls = run_calls(serve, workdir, "flood", [f"1380000{i:04d}" for i in
                                                          range(args.calls)], pcap, audio_s)
        log = [line for line in
               serve.logs[-1].read_text(errors="replace").splitlines()[log_before:]
               if "aiohttp.access" not in line]  # one per /healthz request, by design
        tracebacks = sum("Traceback" in line for line in log)
        held = sum(r.get("held", 0) for r in reports)
        closed = sum(r.get("closed", 0) for r in reports)
        pending = sum(r.get("pending", 0) for r in reports)
        failed = sum(r.get("failed", 0) for r in reports)
        opened_s = max((r.get("open_s", 0.0) for r in reports), default=0.0)
        rows = [
            ("connections attempted / refused by the OS", f"{args.connections:,} / {failed:,}",
             ""),
            ("flooder sockets open / closed by the gateway", f"{held:,} / {closed:,}",
             "open beyond the cap: queued in the kernel, not held by the gateway"),
            ("never connected (SYN unanswered)", f"{pending:,}",
             "the kernel's accept queue was full"),
            ("seconds to open them", f"{opened_s:.1f}", ""),
            ("gateway open fds", f"{flood_fds:,}", f"baseline {base_fds:,}; cap "
             f"sip.tcp_max_connections = {DEFAULT_MAX_CONNECTIONS:,}"),
            ("/healthz p50 / p95 ms", f"{flood_health[0]:.1f} / {flood_health[1]:.1f}",
             f"baseline {base_health[0]:.1f} / {base_health[1]:.1f}, "
             f"p95 {flood_health[1] / base_health[1]:.1f}×"),
            ("/healthz failed", f"{flood_health[2]}", f"baseline {base_health[2]}"),
            ("calls answered / drafted", f"{flood_calls[0]} / {flood_calls[1]}",
             f"of {args.calls}; baseline {base_calls[0]} / {base_calls[1]}"),
            ("log lines in the flood / tracebacks", f"{len(log)} / {tracebacks}",
             "access log lines left out"),
        ]
        width = max(len(r[0]) for r in rows)
        print()
        for label, value, note in rows:
            print(f"{label:>{width}}  {value:>16}  {note}")
        ok = (flood_calls == (args.calls, args.calls) and tracebacks == 0
              and flood_fds <= base_fds + DEFAULT_MAX_CONNECTIONS + 100
              and flood_health[2] == 0
              and flood_health[1] < 1000)
        print(f"\nverdict: {'MET' if ok else 'NOT MET'} (calls all answered and drafted, "
              f"gateway fds within the cap, /healthz answering under 1 s, no traceback)")
        print("log lines during the flood:")
        for line in log[:12]:
            print("   ", line[:160])
    finally:
        for p in flooders:
            if p.poll() is None and p.stdin:
                try:
                    p.stdin.write("\n")
                    p.stdin.flush()
                except OSError:
                    pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if serve.running() and serve.proc is not None:
            serve.proc.terminate()
            try:
                serve.proc.wait(60)
            except subprocess.TimeoutExpired:
                serve.proc.kill()
        print(f"\n(run took {time.time() - started:.0f} s)")
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
