"""The service's long-lived resources, opened once and shared by everything in the process.

``open_services`` is used by ``serve`` (inside the aiohttp app's cleanup context) and by the
one-shot CLI commands, so a call from a file goes through exactly the pipeline a SIP call
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asr.engines.base import EngineSpec
from asr.hotwords import engine_prompt
from asr.models import choose_engine
from asr.pool import AsrWorkerPool
from config import Settings
from storage import EventBus, Store, create_engine
from storage.db import write_gate
from storage.migrate import prepare
from voice_gateway import metrics
from workorders.learned import LearnedAliases

log = logging.getLogger(__name__)
SETTLE_TIMEOUT_S = 10.0


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: EventBus
    pool: AsrWorkerPool | None
    engine_label: str | None


def engine_spec(settings: Settings) -> tuple[EngineSpec, str]:
    """The engine spec for the configured ASR engine, and a label naming engine and model."""
    choice = choose_engine(settings)
    spec = EngineSpec(
        kind=choice.engine,
        model_path=str(choice.path),
        threads=settings.asr_threads,
        language=settings.asr.language,
        beam_size=settings.asr.whisper_beam_size,
        compute_type=settings.asr.whisper_compute_type,
        window_s=settings.asr.whisper_window_s,
        min_window_s=settings.asr.whisper_min_window_s,
        nbest=settings.asr.nbest if choice.engine == "whisper" else settings.asr.vosk_nbest,
        prompt=engine_prompt(settings) if choice.engine == "whisper" else None,
    )
    return spec, f"{choice.engine}:{choice.model_name}"


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    with_asr: bool = True,
    spec: EngineSpec | None = None,
    workers: int | None = None,
    asr_in_background: bool = False,
) -> AsyncIterator[Services]:
    """Open the database (SQLite migrated to head; a shared PostgreSQL checked to be at
    head, ``SchemaOutdated`` if not) and, if asked, the ASR worker pool.

    With ``asr_in_background`` the workers load their models while the caller goes on
    (the HTTP server answers ``/healthz`` at once, ``/readyz`` once models are loaded).
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = create_engine(settings.effective_database_url, settings.node_id)
    write_gate(db).on_write = metrics.DB_WRITE.observe
    pool: AsrWorkerPool | None = None
    label: str | None = None
    starting: asyncio.Task[None] | None = None
    store: Store | None = None
    learning: asyncio.Task[None] | None = None
    try:
        await prepare(db)  # SQLite: migrated; a shared database: refused if older
        bus = EventBus()
        if with_asr:
            if spec is None:
                spec, label = engine_spec(settings)
            else:
                label = f"{spec.kind}:{spec.model_path or 'none'}"
            pool = AsrWorkerPool(spec, workers or settings.asr_workers, settings.asr.queue_size,
                                 max_batch=settings.asr.max_batch,
                                 decode_timeout_s=settings.asr.decode_timeout_s)
            pool.on_queue_wait = metrics.ASR_QUEUE.observe
            pool.on_decode = metrics.ASR_DECODE.observe
            starting = asyncio.create_task(pool.start())
            starting.add_done_callback(lambda t: _log_start(t, label, pool))
            if not asr_in_background:
                await starting
        store = Store(db, bus, node_id=settings.node_id)
        # Aliases learnt from corrections: approved ones now, others' approvals as they come.
        if pool is not None and pool.spec.prompt is not None and settings.asr.whisper_hotwords:
            store.learning.on_reload.append(functools.partial(_hotwords, settings, pool))
        await store.learning.reload()
        learning = asyncio.create_task(store.learning.watch())
        yield Services(settings, store, bus, pool, label)
    finally:
        if learning is not None:
            learning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await learning
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        if pool is not None:
            await pool.close()
        if store is not None:
            with contextlib.suppress(TimeoutError):
                # Inserts a caller gave up on (a stalled setup) finish or are taken back.
                await asyncio.wait_for(store.settle(), SETTLE_TIMEOUT_S)
        await db.dispose()


def _hotwords(settings: Settings, pool: AsrWorkerPool, learned: LearnedAliases) -> None:
    """Approved hot-words go first into the Whisper prompt of the next utterances."""
    pool.default_prompt = engine_prompt(settings, learned.hotwords) if learned.hotwords else None


def _log_start(task: asyncio.Task[None], label: str | None, pool: AsrWorkerPool) -> None:
    if task.cancelled():
        return
    if (exc := task.exception()) is not None:
        log.error("ASR workers failed to start (%s): %s", label, exc)
    else:
        log.info("ASR ready: %s, %d worker(s)", label, pool.workers)
