"""Decoding in worker processes, off the event loop.

N worker processes (spawned, see :mod:`asr.worker`) each load the engine once and then
answer jobs in order over a pipe. Per worker the parent runs two daemon threads: one
sends jobs (a pipe write blocks while the worker is busy, and must not block the loop),
one waits on the reply pipe *and* the process sentinel, so a worker that dies is noticed
at once, not when the next job times out. Threads only hand results to the loop with
``call_soon_threadsafe``; all state below is touched on the loop only.

Utterance decodes queue in one backlog (bounded by a semaphore: back-pressure). A worker
with no decode in flight takes up to ``max_batch`` queued utterances at once, so under
load Whisper decodes utterances of concurrent calls in one batch, and with no load an
utterance goes out alone at once (no waiting to fill a batch). Decodes may be queued
before the workers have loaded: each worker, first or replacement, takes queued work the
moment it is ready. ``backlog_seconds`` and ``backlog_jobs`` say how much utterance audio
is waiting for a slot, queued or being decoded (running sums kept as a decode enters,
is cancelled, or leaves with its worker's answer; a cancelled decode already on a worker
counts until that worker is done with it): what admission control reads.

Stateful recognizers (Vosk) live in one worker for the life of a stream: a
:class:`RecognizerSession` is pinned to the worker with the fewest sessions (sticky
assignment) and all its feeds go to that worker's pipe, in order.

When a worker dies, every job it held fails with :class:`AsrWorkerLost`, and a fresh
worker is started in its place. Each utterance decode is retried once, alone (so a
poison utterance cannot take a batch of others down with it twice); a second loss is
:class:`AsrWorkerCrashed`, and the call goes on. Sessions on the dead worker raise
:class:`AsrWorkerLost`; the stream that owns one replays its audio into a new session.

A worker that is alive but answers nothing (a deadlocked native engine) is hung: while it
holds jobs, a ``call_later`` deadline of ``decode_timeout_s`` runs for the job it is on,
re-armed at each answer (a worker answers in order, so it starts the next job when it
answers one; a busy worker with a long queue of session feeds is not hung). When the
deadline passes the process is killed, and its loss is handled as a crash, above; such
kills are counted in ``hung_kills``.

The pool keeps no metrics of its own and workers none at all: ``on_queue_wait`` is given
each utterance's wait for a worker and ``on_decode`` the time its worker took (its batch's,
or a session's ``finish``), both measured here in the parent, so one process sees every
worker's figures (the service points them at its Prometheus histograms).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from asr.engines.base import (
    SAMPLE_RATE,
    DecodeRequest,
    DecodeResult,
    EngineSpec,
    SessionUpdate,
)
from asr.worker import worker_main

log = logging.getLogger(__name__)

_STOP = object()
# A job's hang deadline grows by this many seconds per second of audio in it (Whisper
# base decodes at 0.3x real time on one thread here; its sampling fallback near 1x).
HANG_PER_AUDIO_S = 3.0
# 16 kHz 16-bit mono: bytes of PCM per second of audio.
_PCM_BYTES_PER_S = 32000


def _audio_seconds(op: str, payload: Any) -> float:
    if op == "decode" and isinstance(payload, list):
        return sum(len(getattr(r, "pcm", b"")) for r in payload) / _PCM_BYTES_PER_S
    if op == "feed" and isinstance(payload, tuple) and len(payload) == 2:
        pcm = payload[1]
        return len(pcm) / _PCM_BYTES_PER_S if isinstance(pcm, bytes) else 0.0
    return 0.0


# A replacement worker that dies this many times in a row before loading is given up.
MAX_LOAD_FAILURES = 3
PCM_BYTES_PER_SECOND = SAMPLE_RATE * 2  # 16 kHz, 16-bit mono


def _ignore_seconds(_seconds: float) -> None:
    pass


class AsrPoolError(RuntimeError):
    """Base class of the worker pool's errors."""


class AsrWorkerLost(AsrPoolError):
    """The worker holding this job or recognizer session died."""


class AsrWorkerCrashed(AsrPoolError):
    """An utterance crashed its worker twice; it is given up, the call is not."""


class AsrModelLoadError(AsrPoolError):
    """A worker could not load the model."""


class AsrJobFailed(AsrPoolError):
    """The engine raised while handling a job (the worker lives on)."""


@dataclass(frozen=True)
class WorkerStats:
    pid: int
    cpu_seconds: float
    resident_bytes: int


class _Worker:
    """One worker process and the two threads that talk to it."""

    def __init__(
        self,
        spec: EngineSpec,
        index: int,
        loop: asyncio.AbstractEventLoop,
        on_exit: Callable[[_Worker, int | None], None],
        timeout_s: float,
    ) -> None:
        self.index = index
        self._loop = self.loop = loop
        self._on_exit = on_exit
        self._timeout_s = timeout_s
        self._audio_s: dict[int, float] = {}  # seconds of audio in each pending job
        self._deadline: asyncio.TimerHandle | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ready: asyncio.Future[int] = loop.create_future()
        self.decoding = False
        self.sessions = 0
        self.alive = True
        self.hung = False  # killed for answering nothing within timeout_s
        self._ids = itertools.count()
        ctx = multiprocessing.get_context("spawn")
        # spawn: forking a process that runs an event loop and native threads is unsafe.
        child_jobs, self._jobs = ctx.Pipe(duplex=False)
        self._replies, child_replies = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=worker_main, args=(spec, child_jobs, child_replies),
            name=f"asr-worker-{index}", daemon=True,
        )
        self.process.start()
        child_jobs.close()
        child_replies.close()
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        threading.Thread(target=self._send_loop, daemon=True,
                         name=f"asr-send-{index}").start()
        threading.Thread(target=self._receive_loop, daemon=True,
                         name=f"asr-recv-{index}").start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def is_ready(self) -> bool:
        return self.alive and self.ready.done() and not self.ready.exception()

    def submit(self, op: str, payload: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self._loop.create_future()
        if not self.alive:
            fut.set_exception(AsrWorkerLost(f"ASR worker {self.pid} is gone"))
            return fut
        job_id = next(self._ids)
        self.pending[job_id] = fut
        self._audio_s[job_id] = _audio_seconds(op, payload)
        self._outbox.put((job_id, op, payload))
        if len(self.pending) == 1:  # the worker starts on it now
            self._watch()
        return fut

    def stop(self) -> None:
        """Ask the worker to exit after the jobs already sent."""
        self._outbox.put(None)
        self._outbox.put(_STOP)

    # Threads.

    def _send_loop(self) -> None:
        while (message := self._outbox.get()) is not _STOP:
            try:
                self._jobs.send(message)
            except (OSError, ValueError):
                break  # the worker is gone; the receiver thread reports it
        self._jobs.close()

    def _receive_loop(self) -> None:
        replies: Connection = self._replies
        while True:
            ready = wait([replies, self.process.sentinel])
            if replies not in ready:
                break
            try:
                message = replies.recv()
            except (EOFError, OSError):
                break
            self._post(self._on_message, message)
        self.process.join()
        self._post(self._exited, self.process.exitcode)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)

    # On the loop.

    def _watch(self) -> None:
        """(Re)arm the hang deadline for the job the worker is on: the oldest pending one,
        which it began when it answered the one before, or when it was sent."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self.pending and self.alive and self.ready.done():
            self._deadline = self._loop.call_later(self.deadline_s(), self._hang_detected)

    def deadline_s(self) -> float:
        """How long the job the worker is on may take: ``decode_timeout_s``, plus
        ``HANG_PER_AUDIO_S`` for every second of audio in it, so a batch of long
        utterances on a slow machine is not taken for a hang."""
        first = next(iter(self.pending), None)
        audio = self._audio_s.get(first, 0.0) if first is not None else 0.0
        return self._timeout_s + HANG_PER_AUDIO_S * audio

    def _hang_detected(self) -> None:
        self._deadline = None
        if not self.alive or not self.pending:
            return
        log.warning("ASR worker %d (pid %s) has answered nothing for %.1f s; killing it",
                    self.index, self.pid, self.deadline_s())
        self.hung = True
        self.process.kill()  # the receiver thread sees the sentinel: _exited as on a crash

    def _on_message(self, message: tuple[Any, ...]) -> None:
        if message[0] == "ready":
            if not self.ready.done():
                self.ready.set_result(int(message[1]))
            self._watch()
            return
        if message[0] == "load_failed":
            if not self.ready.done():
                self.ready.set_exception(AsrModelLoadError(str(message[1])))
            return
        job_id, ok, value = message
        fut = self.pending.pop(job_id, None)
        self._audio_s.pop(job_id, None)
        self._watch()  # an answer: the worker moves on to the next job, if any
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(AsrJobFailed(str(value)))

    def _exited(self, exitcode: int | None) -> None:
        self.alive = False
        self._watch()  # cancels the deadline
        lost = AsrWorkerLost(f"ASR worker {self.pid} exited (code {exitcode})")
        if not self.ready.done():
            self.ready.set_exception(lost)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(lost)
        self.pending.clear()
        self._audio_s.clear()
        self._on_exit(self, exitcode)


@dataclass
class _DecodeJob:
    request: DecodeRequest
    future: asyncio.Future[DecodeResult]
    solo: bool
    sent: bool = False  # handed to a worker: counted until the worker answers
    queued_at: float = 0.0  # loop time it joined the backlog
    counted: bool = True  # still in the pool's backlog sums


class AsrWorkerPool:
    """N worker processes, each holding one loaded engine."""

    def __init__(
        self,
        spec: EngineSpec,
        workers: int,
        queue_size: int = 32,
        *,
        max_batch: int = 4,
        decode_timeout_s: float = 60.0,
    ) -> None:
        if decode_timeout_s <= 0:
            raise ValueError(f"decode_timeout_s must be positive, not {decode_timeout_s}")
        self.spec = spec
        # The prompt of requests that carry none (nor a grammar), instead of the spec's:
        # replaced while running when admins approve hot-words (asr.hotwords).
        self.default_prompt: str | None = None
        self.workers = max(1, workers)
        self.max_batch = max(1, max_batch)
        self.decode_timeout_s = decode_timeout_s
        self._slots = asyncio.Semaphore(max(self.workers, queue_size))
        self._pool: list[_Worker] = []
        self._backlog: deque[_DecodeJob] = deque()
        # Background requests (DecodeRequest.background): dispatched only when the backlog
        # of requests someone waits for is empty.
        self._background: deque[_DecodeJob] = deque()
        # Running sums of utterances waiting for a slot, queued or on a worker.
        self._backlog_bytes = 0
        self._backlog_jobs = 0
        self._stream_bytes = 0  # live streams' speech not fed to a recognizer yet
        self._session_ids = itertools.count(1)
        self._load_failures = 0
        self._closing = False
        self._changed: asyncio.Event | None = None
        self.restarts = 0
        self.hung_kills = 0  # workers killed for answering nothing within decode_timeout_s
        self.ready = False
        self.batches = 0
        self.batched_utterances = 0
        self.on_queue_wait: Callable[[float], None] = _ignore_seconds
        self.on_decode: Callable[[float], None] = _ignore_seconds

    async def start(self) -> None:
        """Start the workers and wait until each has loaded its model."""
        if self._pool:
            return
        loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._pool = [self._new_worker(i, loop) for i in range(self.workers)]
        for w in self._pool:
            # Decodes may be queued before every worker has loaded (crash recovery runs
            # right after start-up): each worker takes them as soon as it is ready.
            w.ready.add_done_callback(lambda _f: self._worker_ready())
        try:
            await asyncio.gather(*(w.ready for w in self._pool))
        except AsrPoolError:
            await self.close()
            raise
        self.ready = True

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._pool if w.alive and w.pid is not None]

    @property
    def backlog_seconds(self) -> float:
        """Seconds of caller audio waiting to be recognized (O(1)): utterances waiting for
        a slot, queued or being decoded, and speech that live streams (Vosk) have not fed
        to their recognizer yet (see :meth:`note_stream_audio`)."""
        return (self._backlog_bytes + self._stream_bytes) / PCM_BYTES_PER_SECOND

    def note_stream_audio(self, nbytes: int) -> None:
        """A live stream queued (positive) or fed or dropped (negative) this much 16 kHz
        PCM: its audio waits in the stream, not here, but it is backlog all the same."""
        self._stream_bytes = max(0, self._stream_bytes + nbytes)

    @property
    def backlog_jobs(self) -> int:
        """Utterances waiting for a slot, queued, or being decoded."""
        return self._backlog_jobs

    async def decode(self, request: DecodeRequest) -> DecodeResult:
        """Decode one utterance; retried once, alone, if its worker dies."""
        if not self._pool:
            raise RuntimeError("AsrWorkerPool.start() was not awaited")
        if self.default_prompt is not None and request.prompt is None and request.grammar is None:
            request = replace(request, prompt=self.default_prompt)
        loop = asyncio.get_running_loop()
        if request.background:  # no slot: it never holds up a request someone waits for
            return await self._decode_twice(request, loop, self._background)
        self._count(len(request.pcm), 1)  # waiting for a slot
        try:
            await self._slots.acquire()
        finally:
            self._count(-len(request.pcm), -1)  # counted as a job from here on
        try:
            return await self._decode_twice(request, loop, self._backlog)
        finally:
            self._slots.release()

    async def _decode_twice(self, request: DecodeRequest, loop: asyncio.AbstractEventLoop,
                            queue: deque[_DecodeJob]) -> DecodeResult:
        """Queue ``request`` and wait; once more, alone, if its worker dies."""
        for attempt in (1, 2):
            if self._closing:
                raise AsrWorkerLost("the ASR pool was closed")
            job = _DecodeJob(request, loop.create_future(), solo=attempt > 1,
                             queued_at=loop.time())
            self._count(len(request.pcm), 1)
            queue.append(job)
            self._dispatch()
            try:
                return await job.future
            except AsrWorkerLost as exc:
                log.warning("ASR worker lost during a decode (attempt %d): %s", attempt, exc)
            finally:
                if not job.future.done():  # cancelled while queued or decoding
                    job.future.cancel()
                if not job.sent:  # it leaves with its caller; else when its batch does
                    self._uncount(job)
        raise AsrWorkerCrashed("utterance crashed the ASR worker twice")

    def _count(self, size: int, jobs: int) -> None:
        self._backlog_bytes += size
        self._backlog_jobs += jobs

    def _uncount(self, job: _DecodeJob) -> None:
        if job.counted:
            job.counted = False
            self._count(-len(job.request.pcm), -1)

    def _dispatch(self) -> None:
        for worker in self._pool:
            for waiting in (self._backlog, self._background):
                while waiting and waiting[0].future.done():
                    waiting.popleft()
            source = self._backlog or self._background
            if not source:
                return
            if not worker.is_ready or worker.decoding:
                continue
            batch = [source.popleft()]
            # Background work goes one at a time: a caller's utterance arriving meanwhile
            # waits for one decode at most, not a batch.
            limit = self.max_batch if source is self._backlog else 1
            while (len(batch) < limit and source and not batch[0].solo
                   and not source[0].solo):
                job = source.popleft()
                if not job.future.done():
                    batch.append(job)
            worker.decoding = True
            now = worker.loop.time()
            for job in batch:
                job.sent = True
                self.on_queue_wait(now - job.queued_at)
            self.batches += 1
            self.batched_utterances += len(batch)
            fut = worker.submit("decode", [j.request for j in batch])
            fut.add_done_callback(functools.partial(self._decoded, worker, batch, now))

    def _decoded(
        self, worker: _Worker, batch: list[_DecodeJob], sent_at: float,
        fut: asyncio.Future[Any]
    ) -> None:
        worker.decoding = False
        exc = fut.exception() if not fut.cancelled() else AsrWorkerLost("cancelled")
        if exc is None:
            took = worker.loop.time() - sent_at
            for _job in batch:
                self.on_decode(took)
        for i, job in enumerate(batch):
            self._uncount(job)
            if job.future.done():
                continue
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(fut.result()[i])
        self._dispatch()

    def _new_worker(self, index: int, loop: asyncio.AbstractEventLoop) -> _Worker:
        return _Worker(self.spec, index, loop, self._worker_exited, self.decode_timeout_s)

    def _worker_exited(self, worker: _Worker, exitcode: int | None) -> None:
        if worker.hung:
            self.hung_kills += 1
        if self._closing or worker not in self._pool:
            return
        was_ready = worker.ready.done() and not worker.ready.exception()
        self._load_failures = 0 if was_ready else self._load_failures + 1
        if not self.ready:
            return  # still starting: start() reports the failure
        if self._load_failures >= MAX_LOAD_FAILURES:
            log.error("ASR worker %d keeps dying while loading; not restarting it", worker.index)
            self._pool.remove(worker)
            if not self._pool:
                self.ready = False
                for job in self._drain_queues():
                    job.future.set_exception(AsrWorkerCrashed("no ASR worker left"))
            return
        log.warning("ASR worker %d (pid %s) died with code %s; starting a new one",
                    worker.index, worker.pid, exitcode)
        replacement = self._new_worker(worker.index, asyncio.get_running_loop())
        self._pool[self._pool.index(worker)] = replacement
        self.restarts += 1
        replacement.ready.add_done_callback(lambda _f: self._worker_ready())

    def _worker_ready(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._dispatch()

    async def open_session(self, grammar: tuple[str, ...] | None = None) -> RecognizerSession:
        """A recognizer session pinned to the least-loaded worker (streaming engines)."""
        while True:
            live = [w for w in self._pool if w.is_ready]
            if live:
                break
            if not self._pool or self._changed is None:
                raise AsrWorkerCrashed("no ASR worker available")
            self._changed.clear()
            await self._changed.wait()
        worker = min(live, key=lambda w: (w.sessions, len(w.pending)))
        session = RecognizerSession(worker, next(self._session_ids), self.on_decode)
        await session.open(grammar)
        return session

    async def worker_stats(self) -> list[WorkerStats]:
        """CPU seconds and resident memory of each live worker (answered in job order)."""
        live = [w for w in self._pool if w.is_ready]
        answers = await asyncio.gather(*(w.submit("stats", None) for w in live))
        return [WorkerStats(w.pid or 0, float(cpu), int(rss))
                for w, (cpu, rss) in zip(live, answers, strict=True)]

    async def close(self) -> None:
        self.ready = False
        self._closing = True
        workers, self._pool = self._pool, []
        for w in workers:
            w.stop()
        for w in workers:
            await asyncio.to_thread(w.process.join, 5.0)
            if w.process.is_alive():
                w.process.kill()
                await asyncio.to_thread(w.process.join, 5.0)
        for job in self._drain_queues():
            job.future.set_exception(AsrWorkerLost("the ASR pool was closed"))

    def _drain_queues(self) -> list[_DecodeJob]:
        """Every queued job still waiting, both queues emptied."""
        jobs = [j for j in (*self._backlog, *self._background) if not j.future.done()]
        self._backlog.clear()
        self._background.clear()
        return jobs


class RecognizerSession:
    """A stateful recognizer living in one worker process; ops run there, in order."""

    def __init__(self, worker: _Worker, session_id: int,
                 on_decode: Callable[[float], None] | None = None) -> None:
        self._worker = worker
        self.session_id = session_id
        self._open = False
        self.on_decode = on_decode or _ignore_seconds

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid

    async def open(self, grammar: tuple[str, ...] | None) -> None:
        self._worker.sessions += 1
        self._open = True
        try:
            await self._worker.submit("open", (self.session_id, grammar))
        except AsrPoolError:
            self._release()
            raise

    async def feed(self, pcm: bytes) -> SessionUpdate:
        update: SessionUpdate = await self._worker.submit("feed", (self.session_id, pcm))
        return update

    async def finish(self) -> DecodeResult:
        """Close the open segment; the session stays usable for the next utterance."""
        started = self._worker.loop.time()
        result: DecodeResult = await self._worker.submit("finish", self.session_id)
        self.on_decode(self._worker.loop.time() - started)
        return result

    async def close(self) -> None:
        if self._open:
            self._release()
            if self._worker.alive:
                await self._worker.submit("close", self.session_id)

    def abandon(self) -> None:
        """Forget a session whose worker is gone (nothing to tell the worker)."""
        self._release()

    def _release(self) -> None:
        if self._open:
            self._open = False
            self._worker.sessions -= 1
