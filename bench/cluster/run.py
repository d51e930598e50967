"""``python -m bench.cluster --nodes N --calls C --rate R --kill-node K --after S``

Everything on loopback, from Debian's binaries and this repository:

1. a throwaway PostgreSQL (tests/storage/pgcluster.py), migrated once by
   ``voice-intake db upgrade``;
2. N ``voice-intake serve`` processes, each with its own SIP port, RTP range, HTTP port
   and data directory, node ids ``node-1`` … ``node-N``, one ASR worker each;
3. Kamailio with the shipped deploy/kamailio/dispatcher.cfg over the N nodes;
4. baseline, in the same run: ``--baseline-calls`` short calls (no audio) straight to
   node 1, then as many through Kamailio: setup p50/p95 and calls per second each, so the
   proxy's cost shows; then ``--throughput-calls`` calls of dev-call audio straight to
   node 1, then as many through Kamailio over all N nodes, each waited for until drafted:
   drafts a minute and the nodes' CPU seconds per call-second, one process against N;
5. the run: sipp places C calls at R per second through Kamailio, each playing a dev call
   (its first ``--audio-s`` seconds); after S seconds node K is SIGKILLed, and restarted
   ``--restart-after`` seconds later (it recovers its unfinished calls at start);
6. an agent's websocket on a node that is not killed collects the drafts it is pushed;
7. once every answered call has its draft (or ``--wait-s`` passed), the report.

Answered = a call stored with its ``answered`` event; lost = answered with no draft;
failover_s = from the kill until the first call set up after it is answered;
cross_node_events_ok = the websocket got every draft of calls other nodes took. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from storage import create_engine
from tests.interop.peers import SCENARIOS as INTEROP_SCENARIOS
from tests.interop.peers import render_dispatcher, run_sipp_at, running_kamailio
from tests.sipp.harness import SHARED_PROMPTS, call_audio, free_port
from tests.storage.pgcluster import create_database, temporary_cluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = ROOT.parent / "shared"
CALLS_DIR = SHARED / "audio" / "calls" / "dev"
SECRET = "bench-cluster-secret"
WATCHER_PASSWORD = "bench-cluster-agent-7391"


@dataclass
class Node:
    index: int
    sip_port: int
    http_port: int
    data_dir: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def name(self) -> str:
        return f"node-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "voice_gateway.cli", "serve"],
                                     env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=ROOT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: drain (no call left), then exit
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def node_env(index: int, db: str, root: Path, sip_port: int, http_port: int,
             engine: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_INTAKE_")}
    rtp = 20000 + index * 1000
    env.update({
        "VOICE_INTAKE_DATA_DIR": str(root / f"node-{index}"),
        "VOICE_INTAKE_MODEL_DIR": os.environ.get("VOICE_INTAKE_MODEL_DIR",
                                                 str(SHARED / "models")),
        "VOICE_INTAKE_DATABASE_URL": db,
        "VOICE_INTAKE_HTTP_PORT": str(http_port),
        "VOICE_INTAKE_SIP_PORT": str(sip_port),
        "VOICE_INTAKE_SIP_RTP_PORT_MIN": str(rtp),
        "VOICE_INTAKE_SIP_RTP_PORT_MAX": str(rtp + 998),
        "VOICE_INTAKE_SIP_ANSWER_DELAY_MS": "100",
        "VOICE_INTAKE_SIP_RATE_LIMIT_PER_S": "200",
        "VOICE_INTAKE_SIP_RATE_LIMIT_BURST": "400",
        "VOICE_INTAKE_ASR_WORKERS": "1",
        "VOICE_INTAKE_ASR_ENGINE": engine,
        "VOICE_INTAKE_IVR_ENABLED": "false",
        "VOICE_INTAKE_IVR_PROMPT_DIR": str(SHARED_PROMPTS),
        "VOICE_INTAKE_CLUSTER_NODE_ID": f"node-{index}",
        "VOICE_INTAKE_CLUSTER_SECRET": SECRET,
        "VOICE_INTAKE_CLUSTER_INTERNAL_URL": f"http://127.0.0.1:{http_port}",
        "VOICE_INTAKE_CLUSTER_HEARTBEAT_INTERVAL_S": "1",
        "VOICE_INTAKE_DRAFTING_SWEEP_INTERVAL_S": "5",
        "VOICE_INTAKE_DRAFTING_RETRY_AFTER_S": "10",
    })
    return env


async def wait_ready(node: Node, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if node.proc is not None and node.proc.poll() is not None:
                tail = node.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{node.name} exited ({node.proc.returncode}):\n{tail}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{node.url}/readyz") as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.name} not ready within {within:.0f} s")
            await asyncio.sleep(0.5)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    run = subprocess.run([sys.executable, "-m", "voice_gateway.cli", *args], env=env,
                         input=stdin, text=True, capture_output=True, cwd=ROOT, timeout=300)
    if run.returncode != 0:
        raise RuntimeError(f"voice-intake {' '.join(args)}: {run.stderr[-2000:]}")


def short_audio(seconds: float, workdir: Path) -> dict[str, str]:
    """The first dev call's first ``seconds`` as an RTP pcap (sipp's values)."""
    source = sorted(CALLS_DIR.glob("*.pcm8k.wav"))
    if not source:
        raise SystemExit(f"no dev-call audio in {CALLS_DIR}")
    cut = workdir / "caller.wav"
    with wave.open(str(source[0])) as w:
        frames = w.readframes(int(w.getframerate() * seconds))
        params = w.getparams()
    with wave.open(str(cut), "wb") as out:
        out.setparams(params)
        out.writeframes(frames)
    return call_audio(cut, workdir)


def rtts(workdir: Path, since: float) -> list[float]:
    """Setup times (INVITE to 200, ms) from the sipp -trace_rtt files written after
    ``since`` (wall clock)."""
    out: list[float] = []
    for f in workdir.glob("*_rtt.csv"):
        if f.stat().st_mtime < since:
            continue
        for line in f.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            with contextlib.suppress(ValueError, IndexError):
                out.append(float(parts[1]))
    return out


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


@dataclass
class Watcher:
    """An agent's websocket on one node: the call ids of the drafts it was pushed."""

    node: Node
    call_ids: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    async def run(self) -> None:
        # unsafe: the session cookie is for 127.0.0.1, an IP address
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{self.node.url}/api/login", json={
                    "username": "watcher", "password": WATCHER_PASSWORD}) as resp:
                if resp.status != 200:
                    self.errors.append(f"login {resp.status}")
                    return
            while True:
                try:
                    async with http.ws_connect(f"{self.node.url}/api/ws") as ws:
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                continue
                            body = json.loads(msg.data)
                            if body.get("type") == "draft" and body.get("event") == \
                                    "draft_created":
                                self.call_ids.add(str(body["draft"].get("call_id")))
                except (aiohttp.ClientError, OSError) as exc:
                    self.errors.append(type(exc).__name__)
                    await asyncio.sleep(1)


async def phase(name: str, target: tuple[str, int], workdir: Path, calls: int, rate: float,
                values: dict[str, str], scenario: Path, timeout_s: int) -> dict[str, Any]:
    started = time.time()
    run = await run_sipp_at(scenario, target, workdir, calls=calls, concurrency=calls,
                            rate=rate, inf=[[f"1390000{n:04d}"] for n in range(calls)],
                            values=values, timeout_s=timeout_s,
                            extra=("-trace_rtt", "-rtt_freq", "1"))
    elapsed = time.time() - started
    setups = rtts(workdir, started)
    result = {"phase": name, "calls": calls, "sipp_exit": run.returncode,
              "answered": len(setups), "elapsed_s": round(elapsed, 1),
              "calls_per_s": round(len(setups) / elapsed, 2) if elapsed else None,
              "setup_p50_ms": pct(setups, 50), "setup_p95_ms": pct(setups, 95)}
    print(json.dumps(result), flush=True)
    return result


async def db_figures(db: str, since: datetime) -> dict[str, Any]:
    engine = create_engine(db)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT c.id, c.node_id, c.started_at, "
                " (SELECT min(e.at) FROM events e WHERE e.call_id = c.id "
                "  AND e.kind = 'answered') AS answered_at, "
                " EXISTS (SELECT 1 FROM drafts d WHERE d.call_id = c.id) AS drafted, "
                " (SELECT max(d.created_at) FROM drafts d WHERE d.call_id = c.id) AS drafted_at "
                "FROM calls c WHERE c.started_at >= :since"), {"since": since})).all()
    finally:
        await engine.dispose()
    return {"rows": rows}


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its live descendants (a node's
    ASR workers), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            proc = int(stat.parent.name)
            parents[proc] = int(fields[1])
            times[proc] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        proc = todo.pop()
        total += times.get(proc, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == proc)
    return total


def nodes_cpu_s(nodes: list[Node]) -> float:
    return sum(tree_cpu_s(n.proc.pid) for n in nodes if n.proc is not None)


async def throughput(name: str, target: tuple[str, int], workdir: Path, db: str,
                     nodes: list[Node], args: argparse.Namespace,
                     audio: dict[str, str]) -> dict[str, Any]:
    """``--throughput-calls`` calls of dev-call audio at ``--throughput-rate`` to
    ``target``, waited for until drafted: calls drafted a minute (wall clock, from the
    first INVITE to the last draft) and the nodes' CPU seconds per call-second (their
    processes and ASR workers; about the same whatever else loads the machine)."""
    since = datetime.now(UTC)
    cpu_before = nodes_cpu_s(nodes)
    run = await phase(name, target, workdir, args.throughput_calls, args.throughput_rate,
                      audio, HERE / "uac_routed_audio.xml",
                      int(args.throughput_calls / args.throughput_rate + args.audio_s + 60))
    deadline = time.monotonic() + args.wait_s
    while True:
        rows = [r for r in (await db_figures(db, since))["rows"] if r.answered_at is not None]
        if all(r.drafted for r in rows) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    cpu_s = nodes_cpu_s(nodes) - cpu_before
    done = [r.drafted_at for r in rows if r.drafted_at is not None]
    wall_s = (max(done) - since).total_seconds() if done else None
    call_s = len(rows) * args.audio_s
    result = {
        "phase": name, "nodes": len(nodes), "answered": len(rows), "drafted": len(done),
        "wall_s": round(wall_s, 1) if wall_s else None,
        "drafted_per_min": round(len(done) / wall_s * 60, 1) if wall_s else None,
        "cpu_s": round(cpu_s, 1),
        "cpu_s_per_call_s": round(cpu_s / call_s, 3) if call_s else None,
        "per_node": {n: sum(1 for r in rows if r.node_id == n) for n in
                     sorted({r.node_id or "?" for r in rows})},
        "setup_p95_ms": run["setup_p95_ms"],
    }
    print(json.dumps(result), flush=True)
    return result


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    audio = short_audio(args.audio_s, workdir)
    with temporary_cluster() as server:
        db = await create_database(server, "bench")
        nodes: list[Node] = []
        for i in range(1, args.nodes + 1):
            sip_port, http_port = free_port(), free_port(__import__("socket").SOCK_STREAM)
            env = node_env(i, db, workdir, sip_port, http_port, args.engine)
            nodes.append(Node(i, sip_port, http_port, workdir / f"node-{i}", env,
                              workdir / f"node-{i}.log"))
        cli(nodes[0].env, "db", "upgrade")  # once, for every node
        cli(nodes[0].env, "users", "add", "watcher", "--role", "agent",
            stdin=WATCHER_PASSWORD + "\n")
        for node in nodes:
            node.start()
        try:
            await asyncio.gather(*(wait_ready(n, args.start_timeout_s) for n in nodes))
            print(f"{args.nodes} node(s) ready; logs in {workdir}", flush=True)
            return await with_kamailio(args, workdir, db, nodes, audio)
        finally:
            for node in nodes:
                node.stop()


@contextlib.asynccontextmanager
async def kamailio_over(nodes: list[Node], workdir: Path) -> AsyncIterator[tuple[str, int]]:
    shipped = render_dispatcher(workdir, [f"sip:127.0.0.1:{n.sip_port}" for n in nodes])
    async with running_kamailio(shipped.config, workdir, shipped.port) as kamailio:
        yield ("127.0.0.1", kamailio.port)


async def with_kamailio(args: argparse.Namespace, workdir: Path, db: str, nodes: list[Node],
                        audio: dict[str, str]) -> dict[str, Any]:
    short = INTEROP_SCENARIOS / "uac_routed.xml"
    async with kamailio_over(nodes, workdir) as proxy:
        baseline = [
            await phase("baseline: one node direct", ("127.0.0.1", nodes[0].sip_port),
                        workdir, args.baseline_calls, args.baseline_rate,
                        {"HOLD_MS": "1000"}, short, 60),
            await phase("baseline: through Kamailio", proxy, workdir, args.baseline_calls,
                        args.baseline_rate, {"HOLD_MS": "1000"}, short, 60),
        ]
        scaling = []
        if args.throughput_calls:  # one process against all of them (#18 item 6)
            scaling = [
                await throughput("throughput: one node direct", ("127.0.0.1", nodes[0].sip_port),
                                 workdir, db, nodes[:1], args, audio),
                await throughput(f"throughput: {len(nodes)} nodes through Kamailio", proxy,
                                 workdir, db, nodes, args, audio),
            ]
        victim = nodes[args.kill_node - 1] if args.kill_node else None
        watched = next(n for n in nodes if n is not victim)
        watcher = Watcher(watched)
        watching = asyncio.create_task(watcher.run())
        await asyncio.sleep(1)
        since = datetime.now(UTC)
        timeout = int(args.calls / args.rate + args.audio_s + 60)
        load = asyncio.create_task(phase(
            "cluster run", proxy, workdir, args.calls, args.rate, audio,
            HERE / "uac_routed_audio.xml", timeout))
        killed_at: datetime | None = None
        if victim is not None:
            await asyncio.sleep(args.after)
            victim.kill()
            killed_at = datetime.now(UTC)
            print(f"{victim.name} SIGKILLed at +{args.after:g} s", flush=True)
            await asyncio.sleep(args.restart_after)
            victim.start()
            await wait_ready(victim, args.start_timeout_s)
            print(f"{victim.name} restarted and ready", flush=True)
        run = await load
        deadline = time.monotonic() + args.wait_s
        while True:
            rows = (await db_figures(db, since))["rows"]
            answered = [r for r in rows if r.answered_at is not None]
            if all(r.drafted for r in answered) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        await asyncio.sleep(2)  # the last drafts' websocket pushes
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    per_node: dict[str, int] = {n.name: 0 for n in nodes}
    for r in answered:
        per_node[r.node_id or "?"] = per_node.get(r.node_id or "?", 0) + 1
    others = {r.id for r in answered if r.drafted and r.node_id != watched.name}
    failover_s = None
    if killed_at is not None:
        after = [r.answered_at for r in answered if r.started_at > killed_at]
        if after:
            failover_s = round((min(after) - killed_at).total_seconds(), 2)
    return {
        "nodes": args.nodes, "offered": args.calls, "answered": len(answered),
        "refused": args.calls - len(answered),
        "drafted": sum(1 for r in answered if r.drafted),
        "lost": sum(1 for r in answered if not r.drafted),
        "per_node": per_node, "failover_s": failover_s,
        "cross_node_events_ok": bool(others) and others <= watcher.call_ids,
        "setup_p95_ms": run["setup_p95_ms"],
        "baseline": baseline, "throughput": scaling, "watcher_node": watched.name,
        "cross_node_drafts": len(others), "cross_node_seen": len(others & watcher.call_ids),
        "watcher_pushed": len(watcher.call_ids), "watcher_errors": watcher.errors[:5],
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--rate", type=float, default=2.0, help="new calls per second")
    p.add_argument("--kill-node", type=int, default=1, help="1-based; 0: none")
    p.add_argument("--after", type=float, default=10.0, help="seconds into the run")
    p.add_argument("--restart-after", type=float, default=3.0)
    p.add_argument("--audio-s", type=float, default=12.0, help="seconds of dev call per call")
    p.add_argument("--engine", default="auto", help="asr.engine of the nodes")
    p.add_argument("--baseline-calls", type=int, default=20)
    p.add_argument("--baseline-rate", type=float, default=10.0)
    p.add_argument("--throughput-calls", type=int, default=6,
                   help="calls with audio to one node, then to all through Kamailio; 0: skip")
    p.add_argument("--throughput-rate", type=float, default=3.0)
    p.add_argument("--wait-s", type=float, default=300.0, help="for drafts after the run")
    p.add_argument("--start-timeout-s", type=float, default=180.0)
    args = p.parse_args(argv)
    if not 0 <= args.kill_node <= args.nodes or args.nodes < 1:
        p.error("--kill-node must be 0 (none) or a node number, and --nodes at least 1")
    if args.kill_node and args.nodes < 2:
        p.error("killing the only node leaves nothing to fail over to")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report = asyncio.run(bench(args))
    print(f"answered {report['answered']}/{report['offered']} "
          f"(per node {report['per_node']}), drafted {report['drafted']}, "
          f"lost {report['lost']}, failover {report['failover_s']} s, cross-node events "
          f"{report['cross_node_seen']}/{report['cross_node_drafts']}")
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["lost"] == 0 else 1
