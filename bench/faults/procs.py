"""The processes of a bench run: ``voice-intake serve`` as a subprocess, and sipp callers.

Nothing here changes product code: the gateway is started exactly as an operator starts
it (``voice-intake serve`` with ``VOICE_INTAKE_*`` in its environment), looked at from the
outside (``/readyz``, its log on stderr, ``/proc``, its SQLite file) and hurt from the
outside (signals, a full file system, a held database lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.sipp.harness import SIPP, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCENARIO = HERE / "scenarios" / "uac_call.xml"
VENV_BIN = Path(sys.executable).parent
# Final responses the caller scenario accepts besides 200 (each ACKed, each logged).
REFUSAL_CODES = (403, 408, 480, 486, 487, 488, 500, 503, 603)


# ---- /proc ------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name (state first), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def proc_state(pid: int) -> str | None:
    """R, S, T (stopped), Z (zombie: dead, not yet reaped)... or None when gone."""
    fields = _stat(pid)
    return fields[0] if fields else None


def alive(pid: int) -> bool:
    return proc_state(pid) not in (None, "Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def children(pid: int) -> list[int]:
    out = []
    for p in _all_pids():
        fields = _stat(p)
        if fields and int(fields[1]) == pid:
            out.append(p)
    return sorted(out)


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (the serve process started a session)."""
    out = []
    for p in _all_pids():
        fields = _stat(p)
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(p)
    return sorted(out)


# ---- the gateway --------------------------------------------------------------------------


@dataclass
class Ready:
    status: int | None  # HTTP status, None when nothing answered
    body: str
    seconds: float  # how long /readyz took to answer


class Serve:
    """One ``voice-intake serve`` (or its fake-engine twin), restartable on the same data
    directory and ports. Each start is its own session (process group), so whatever it
    spawned can be found and cleaned up after a SIGKILL."""

    def __init__(self, name: str, workdir: Path, data_dir: Path, *, engine: str,
                 env: dict[str, str] | None = None, fake_delay: float = 0.3) -> None:
        self.name = name
        self.workdir = workdir
        self.data_dir = data_dir
        self.engine = engine
        self.sip_port = free_port()
        self.http_port = free_port(socket.SOCK_STREAM)
        base = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_INTAKE_")}
        base.update({
            "VOICE_INTAKE_DATA_DIR": str(data_dir),
            "VOICE_INTAKE_MODEL_DIR": os.environ.get("VOICE_INTAKE_MODEL_DIR",
                                                     "/work/shared/models"),
            "VOICE_INTAKE_SIP_HOST": "127.0.0.1",
            "VOICE_INTAKE_SIP_PORT": str(self.sip_port),
            "VOICE_INTAKE_HTTP_HOST": "127.0.0.1",
            "VOICE_INTAKE_HTTP_PORT": str(self.http_port),
            # Straight to intake: no prompts to render, no menu timeouts in the way.
            "VOICE_INTAKE_IVR_ENABLED": "false",
            "VOICE_INTAKE_LOG_LEVEL": "INFO",
        })
        if engine != "fake":
            base["VOICE_INTAKE_ASR_ENGINE"] = engine
        base.update(env or {})
        self.env = base
        if engine == "fake":
            self.cmd = [sys.executable, "-m", "bench.faults.fake_serve",
                        "--delay", str(fake_delay)]
        else:
            self.cmd = [str(VENV_BIN / "voice-intake"), "serve"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.started_at = 0.0

    @property
    def db(self) -> Path:
        return self.data_dir / "voice-intake.db"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        log = self.workdir / f"serve-{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=fh,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.time()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def readyz(self, timeout: float = 10.0) -> Ready:
        url = f"http://127.0.0.1:{self.http_port}/readyz"
        t = time.time()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return Ready(resp.status, resp.read().decode(errors="replace"), time.time() - t)
        except urllib.error.HTTPError as exc:
            return Ready(exc.code, exc.read().decode(errors="replace"), time.time() - t)
        except (OSError, urllib.error.URLError) as exc:
            return Ready(None, f"({type(exc).__name__}: {exc})", time.time() - t)

    def wait_ready(self, within: float) -> float | None:
        """Seconds from this start until /readyz says 200, or None (not within, or exited)."""
        deadline = time.time() + within
        while time.time() < deadline:
            if not self.running():
                return None
            if self.readyz(timeout=2.0).status == 200:
                return time.time() - self.started_at
            time.sleep(0.25)
        return None

    def workers(self) -> list[int]:
        """The ASR worker processes (multiprocessing spawn children; not the resource
        tracker)."""
        if not self.running():
            return []
        return [p for p in children(self.pid) if "spawn_main" in cmdline(p) and alive(p)]

    def sigkill(self) -> list[int]:
        """SIGKILL the serve process alone (a crash); returns what of its process group
        is still alive a second later (those are then killed too)."""
        assert self.proc is not None
        pgid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        time.sleep(1.0)
        left = group_members(pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        return left

    def stop(self, within: float = 45.0) -> int | None:
        """SIGTERM (graceful: calls in progress are hung up and drafted), then SIGKILL
        of the whole group if it does not exit; returns the exit status."""
        if self.proc is None:
            return None
        pgid = self.proc.pid
        if self.proc.poll() is None:
            for pid in group_members(pgid):  # a worker left SIGSTOPped cannot exit
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(within)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        return self.proc.returncode

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def log_lines(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [ln for ln in self.log_text().splitlines() if rx.search(ln)]

    def problems(self, limit: int = 12) -> list[str]:
        """WARNING/ERROR lines and traceback ends from the log, timestamps cut, deduplicated
        (call ids masked so that the same problem in five calls is one line)."""
        out: dict[str, int] = {}
        lines = self.log_text().splitlines()
        for i, ln in enumerate(lines):
            if " WARNING " in ln or " ERROR " in ln or " CRITICAL " in ln:
                text = re.sub(r"^\S+ \S+ ", "", ln)
            elif ln and not ln.startswith((" ", "Traceback")) and i > 0 and (
                    lines[i - 1].startswith("  ")) and ":" in ln:
                text = "  exception: " + ln  # the last line of a traceback
            else:
                continue
            text = re.sub(r"\b[0-9a-f]{8}(?:[0-9a-f]{24})?\b", "…", text)
            text = re.sub(r"pid \d+", "pid …", text)
            out[text] = out.get(text, 0) + 1
        rows = [f"{n}× {t}" if n > 1 else t for t, n in out.items()]
        return rows[:limit] + ([f"... {len(rows) - limit} more"] if len(rows) > limit else [])


# ---- the callers --------------------------------------------------------------------------


@dataclass
class CallerView:
    """One call as sipp saw it (from the scenario's log)."""

    number: str
    invite_at: float | None = None
    final: int | None = None
    final_at: float | None = None
    retry_after: str = ""
    bye_at: float | None = None
    bye_answer: str = ""

    @property
    def setup_s(self) -> float | None:
        if self.invite_at is None or self.final_at is None:
            return None
        return self.final_at - self.invite_at


@dataclass
class Callers:
    """One sipp run: ``numbers`` callers (one call each, caller ID = the number) playing
    ``pcap`` (``audio_ms`` long) at ``rate`` calls/s."""

    name: str
    workdir: Path
    port: int
    numbers: list[str]
    pcap: Path
    audio_ms: int
    rate: float = 5.0
    bye_wait_ms: int = 8000
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / f"sipp-{self.name}.log"

    def start(self) -> None:
        assert SIPP is not None, "sipp is not installed (Debian package sip-tester)"
        refusals = "".join(
            f'  <recv response="{code}" optional="true" next="refused">\n'
            "    <action>\n"
            '      <ereg regexp="Retry-After: *([0-9]+)" search_in="msg" check_it="false"'
            ' assign_to="ra_all,ra"/>\n'
            '      <gettimeofday assign_to="s,us"/>\n'
            f'      <log message="[$s] [$us] [field0] FINAL {code} [$ra]"/>\n'
            "    </action>\n"
            "  </recv>\n" for code in REFUSAL_CODES)
        xml = SCENARIO.read_text()
        for key, value in {"REFUSALS": refusals.rstrip("\n"), "AUDIO_PCAP": str(self.pcap),
                           "AUDIO_MS": str(self.audio_ms),
                           "BYE_WAIT_MS": str(self.bye_wait_ms)}.items():
            xml = xml.replace(f"@{key}@", value)
        rendered = self.workdir / f"sipp-{self.name}.xml"
        rendered.write_text(xml)
        inf = self.workdir / f"sipp-{self.name}.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(n + "\n" for n in self.numbers))
        n = len(self.numbers)
        timeout_s = self.audio_ms // 1000 + 90
        cmd = [
            SIPP, f"127.0.0.1:{self.port}", "-sf", str(rendered),
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
            "-mp", str(free_port()), "-m", str(n), "-l", str(n), "-r", str(self.rate),
            "-t", "u1", "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-max_recv_loops", "1000", "-recv_timeout", "60000", "-inf", str(inf),
            "-trace_logs", "-log_file", str(self.log),
            "-trace_err", "-error_file", str(self.workdir / f"sipp-{self.name}.errors"),
        ]
        with (self.workdir / f"sipp-{self.name}.out").open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=out)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, within: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def views(self) -> dict[str, CallerView]:
        out = {n: CallerView(n) for n in self.numbers}
        if not self.log.exists():
            return out
        for line in self.log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 4 or parts[2] not in out:
                continue
            with contextlib.suppress(ValueError):
                at = float(parts[0]) + float(parts[1]) / 1e6
                view, what = out[parts[2]], parts[3]
                if what == "INVITE":
                    view.invite_at = at
                elif what == "FINAL":
                    view.final, view.final_at = int(parts[4]), at
                    view.retry_after = " ".join(parts[5:]).strip()
                elif what == "BYE":
                    view.bye_at = at
                elif what == "BYE_ANSWER":
                    view.bye_answer = parts[4]
        return out

    def errors(self, limit: int = 5) -> list[str]:
        path = self.workdir / f"sipp-{self.name}.errors"
        if not path.exists():
            return []
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()
                 if ln.strip() and not ln.startswith((" ", "\t"))]
        seen: dict[str, None] = {}
        for ln in lines:
            seen.setdefault(re.sub(r"^\S+\s+\S+\s+", "", ln)[:160], None)
        return list(seen)[:limit]


# ---- the gateway's database, read from outside -----------------------------------------------


@dataclass(frozen=True)
class DbCall:
    number: str
    status: str
    end_reason: str | None
    drafted: bool
    utterances: int


def read_calls(db: Path) -> dict[str, DbCall]:
    """Every call in the database by caller number (the bench gives each call its own)."""
    if not db.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5.0)) as conn:
            rows = conn.execute(
                "SELECT c.caller_number, c.status, c.end_reason, d.id IS NOT NULL,"
                " (SELECT count(*) FROM utterances u WHERE u.call_id = c.id)"
                " FROM calls c LEFT JOIN drafts d ON d.call_id = c.id").fetchall()
    except sqlite3.Error:
        return {}
    return {r[0]: DbCall(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows if r[0]}


def body_json(body: str) -> str:
    """A /readyz body on one line (as sent, when it is not JSON)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        return body.strip()[:200]
