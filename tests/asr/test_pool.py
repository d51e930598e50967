"""The worker pool with the fake engine: decoding, batching, sticky sessions, crashes, hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asr.engines.base import DecodeRequest, EngineSpec
from asr.pool import (
    AsrJobFailed,
    AsrModelLoadError,
    AsrWorkerCrashed,
    AsrWorkerLost,
    AsrWorkerPool,
)

UTTERANCE = DecodeRequest(b"\0\0" * 16000)


def fake(**options: str) -> EngineSpec:
    return EngineSpec("fake", options=tuple(options.items()))


async def started(spec: EngineSpec, workers: int = 2, **kw: Any) -> AsrWorkerPool:
    pool = AsrWorkerPool(spec, workers, **kw)
    await pool.start()
    return pool


@pytest.fixture
async def pool() -> AsyncIterator[AsrWorkerPool]:
    p = await started(fake(delay="0.05"))
    yield p
    await p.close()


async def test_start_loads_every_worker_and_decodes(pool: AsrWorkerPool) -> None:
    assert pool.ready
    assert len(set(pool.worker_pids)) == 2
    assert os.getpid() not in pool.worker_pids
    result = await pool.decode(UTTERANCE)
    assert result.text == "utterance 1"
    assert result.words[0].end == pytest.approx(1.0)


async def test_queued_utterances_are_batched(pool: AsrWorkerPool) -> None:
    results = await asyncio.gather(*(pool.decode(UTTERANCE) for _ in range(12)))
    assert len(results) == 12
    # Two go out alone at once; the rest queue and leave in batches of up to 4.
    assert pool.batched_utterances == 12
    assert pool.batches < 12


async def test_back_pressure_bounds_what_is_in_flight() -> None:
    p = await started(fake(delay="0.05"), workers=1, queue_size=2)
    try:
        tasks = [asyncio.create_task(p.decode(UTTERANCE)) for _ in range(6)]
        await asyncio.sleep(0.02)
        assert len(p._backlog) + sum(len(w.pending) for w in p._pool) <= 2
        await asyncio.gather(*tasks)
    finally:
        await p.close()


async def test_worker_crash_is_restarted_and_the_utterance_retried(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    p = await started(fake(crash_marker=str(marker)))
    try:
        before = set(p.worker_pids)
        result = await p.decode(UTTERANCE)
        assert marker.exists()  # the first decode really killed its worker
        assert result.text.startswith("utterance")
        assert p.restarts == 1
        await asyncio.sleep(0.5)  # let the replacement load
        assert len(p.worker_pids) == 2 and set(p.worker_pids) != before
        assert (await p.decode(UTTERANCE)).text  # and the pool goes on
    finally:
        await p.close()


async def test_a_killed_worker_is_replaced_and_its_batch_retried() -> None:
    p = await started(fake(delay="0.5"))
    try:
        jobs = asyncio.gather(*(p.decode(UTTERANCE) for _ in range(4)))
        await asyncio.sleep(0.2)
        victim = p.worker_pids[0]
        os.kill(victim, signal.SIGKILL)  # a real crash, from outside
        results = await jobs
        assert len(results) == 4 and all(r.text for r in results)
        assert p.restarts == 1
        assert victim not in p.worker_pids
        assert (p.backlog_jobs, p.backlog_seconds) == (0, 0.0)
    finally:
        await p.close()


async def test_a_poison_utterance_is_given_up_after_one_retry() -> None:
    p = await started(fake(crash_always="1"), workers=1)
    try:
        with pytest.raises(AsrWorkerCrashed):
            await p.decode(UTTERANCE)
        assert p.restarts == 2
    finally:
        await p.close()


async def test_sessions_are_sticky_and_balanced(pool: AsrWorkerPool) -> None:
    a = await pool.open_session()
    b = await pool.open_session()
    assert a.worker_pid != b.worker_pid  # least-loaded worker first
    for _ in range(3):
        await a.feed(b"\0" * 3200)
    update = await a.feed(b"\0" * 3200)
    assert update.partial == "12800 bytes"  # all four feeds reached the same recognizer
    final = await a.finish()
    assert final.words[0].end == pytest.approx(0.4)
    await a.close()
    await b.close()


async def test_a_failing_job_leaves_the_worker_alive(pool: AsrWorkerPool) -> None:
    session = await pool.open_session()
    await session.close()
    pids = set(pool.worker_pids)
    with pytest.raises(AsrJobFailed, match="KeyError"):
        await session.feed(b"\0" * 320)  # the worker no longer knows the session
    assert set(pool.worker_pids) == pids


async def test_a_model_that_cannot_load_fails_start(tmp_path: Path) -> None:
    p = AsrWorkerPool(EngineSpec("vosk", str(tmp_path / "no-such-model")), 1)
    with pytest.raises(AsrModelLoadError):
        await p.start()
    assert not p.ready


async def test_worker_stats_report_cpu_and_memory(pool: AsrWorkerPool) -> None:
    stats = await pool.worker_stats()
    assert {s.pid for s in stats} == set(pool.worker_pids)
    assert all(s.cpu_seconds > 0 and s.resident_bytes > 10_000_000 for s in stats)


async def test_a_decode_queued_during_start_runs_when_the_workers_are_ready() -> None:
    """Crash recovery decodes right after start-up: no later decode may be needed to
    dispatch what was queued while the workers were still loading."""
    p = AsrWorkerPool(fake(), 2)
    starting = asyncio.create_task(p.start())
    await asyncio.sleep(0)  # the workers are spawned, none has loaded yet
    assert not p.ready
    try:
        result = await asyncio.wait_for(p.decode(UTTERANCE), 10)
        assert result.text == "utterance 1"
        await starting
    finally:
        await p.close()


async def test_a_hung_worker_is_killed_and_the_utterance_retried(tmp_path: Path) -> None:
    marker = tmp_path / "hung"
    p = await started(fake(hang_marker=str(marker)), decode_timeout_s=1.5)
    try:
        before = set(p.worker_pids)
        t0 = time.monotonic()
        result = await asyncio.wait_for(p.decode(UTTERANCE), 15)
        assert marker.exists()  # the first attempt really hung its worker
        assert time.monotonic() - t0 >= 1.5
        assert result.text.startswith("utterance")
        assert (p.hung_kills, p.restarts) == (1, 1)
        await asyncio.sleep(1.0)  # let the replacement load
        assert len(p.worker_pids) == 2 and len(set(p.worker_pids) & before) == 1
        assert (await p.decode(UTTERANCE)).text
    finally:
        await p.close()


async def test_an_utterance_that_hangs_twice_is_given_up_and_the_pool_goes_on() -> None:
    p = await started(fake(hang_prompt="hang"), workers=1, decode_timeout_s=1.5)
    try:
        with pytest.raises(AsrWorkerCrashed):
            await asyncio.wait_for(p.decode(DecodeRequest(UTTERANCE.pcm, prompt="hang")), 20)
        assert (p.hung_kills, p.restarts) == (2, 2)
        assert (p.backlog_jobs, p.backlog_seconds) == (0, 0.0)
        # The next utterance waits for the second replacement to load, then decodes.
        assert (await asyncio.wait_for(p.decode(UTTERANCE), 10)).text
    finally:
        await p.close()


async def test_a_hung_session_feed_loses_its_session(tmp_path: Path) -> None:
    p = await started(fake(hang_marker=str(tmp_path / "hung")), workers=1,
                      decode_timeout_s=1.5)
    try:
        session = await p.open_session()
        with pytest.raises(AsrWorkerLost):
            await asyncio.wait_for(session.feed(b"\0" * 3200), 10)
        session.abandon()
        assert (p.hung_kills, p.restarts) == (1, 1)
        again = await asyncio.wait_for(p.open_session(), 10)  # on the replacement
        assert (await again.feed(b"\0" * 3200)).partial == "3200 bytes"
        await again.close()
    finally:
        await p.close()


async def test_a_busy_worker_answering_in_turn_is_not_hung() -> None:
    """The deadline runs per op from when the worker could start it: four feeds of 0.8 s
    sent at once take 3.2 s in all, but none is in progress for 2 s. (With 0.6 s feeds and
    a 1 s deadline, a loaded 2-core machine once took the session's close for a hang.)"""
    p = await started(fake(feed_delay="0.8"), workers=1, decode_timeout_s=2.0)
    try:
        session = await p.open_session()
        updates = await asyncio.gather(*(session.feed(b"\0" * 320) for _ in range(4)))
        assert updates[-1].partial == "1280 bytes"
        assert (p.hung_kills, p.restarts) == (0, 0)
        await session.close()
    finally:
        await p.close()


def seconds(n: int) -> DecodeRequest:
    return DecodeRequest(b"\0\0" * 16000 * n)


async def test_backlog_counts_audio_waiting_queued_and_in_flight() -> None:
    p = await started(fake(delay="1.0"), workers=1, queue_size=2)
    try:
        assert (p.backlog_jobs, p.backlog_seconds) == (0, 0.0)
        tasks = {n: asyncio.create_task(p.decode(seconds(n))) for n in range(1, 6)}
        await asyncio.sleep(0.05)
        # 1 s on the worker, 2 s queued, 3 + 4 + 5 s waiting for a slot.
        assert (p.backlog_jobs, p.backlog_seconds) == (5, 15.0)
        tasks[4].cancel()  # waiting for a slot
        await asyncio.sleep(0.01)
        assert (p.backlog_jobs, p.backlog_seconds) == (4, 11.0)
        tasks[2].cancel()  # queued: its slot goes to the 3 s one
        await asyncio.sleep(0.01)
        assert (p.backlog_jobs, p.backlog_seconds) == (3, 9.0)
        tasks[1].cancel()  # on the worker: still costs the worker its time
        await asyncio.sleep(0.01)
        assert (p.backlog_jobs, p.backlog_seconds) == (3, 9.0)
        await asyncio.gather(tasks[3], tasks[5])
        assert (p.backlog_jobs, p.backlog_seconds) == (0, 0.0)
    finally:
        await p.close()


def test_the_hang_deadline_grows_with_the_audio_in_the_job() -> None:
    """A batch of four long utterances on a busy machine took more than a 5 s
    decode_timeout_s in bench.faults and its worker was killed as hung."""
    from asr.pool import HANG_PER_AUDIO_S, _audio_seconds

    second = b"\0\0" * 16000
    batch = [DecodeRequest(second * 3), DecodeRequest(second * 5)]
    assert _audio_seconds("decode", batch) == 8.0
    assert _audio_seconds("feed", (1, second)) == 1.0
    assert _audio_seconds("open", (1, None)) == 0.0
    assert HANG_PER_AUDIO_S * 8.0 + 5.0 > 4 * 8.0 * 0.3  # well above Whisper's pace


async def test_background_requests_wait_for_every_other_and_take_no_slot() -> None:
    from dataclasses import replace

    p = await started(fake(delay="0.2"), workers=1, queue_size=1, max_batch=1)
    done: list[str] = []

    async def decode(name: str, request: DecodeRequest) -> None:
        await p.decode(request)
        done.append(name)

    try:
        background = replace(UTTERANCE, background=True)
        first = asyncio.create_task(decode("bg1", background))  # goes to the worker at once
        await asyncio.sleep(0.05)
        tasks = [asyncio.create_task(decode(f"bg{n}", background)) for n in (2, 3)]
        await asyncio.sleep(0.01)
        # Queued without a slot: the one slot is free for a caller's utterance, which
        # overtakes both.
        assert p.backlog_jobs == 3 and p._slots._value == 1
        tasks.append(asyncio.create_task(decode("live", UTTERANCE)))
        await asyncio.gather(first, *tasks)
        assert done == ["bg1", "live", "bg2", "bg3"]
        assert (p.backlog_jobs, p.backlog_seconds) == (0, 0.0)
    finally:
        await p.close()



async def test_background_work_goes_to_a_worker_one_at_a_time() -> None:
    from dataclasses import replace

    p = await started(fake(delay="0.2"), workers=1, max_batch=4)
    try:
        background = replace(UTTERANCE, background=True)
        tasks = [asyncio.create_task(p.decode(background)) for _ in range(4)]
        await asyncio.sleep(0.05)
        live = asyncio.create_task(p.decode(UTTERANCE))
        start = asyncio.get_running_loop().time()
        await live
        # Behind one background decode at most (about 0.35 s), not four (about 0.95 s); the
        # bound leaves room for a loaded machine.
        assert asyncio.get_running_loop().time() - start < 0.7
        await asyncio.gather(*tasks)
        assert p.batches == 5
    finally:
        await p.close()
