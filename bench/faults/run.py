"""bench/faults: calls through ``voice-intake serve`` while something breaks.

    .venv/bin/python -m bench.faults                  # 5 calls a scenario, about 2 minutes
    .venv/bin/python -m bench.faults --quick          # 2 calls a scenario (about as long)
    .venv/bin/python -m bench.faults --only sigkill   # one scenario (comma-separated list)
    .venv/bin/python -m bench.faults --engine fake    # no model: the fake engine's workers

The gateway runs as a real subprocess (``voice-intake serve``; with ``--engine fake``
``python -m bench.faults.fake_serve``, the same app with ``EngineSpec(kind="fake")``), on
free loopback ports, with SQLite in a temporary data directory and the IVR off (calls go
straight to intake). sipp places the calls: each plays a dev call recording (8 kHz μ-law,
as RTP/PCMU from a pcap) and hangs up a second after it ends; each call has its own caller
number, which is how a call seen by sipp is found in the gateway's database (read with
sqlite3 from this process). Scenarios:

1. sigkill: N calls in flight, the serve process is SIGKILLed halfway through their audio
   and started again on the same data directory, with no new calls. Measured: restart →
   every call drafted (target ≤ 30 s), and the calls' end reasons (expected ``recovered``).
2. disk_full: ``<data_dir>/recordings`` is a 256 KiB tmpfs, full a few seconds into the
   calls, so recording writes fail with ENOSPC; the calls must still be transcribed and
   drafted. /readyz is read while the disk is full.
3. hung_worker: ``asr.decode_timeout_s`` = 5; an ASR worker is SIGSTOPped as the calls
   start talking; the pool should kill and replace it. Measured: stop → worker gone,
   stop → replacement, hang-up → drafts.
4. storage_stall: ``sip.setup_deadline_s`` = 2; N calls in flight, then another connection
   holds SQLite's write lock (``BEGIN IMMEDIATE``) for 10 s while N new calls arrive: they
   must get 503 with Retry-After (not 480) within the deadline; /readyz is read during the
   stall; after it, the calls in flight must be drafted. A refused call that was stored
   anyway (left ``active``) is shown, and the gateway restarted to show what start-up
   recovery makes of it.

Each prints calls offered, answered, refused (final status from sipp), drafted and lost
(target 0): a call is lost when it was neither drafted nor refused with a final response.
These are figures, not assertions: the bench never fails on a timing. Logs (serve's
stderr, sipp's logs) are kept when a call was lost or refused yet stored, or something did
not start (or with ``--keep``); the serve log's warnings and errors are printed under each
scenario. One run, whisper, 5 calls: about 90 s on 2 cores, most of it the calls' audio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import load_audio
from asr.g711 import pcm_to_ulaw
from bench.faults.procs import (
    Callers,
    CallerView,
    DbCall,
    Serve,
    body_json,
    proc_state,
    read_calls,
)
from bench.sip.run import code_version, table
from tests.sipp.harness import SIPP
from tests.sipp.pcap import write_rtp_pcap

SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", "/work/shared"))
DEFAULT_AUDIO = SHARED / "audio" / "calls" / "dev" / "D02.ulaw.wav"
SCENARIOS = ("sigkill", "disk_full", "hung_worker", "storage_stall")
READY_WAIT_S = 120.0  # model loading on a busy 2-core machine
TMPFS_SIZE = "256k"
STALL_S = 10.0
DECODE_TIMEOUT_S = 5
SETUP_DEADLINE_S = 2
TARGETS = {
    "sigkill": "every call drafted ≤ 30 s after the restart, end_reason 'recovered'",
    "disk_full": "every call transcribed and drafted though its recording fails",
    "hung_worker": f"the stopped worker killed (decode_timeout_s = {DECODE_TIMEOUT_S}) and "
                   "replaced; every call drafted",
    "storage_stall": f"new calls get 503 + Retry-After (not 480) within setup_deadline_s = "
                     f"{SETUP_DEADLINE_S}; /readyz says the database is not ready; calls in "
                     "flight drafted",
}


@dataclass
class Ctx:
    workdir: Path
    engine: str
    calls: int
    pcap: Path
    audio_s: float
    recover_wait_s: float
    fake_delay: float

    def serve(self, name: str, env: dict[str, str] | None = None) -> Serve:
        data = self.workdir / name / "data"
        data.mkdir(parents=True, exist_ok=True)
        return Serve(name, self.workdir / name, data, engine=self.engine, env=env,
                     fake_delay=self.fake_delay)

    def callers(self, name: str, serve: Serve, batch: int, *, rate: float = 5.0,
                bye_wait_ms: int = 8000) -> Callers:
        index = SCENARIOS.index(serve.name) + 1
        numbers = [f"139{index:02d}{batch}{n:05d}" for n in range(self.calls)]
        return Callers(name, self.workdir / serve.name, serve.sip_port, numbers, self.pcap,
                       round(self.audio_s * 1000), rate=rate, bye_wait_ms=bye_wait_ms)


@dataclass
class Outcome:
    name: str
    offered: int = 0
    answered: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    drafted: int = 0
    lost: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # refused, yet stored as unfinished
    recover_s: float | None = None
    recover_from: str = ""
    details: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str = ""
    error: str = ""

    def note(self, text: str) -> None:
        self.details.append(text)
        print(f"   - {text}", flush=True)

    def count(self, views: dict[str, CallerView], db: dict[str, DbCall]) -> None:
        """Drafted: the call has a draft. Refused: no draft, and sipp got a final non-2xx
        response. Lost: anything else the callers offered."""
        for number, view in views.items():
            row = db.get(number)
            if view.invite_at is None and row is None:
                continue  # never offered (sipp did not get that far)
            self.offered += 1
            if view.final == 200:
                self.answered += 1
            if row is not None and row.drafted:
                self.drafted += 1
            elif view.final is not None and view.final != 200:
                self.refused[view.final] += 1
                if row is not None and row.status in ("active", "ended"):
                    self.orphans.append(
                        f"{number}: sipp {view.final}, yet in the database as {row.status} "
                        f"(end_reason {row.end_reason}): start-up recovery lists such calls")
            else:
                state = (f"database: {row.status}, end_reason {row.end_reason}"
                         if row else "not in the database")
                final = view.final if view.final is not None else "no final response"
                self.lost.append(f"{number}: sipp {final}, {state}")


def tally_after_hangup(out: Outcome, views: dict[str, CallerView], db: dict[str, DbCall],
                       numbers: list[str], all_at: float | None,
                       hangup: float | None) -> None:
    """Count the calls and time the recovery from the last hang-up (calls that ran to
    their end through the fault)."""
    out.count(views, db)
    out.note(f"utterances per call: {utterance_counts(db, numbers)}; "
             f"end_reason: {end_reasons(db, numbers)}")
    if all_at is not None and hangup is not None:
        out.recover_s = max(0.0, all_at - hangup)
    out.recover_from = "last hang-up"


def wait_until(pred: Callable[[], bool], within: float, every: float = 0.25) -> float | None:
    """The time at which ``pred`` first held, or None if not within ``within`` s."""
    deadline = time.time() + within
    while True:
        if pred():
            return time.time()
        if time.time() > deadline:
            return None
        time.sleep(every)


def stored(serve: Serve, numbers: list[str]) -> Callable[[], bool]:
    return lambda: set(numbers) <= set(read_calls(serve.db))


def drafted_numbers(serve: Serve, numbers: list[str]) -> list[str]:
    calls = read_calls(serve.db)
    return [n for n in numbers if (c := calls.get(n)) is not None and c.drafted]


def start_ready(out: Outcome, serve: Serve) -> bool:
    serve.start()
    ready = serve.wait_ready(READY_WAIT_S)
    if ready is None:
        status = serve.proc.poll() if serve.proc else None
        out.error = (f"serve not ready within {READY_WAIT_S:.0f} s (exit status {status}); "
                     f"log: {serve.logs[-1]}")
        tail = serve.log_text().splitlines()[-15:]
        out.problems = [*serve.problems(), "log tail:", *("  " + ln for ln in tail)]
        return False
    out.note(f"serve ready {ready:.1f} s after start (SIP :{serve.sip_port}, "
             f"HTTP :{serve.http_port})")
    return True


def last_bye(views: dict[str, CallerView]) -> float | None:
    byes = [v.bye_at for v in views.values() if v.bye_at is not None]
    return max(byes) if byes else None


def readyz_runs(seen: list[tuple[float, str]]) -> list[str]:
    """/readyz answers (seconds into the fault, "status body") as runs of the same answer
    (numbers aside, e.g. a growing stall time), each with its last body."""
    runs: list[tuple[float, float, int, str]] = []
    for at, body in seen:
        if runs and re.sub(r"[0-9.]+", "#", runs[-1][3]) == re.sub(r"[0-9.]+", "#", body):
            first, _, n, _ = runs[-1]
            runs[-1] = (first, at, n + 1, body)
        else:
            runs.append((at, at, 1, body))
    return [f"+{a:.1f}..+{b:.1f} s (×{n}): {body}" for a, b, n, body in runs]


def counts(items: Iterable[object]) -> str:
    """'a ×2, b ×1'."""
    return ", ".join(f"{k} ×{n}" for k, n in Counter(map(str, items)).most_common()) or "-"


def end_reasons(db: dict[str, DbCall], numbers: list[str]) -> str:
    return counts(db[n].end_reason for n in numbers if n in db)


def utterance_counts(db: dict[str, DbCall], numbers: list[str]) -> str:
    return " ".join(str(db[n].utterances) if n in db else "-" for n in numbers)


# ---- 1. SIGKILL mid-call ----------------------------------------------------------------


def sigkill(ctx: Ctx) -> Outcome:
    out = Outcome("sigkill")
    serve = ctx.serve("sigkill")
    callers = ctx.callers("sigkill", serve, 0)
    numbers = callers.numbers
    try:
        if not start_ready(out, serve):
            return out
        callers.start()
        if wait_until(stored(serve, numbers), 30) is None:
            out.note("not every call was stored within 30 s of the first INVITE")
        time.sleep(ctx.audio_s / 2)
        before = read_calls(serve.db)
        out.note(f"SIGKILL {ctx.audio_s / 2:.1f} s into the audio: "
                 f"{sum(1 for n in numbers if n in before)} calls stored "
                 f"({counts(before[n].status for n in numbers if n in before)}), "
                 f"utterances stored per call: {utterance_counts(before, numbers)}")
        left = serve.sigkill()
        out.note(f"processes of the killed serve still alive 1 s later: {len(left)}"
                 + (" (SIGKILLed)" if left else ""))
        serve.start()
        t_restart = serve.started_at
        ready_at = first_at = all_at = None
        deadline = t_restart + ctx.recover_wait_s
        while time.time() < deadline and serve.running():
            if ready_at is None and serve.readyz(2.0).status == 200:
                ready_at = time.time()
            done = drafted_numbers(serve, numbers)
            if done and first_at is None:
                first_at = time.time()
            if len(done) == len(numbers):
                all_at = time.time()
                break
            failed = len(serve.log_lines(r"recovery failed"))
            if failed >= len(numbers) - len(done):
                out.note(f"the restarted serve logged {failed} failed recoveries "
                         "(they wait for the next start): not waiting longer")
                break
            time.sleep(0.25)
        if not serve.running():
            out.note(f"the restarted serve exited (status {serve.proc and serve.proc.poll()})")
        out.note("after the restart: ready "
                 + (f"{ready_at - t_restart:.1f} s" if ready_at else "never")
                 + ", first draft " + (f"{first_at - t_restart:.1f} s" if first_at else "never")
                 + ", all drafted " + (f"{all_at - t_restart:.1f} s" if all_at else
                                       f"not within {ctx.recover_wait_s:.0f} s"))
        callers.wait(ctx.audio_s + 30)
        db = read_calls(serve.db)
        views = callers.views()
        out.count(views, db)
        out.recover_s = all_at - t_restart if all_at else None
        out.recover_from = "restart"
        out.note(f"end_reason: {end_reasons(db, numbers)}; utterances per call now: "
                 f"{utterance_counts(db, numbers)}")
        out.note("callers' BYE answered: " + counts(v.bye_answer or "-" for v in views.values()))
    finally:
        callers.kill()
        serve.stop()
        out.problems = out.problems or serve.problems()
    return out


# ---- 2. recordings on a full disk ------------------------------------------------------------


def disk_full(ctx: Ctx) -> Outcome:
    out = Outcome("disk_full")
    serve = ctx.serve("disk_full")
    rec = serve.data_dir / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs",
                            str(rec)], capture_output=True, text=True, check=False)
    if mount.returncode != 0:
        out.skipped = (f"`mount -t tmpfs -o size={TMPFS_SIZE}` failed "
                       f"({(mount.stderr or mount.stdout).strip() or mount.returncode}); "
                       "this scenario needs root (or CAP_SYS_ADMIN): skipped")
        return out
    callers = ctx.callers("disk_full", serve, 0)
    numbers = callers.numbers
    try:
        out.note(f"{rec} is a {TMPFS_SIZE} tmpfs")
        if not start_ready(out, serve):
            return out
        callers.start()
        t0 = time.time()
        full_at: float | None = None
        readyz: list[tuple[float, str]] = []
        while callers.running() and time.time() < t0 + ctx.audio_s + 60:
            st = os.statvfs(rec)
            if full_at is None and st.f_bavail * st.f_frsize < 8192:
                full_at = time.time()
            if full_at is not None:
                r = serve.readyz(5.0)
                readyz.append((time.time() - full_at, f"{r.status} {body_json(r.body)}"))
            time.sleep(1.0)
        callers.wait(30)
        views = callers.views()
        hangup = last_bye(views)
        all_at = wait_until(lambda: len(drafted_numbers(serve, numbers)) == len(numbers),
                            ctx.recover_wait_s)
        out.note("recordings full " + (f"{full_at - t0:.1f} s after the first INVITE"
                                       if full_at else "never (the calls did not fill it)"))
        for run in readyz_runs(readyz):
            out.note(f"/readyz after the disk filled, {run}")
        sizes = sorted((p.stat().st_size for p in rec.iterdir()), reverse=True)
        out.note(f"recording files: {len(sizes)}, bytes: {' '.join(map(str, sizes))}")
        enospc = serve.log_lines(r"No space|ENOSPC|Errno 28")
        out.note(f"serve log lines naming ENOSPC: {len(enospc)}")
        tally_after_hangup(out, views, read_calls(serve.db), numbers, all_at, hangup)
    finally:
        callers.kill()
        serve.stop()
        out.problems = out.problems or serve.problems()
        umount = subprocess.run(["umount", str(rec)], capture_output=True, text=True,
                                check=False)
        if umount.returncode != 0:
            subprocess.run(["umount", "-l", str(rec)], capture_output=True, check=False)
            out.note(f"umount failed ({umount.stderr.strip()}); lazily unmounted")
    return out


# ---- 3. a hung ASR worker --------------------------------------------------------------------


def hung_worker(ctx: Ctx) -> Outcome:
    out = Outcome("hung_worker")
    serve = ctx.serve("hung_worker",
                      {"VOICE_INTAKE_ASR_DECODE_TIMEOUT_S": str(DECODE_TIMEOUT_S)})
    callers = ctx.callers("hung_worker", serve, 0)
    numbers = callers.numbers
    victim: int | None = None
    try:
        if not start_ready(out, serve):
            return out
        workers0 = serve.workers()
        out.note(f"ASR workers: {len(workers0)} (pids {' '.join(map(str, workers0))})")
        if not workers0:
            out.error = "no ASR worker process found among serve's children"
            return out
        callers.start()
        wait_until(stored(serve, numbers), 30)
        time.sleep(1.0)  # speech is flowing; the first utterances are not yet decoded
        victim = workers0[0]
        os.kill(victim, signal.SIGSTOP)
        t_stop = time.time()
        wait_until(lambda: proc_state(victim) in ("T", "t"), 2.0, every=0.01)
        out.note(f"SIGSTOP worker {victim} 1 s after every call was stored")
        gone_at = replaced_at = first_at = all_at = None
        deadline = t_stop + ctx.audio_s + ctx.recover_wait_s
        while time.time() < deadline and serve.running():
            now = time.time()
            if gone_at is None and proc_state(victim) in (None, "Z", "X"):
                gone_at = now  # killed (a zombie until the pool's thread reaps it)
            if replaced_at is None and set(serve.workers()) - set(workers0):
                replaced_at = now
            done = drafted_numbers(serve, numbers)
            if done and first_at is None:
                first_at = now
            if len(done) == len(numbers) and not callers.running():
                all_at = max(now, first_at or now)
                break
            time.sleep(0.25)
        state = proc_state(victim)
        out.note(f"stopped worker: {'gone' if state is None else 'state ' + state} "
                 + (f"{gone_at - t_stop:.1f} s after SIGSTOP" if gone_at else "at the end")
                 + "; a new worker " + (f"{replaced_at - t_stop:.1f} s after SIGSTOP"
                                        if replaced_at else "never appeared")
                 )
        kills = serve.log_lines(r"answered nothing")
        out.note(f"workers the pool killed as hung: {len(kills)}"
                 + (" (more than the one stopped: a busy worker, too)" if len(kills) > 1
                    else ""))
        for line in kills[:4]:
            out.note("serve: " + line.split(" ", 2)[-1])
        callers.wait(30)
        views = callers.views()
        hangup = last_bye(views)
        if all_at is None:
            all_at = wait_until(lambda: len(drafted_numbers(serve, numbers)) == len(numbers),
                                5.0)
        out.note("first draft " + (f"{first_at - t_stop:.1f} s" if first_at else "never")
                 + ", all drafted " + (f"{all_at - t_stop:.1f} s" if all_at else "never")
                 + " after SIGSTOP"
                 + (f"; last hang-up {hangup - t_stop:.1f} s after SIGSTOP" if hangup else ""))
        tally_after_hangup(out, views, read_calls(serve.db), numbers, all_at, hangup)
    finally:
        if victim is not None and proc_state(victim) in ("T", "t"):
            out.note(f"worker {victim} still stopped at the end: SIGCONT")
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGCONT)
        callers.kill()
        serve.stop()
        out.problems = out.problems or serve.problems()
    return out


# ---- 4. the database stalls --------------------------------------------------------------------


class WriteLock:
    """SQLite's write lock held from another connection (another process's view of it)."""

    def __init__(self, db: Path, hold_s: float) -> None:
        self.db = db
        self.hold_s = hold_s
        self.locked = threading.Event()
        self.released = threading.Event()
        self.locked_at = self.released_at = 0.0
        self.error = ""
        self._thread = threading.Thread(target=self._run, name="bench-write-lock",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.db, isolation_level=None, timeout=20.0)
            try:
                conn.execute("BEGIN IMMEDIATE")
                self.locked_at = time.time()
                self.locked.set()
                time.sleep(self.hold_s)
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.released_at = time.time()
            self.released.set()
            self.locked.set()


def storage_stall(ctx: Ctx) -> Outcome:
    out = Outcome("storage_stall")
    serve = ctx.serve("storage_stall",
                      {"VOICE_INTAKE_SIP_SETUP_DEADLINE_S": str(SETUP_DEADLINE_S)})
    in_flight = ctx.callers("stall_in_flight", serve, 0)
    new = ctx.callers("stall_new", serve, 1, rate=1.0, bye_wait_ms=5000)
    numbers = in_flight.numbers
    try:
        if not start_ready(out, serve):
            return out
        in_flight.start()
        if wait_until(stored(serve, numbers), 30) is None:
            out.note("not every call in flight was stored within 30 s")
        time.sleep(1.0)
        lock = WriteLock(serve.db, STALL_S)
        lock.start()
        lock.locked.wait(30)
        if lock.error:
            out.error = f"could not take the write lock: {lock.error}"
            return out
        out.note(f"write lock held (BEGIN IMMEDIATE) for {STALL_S:.0f} s; "
                 f"{len(new.numbers)} new calls at 1/s from 0.5 s into the stall")
        time.sleep(0.5)
        new.start()
        readyz: list[tuple[float, str]] = []
        latency: list[float] = []
        while not lock.released.is_set():
            at = time.time() - lock.locked_at
            r = serve.readyz(timeout=STALL_S)
            if not lock.released.is_set():
                readyz.append((at, f"{r.status} {body_json(r.body)}"))
                latency.append(r.seconds)
            lock.released.wait(1.0)
        for run in readyz_runs(readyz):
            out.note(f"/readyz in the stall, {run}")
        if latency:
            out.note(f"  /readyz answered in {min(latency) * 1000:.0f}-"
                     f"{max(latency) * 1000:.0f} ms")
        everyone = numbers + new.numbers
        all_at = wait_until(
            lambda: all(n in drafted_numbers(serve, everyone) for n in numbers)
            and not in_flight.running() and not new.running(),
            ctx.audio_s + ctx.recover_wait_s)
        in_flight.wait(30)
        new.wait(30)
        views = {**in_flight.views(), **new.views()}
        db = read_calls(serve.db)
        new_views = [views[n] for n in new.numbers]
        out.note("new calls during the stall, final status: "
                 + counts(v.final if v.final is not None else "none" for v in new_views))
        t0 = lock.locked_at
        for v in new_views:
            if v.invite_at is None:
                continue
            final = (f"{v.final} at +{v.final_at - t0:.2f} s (INVITE → final "
                     f"{v.setup_s:.2f} s)" if v.final_at is not None and v.setup_s is not None
                     else "no final response")
            out.note(f"  INVITE at +{v.invite_at - t0:.2f} s into the stall: {final}"
                     + (f", Retry-After {v.retry_after}" if v.final not in (None, 200)
                        else "") + (" — after the lock was released" if v.final_at
                                    and v.final_at > lock.released_at else ""))
        out.note(f"  lock released at +{lock.released_at - t0:.2f} s")
        out.count(views, db)
        hangup = last_bye({n: views[n] for n in numbers})
        out.note(f"calls in flight: utterances {utterance_counts(db, numbers)}, end_reason "
                 f"{end_reasons(db, numbers)}; new calls in the database: "
                 + counts(db[n].status for n in new.numbers if n in db))
        if all_at is not None:
            ref = max(lock.released_at, hangup or 0.0)
            out.note(f"release → calls in flight drafted {all_at - lock.released_at:.1f} s"
                     + (f" (their last hang-up {hangup - lock.released_at:+.1f} s)"
                        if hangup else ""))
            out.recover_s = max(0.0, all_at - ref)
        out.recover_from = "release/hang-up"
        stray = [n for n in new.numbers if n in db and db[n].status in ("active", "ended")]
        if stray:
            after_restart(out, serve, stray)
    finally:
        in_flight.kill()
        new.kill()
        serve.stop()
        out.problems = out.problems or serve.problems()
    return out


def after_restart(out: Outcome, serve: Serve, numbers: list[str]) -> None:
    """What start-up recovery makes of calls that were refused yet stored as unfinished:
    a graceful stop, a start, and a look at those rows once recovery has had its chance."""
    serve.stop()
    serve.start()
    if serve.wait_ready(READY_WAIT_S) is None:
        out.note("restart to watch recovery of the refused-but-stored calls: not ready")
        return
    wait_until(lambda: len(drafted_numbers(serve, numbers)) == len(numbers), 15.0)
    db = read_calls(serve.db)
    out.note("after a restart, the refused-but-stored calls are: " + counts(
        f"{db[n].status} ({db[n].end_reason}, {db[n].utterances} utterances)"
        for n in numbers if n in db))


# ---- report and main ---------------------------------------------------------------------------


RUNNERS: dict[str, Callable[[Ctx], Outcome]] = {
    "sigkill": sigkill, "disk_full": disk_full, "hung_worker": hung_worker,
    "storage_stall": storage_stall,
}


def print_outcome(out: Outcome) -> None:
    """The scenario's figures, under the notes it printed as it ran."""
    if out.skipped:
        print(f"   SKIPPED: {out.skipped}")
        return
    if out.error:
        print(f"   DID NOT RUN TO THE END: {out.error}")
    refused = ", ".join(f"{c} ×{n}" for c, n in sorted(out.refused.items())) or "0"
    recover = (f"{out.recover_s:.1f} s after {out.recover_from}" if out.recover_s is not None
               else "not reached")
    print(f"   => offered {out.offered}, answered {out.answered}, refused {refused}, "
          f"drafted {out.drafted}, lost {len(out.lost)}; all drafted {recover}")
    for line in out.lost:
        print(f"   LOST {line}")
    for line in out.orphans:
        print(f"   REFUSED BUT STORED {line}")
    if out.problems:
        print("   serve log, warnings and errors (all starts):")
        for line in out.problems:
            print(f"     {line}")


def summary(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        if o.skipped:
            rows.append([o.name, "-", "-", "-", "-", "-", "-", "skipped"])
            continue
        rows.append([
            o.name, str(o.offered), str(o.answered), str(sum(o.refused.values())),
            str(o.drafted), str(len(o.lost)),
            f"{o.recover_s:.1f}" if o.recover_s is not None else "-",
            o.recover_from + (" (" + o.error[:40] + ")" if o.error else ""),
        ])
    return table(["scenario", "offered", "answered", "refused", "drafted", "lost (0)",
                  "recover s", "from"], rows)


def build_pcap(audio: Path, workdir: Path) -> tuple[Path, float]:
    sound = load_audio(audio)
    if sound.sample_rate != 8000:
        raise SystemExit(f"{audio}: {sound.sample_rate} Hz; a call recording is 8 kHz")
    pcap = workdir / (audio.name.split(".")[0] + ".pcap")
    return pcap, write_rtp_pcap(pcap, pcm_to_ulaw(sound.pcm))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 calls a scenario")
    parser.add_argument("--calls", type=int, help="calls in flight per scenario (default 5)")
    parser.add_argument("--only", help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--engine", choices=("whisper", "vosk", "auto", "fake"),
                        default="whisper", help="ASR engine of the serve process "
                        "(fake: python -m bench.faults.fake_serve, no model)")
    parser.add_argument("--fake-delay", type=float, default=0.3,
                        help="seconds per decode of the fake engine")
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO,
                        help="8 kHz call recording each caller plays (default D02)")
    parser.add_argument("--recover-wait", type=float, default=90.0,
                        help="seconds to wait for drafts after a fault (default 90)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if SIPP is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    only = [s.strip() for s in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(SCENARIOS)}")
    calls = args.calls or (2 if args.quick else 5)
    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    pcap, audio_s = build_pcap(args.audio, workdir)
    ctx = Ctx(workdir, args.engine, calls, pcap, audio_s, args.recover_wait, args.fake_delay)
    load = os.getloadavg()
    started = time.time()
    print(f"bench/faults — engine {args.engine}, {calls} calls a scenario, each playing "
          f"{args.audio.name} ({audio_s:.1f} s); {os.cpu_count()} cores, load average "
          f"{load[0]:.2f}; code {code_version()}; work dir {workdir}", flush=True)
    outcomes: list[Outcome] = []
    try:
        for i, name in enumerate(only, 1):
            print(f"\n{i}. {name} — target: {TARGETS[name]}", flush=True)
            t = time.time()
            try:
                out = RUNNERS[name](ctx)
            except Exception as exc:  # a broken scenario must not hide the others' figures
                out = Outcome(name, error=f"bench error: {type(exc).__name__}: {exc}")
            out.note(f"scenario took {time.time() - t:.0f} s")
            outcomes.append(out)
            print_outcome(out)
    finally:
        keep = args.keep or any(o.lost or o.orphans or o.error for o in outcomes)
        print("\nSummary (recover s: until every accepted call is drafted, from the event "
              "named in 'from')")
        print(summary(outcomes))
        print(f"\n(run took {time.time() - started:.0f} s)")
        if keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
