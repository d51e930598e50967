"""The ASR worker process: build the engine once, then answer jobs from one pipe.

Jobs arrive as ``(job_id, op, payload)`` and are answered in order as
``(job_id, ok, value)``; a job that raises answers ``ok=False`` with the error text, and
the worker goes on. A native crash simply ends the process; the parent notices through
the process sentinel (see :mod:`asr.pool`). ``None`` asks the worker to exit.

Ops: ``decode`` (a list of :class:`DecodeRequest`, batched), the session ops ``open``,
``feed``, ``finish``, ``close`` (streaming engines only), ``stats`` (CPU seconds and
resident bytes of this process) and ``ping``.
"""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from typing import Any

from asr.engines.base import Engine, EngineSpec, StreamingEngine, build_engine

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident set size (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _run_job(engine: Engine, op: str, payload: Any) -> Any:
    if op == "decode":
        return engine.decode_batch(list(payload))
    if op == "stats":
        return (time.process_time(), resident_bytes())
    if op == "ping":
        return os.getpid()
    if not isinstance(engine, StreamingEngine):
        raise TypeError(f"engine {type(engine).__name__} has no recognizer sessions")
    if op == "open":
        session_id, grammar = payload
        engine.open_session(session_id, grammar)
        return None
    if op == "feed":
        session_id, pcm = payload
        return engine.feed(session_id, pcm)
    if op == "finish":
        return engine.finish(payload)
    if op == "close":
        engine.close_session(payload)
        return None
    raise ValueError(f"unknown worker op {op!r}")


def worker_main(spec: EngineSpec, jobs: Connection, replies: Connection) -> None:
    """Entry point of a worker process (spawned, so it imports only what it needs)."""
    try:
        engine = build_engine(spec)
    except Exception as exc:  # any load failure is reported, then the worker ends
        replies.send(("load_failed", f"{type(exc).__name__}: {exc}"))
        return
    replies.send(("ready", os.getpid()))
    while True:
        try:
            message = jobs.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if message is None:
            return
        job_id, op, payload = message
        try:
            value = _run_job(engine, op, payload)
        except Exception as exc:  # a failed job is answered; the engine stays loaded
            replies.send((job_id, False, f"{type(exc).__name__}: {exc}"))
        else:
            replies.send((job_id, True, value))
