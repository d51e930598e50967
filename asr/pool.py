"""Decoding in worker processes, off the event loop.

Each worker process builds its engine once (the model is loaded in the initializer) and
then decodes utterances. A semaphore bounds the utterances in flight, so a burst of calls
waits for a free slot instead of queueing unbounded audio (back-pressure).

A worker that dies (a native engine crashing) breaks a ``ProcessPoolExecutor`` for every
job in it; the pool then builds a fresh executor, once per generation, and each affected
utterance is retried once. A second failure is reported to the caller as
:class:`AsrWorkerCrashed`; the call goes on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from asr.engines.base import DecodeRequest, DecodeResult, Engine, EngineSpec, build_engine

log = logging.getLogger(__name__)

_ENGINE: Engine | None = None


def _init_worker(spec: EngineSpec) -> None:
    global _ENGINE
    _ENGINE = build_engine(spec)


def _decode_in_worker(request: DecodeRequest) -> DecodeResult:
    assert _ENGINE is not None, "worker initializer did not run"
    return _ENGINE.decode(request)


def _ping() -> bool:
    return _ENGINE is not None


class AsrWorkerCrashed(RuntimeError):
    """An utterance crashed its worker twice; it is given up, the call is not."""


class AsrWorkerPool:
    """N worker processes, each holding one loaded engine."""

    def __init__(self, spec: EngineSpec, workers: int, queue_size: int = 32) -> None:
        self.spec = spec
        self.workers = max(1, workers)
        self._slots = asyncio.Semaphore(max(self.workers, queue_size))
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._restart_lock = asyncio.Lock()
        self.restarts = 0
        self.ready = False

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn: forking a process that runs an event loop and native threads is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.spec,),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has loaded its model."""
        if self._executor is None:
            self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        # One ping per worker makes the executor start all of them now.
        ok = await asyncio.gather(
            *(loop.run_in_executor(self._executor, _ping) for _ in range(self.workers))
        )
        self.ready = all(ok)

    async def decode(self, request: DecodeRequest) -> DecodeResult:
        """Decode one utterance; retried once if its worker crashes."""
        async with self._slots:
            for attempt in (1, 2):
                executor, generation = self._executor, self._generation
                if executor is None:
                    raise RuntimeError("AsrWorkerPool.start() was not awaited")
                loop = asyncio.get_running_loop()
                try:
                    return await loop.run_in_executor(executor, _decode_in_worker, request)
                except BrokenProcessPool:
                    log.warning("ASR worker crashed (attempt %d); restarting the pool", attempt)
                    await self._restart(generation)
            raise AsrWorkerCrashed("utterance crashed the ASR worker twice")

    async def _restart(self, broken_generation: int) -> None:
        async with self._restart_lock:
            if self._generation != broken_generation:
                return  # another caller already replaced this executor
            old = self._executor
            self._executor = self._new_executor()
            self._generation += 1
            self.restarts += 1
            if old is not None:
                old.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        self.ready = False
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
