"""The scheduler on a virtual clock against a real (SQLite) store: calling hours, busy and
no-answer retried, answers written onto the orders (resolved + satisfied; 2 -> 重办)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import CallbackSettings
from storage import DraftWorkflow, Reports, Store, create_engine, upgrade
from storage.callbacks import CallbackJob, CallbackStore
from tests.storage.test_store_backends import FIELDS, _drafted_call
from voice_gateway.callbacks.dialer import DialResult
from voice_gateway.callbacks.scheduler import CallbackScheduler
from voice_gateway.callbacks.survey import SurveyAnswers


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    from storage import EventBus

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vi.db'}")
    await upgrade(engine)
    try:
        yield Store(engine, EventBus())
    finally:
        await engine.dispose()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.mono = 0.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


class Phone:
    """The citizens' phones: a script of outcomes per number."""

    def __init__(self, scripts: dict[str, list[DialResult]], clock: Clock) -> None:
        self.scripts = {n: deque(r) for n, r in scripts.items()}
        self.dialled: list[tuple[str, datetime]] = []
        self.clock = clock

    async def __call__(self, job: CallbackJob) -> DialResult:
        self.dialled.append((job.number, self.clock.now))
        return self.scripts[job.number].popleft()


async def handled(store: Store, phone: str) -> str:
    draft = await _drafted_call(store, {**FIELDS, "phone": phone})
    flow = DraftWorkflow(store.engine, store.bus)
    await flow.claim(str(draft["id"]), "agent")
    await flow.dispatch(str(draft["id"]), "agent", None)
    await flow.follow_up(str(draft["id"]), "agent", responded=True)
    return str(draft["id"])


def bj(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def test_busy_and_no_answer_retried_within_calling_hours(store: Store) -> None:
    settings = CallbackSettings(max_attempts=3, retry_busy_s=600, retry_no_answer_s=1800,
                                attempts_per_second=10, max_concurrent=4)  # fmt: skip
    clock = Clock(bj(3, 20, 50))
    satisfied = SurveyAnswers(True, "satisfied")
    unresolved = SurveyAnswers(False, "basic")
    phone = Phone({
        "13811110001": [DialResult("busy", 486), DialResult("no-answer", 480),
                        DialResult("answered", 200, call_id="c1", answers=satisfied)],
        "13811110002": [DialResult("answered", 200, call_id="c2", answers=unresolved)],
        "13811110003": [DialResult("no-answer", 480)] * 3,
    }, clock)  # fmt: skip
    first = await handled(store, "13811110001")
    second = await handled(store, "13811110002")
    third = await handled(store, "13811110003")
    callbacks = CallbackStore(store.engine, store.bus)
    scheduler = CallbackScheduler(callbacks, phone, settings, node="n1", zone="Asia/Shanghai",
                                  wall=lambda: clock.now, monotonic=lambda: clock.mono)
    # Tick every minute until the next morning's end of calling hours.
    while clock.now < bj(4, 21):
        await scheduler.tick()
        await scheduler.settle()
        clock.advance(60)
    times = [(n[-1], t) for n, t in phone.dialled]
    assert all(scheduler.hours.allows(t) for _n, t in times)
    assert [t for n, t in times if n == "1"] == [bj(3, 20, 50), bj(4, 8), bj(4, 9)]  # busy
    # then 21:00 closed; no answer at 08:00, next after 2 x 30 min; answered at 09:00
    assert [t for n, t in times if n == "3"] == [bj(3, 20, 50), bj(4, 8), bj(4, 9)]
    rows = {r["draft_id"]: r for r in await callbacks.list()}
    assert (rows[first]["status"], rows[first]["resolved"], rows[first]["satisfaction"]) == (
        "done", True, "satisfied")
    assert rows[second]["status"] == "done" and rows[third]["status"] == "exhausted"
    assert [e["outcome"] for e in rows[first]["log"]] == ["busy", "no-answer", "answered"]
    flow = DraftWorkflow(store.engine, store.bus)
    assert [d["id"] for d, _w in await flow.queue(status="new")] == [second]  # 重办
    rates = {r["district"]: r for r in await Reports(store.engine).rates_by_district(
        datetime.now(UTC) - timedelta(days=1))}  # fmt: skip
    [r] = rates.values()
    assert (r["orders"], r["resolved"], r["rated"], r["satisfied"]) == (3, 1, 2, 2)
    assert await callbacks.stats() == {"reached": 2, "refused": 0, "unreachable": 1,
                                       "queued": 0, "attempts": 7}  # fmt: skip


async def test_the_trunk_cap_limits_attempts_per_round(store: Store) -> None:
    settings = CallbackSettings(max_concurrent=2, attempts_per_second=100)
    clock = Clock(bj(3, 10))
    answered = DialResult("answered", 200, answers=SurveyAnswers(True, "satisfied"))
    phone = Phone({f"1381111000{i}": [answered] for i in range(5)}, clock)
    hang_up = asyncio.Event()

    async def slow_phone(job: CallbackJob) -> DialResult:
        await hang_up.wait()  # every survey stays up until the test lets it end
        return await phone(job)

    for i in range(5):
        await handled(store, f"1381111000{i}")
    scheduler = CallbackScheduler(CallbackStore(store.engine, store.bus), slow_phone, settings,
                                  node="n1", zone="Asia/Shanghai", wall=lambda: clock.now,
                                  monotonic=lambda: clock.mono)  # fmt: skip
    assert await scheduler.tick() == 2
    assert await scheduler.tick() == 0  # both still up
    hang_up.set()
    await scheduler.settle()
    assert await scheduler.tick() == 2
    await scheduler.settle()
