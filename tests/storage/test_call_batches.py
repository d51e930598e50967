"""Calls offered together are stored together (issue 16: a burst of offers refused).

Each INSERT of a call used to be a transaction of its own, one after another at the write
gate: on a busy event loop each took several round trips, and the calls at the back of a
burst passed the setup deadline waiting for those at the front. The calls waiting for the
gate now go in one transaction; one that cannot be stored fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from storage import Store
from storage.models import Call, EventRow

BURST = 20


def _slow_commits(store: Store, monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[int]:
    """Every COMMIT takes ``seconds`` (a slow, never failing database); the list counts
    them."""
    if store.engine.dialect.name == "sqlite":
        import aiosqlite

        owner: Any = aiosqlite.Connection
    else:
        import asyncpg.transaction  # type: ignore[import-untyped]

        owner = asyncpg.transaction.Transaction
    real_commit = owner.commit
    commits = [0]

    async def slow_commit(self: object) -> None:
        commits[0] += 1
        await asyncio.sleep(seconds)
        await real_commit(self)

    monkeypatch.setattr(owner, "commit", slow_commit)
    return commits


async def test_a_burst_of_calls_is_stored_in_a_few_transactions_within_the_deadline(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    commits = _slow_commits(store, monkeypatch, 0.2)  # 20 in turn: 4 s, past the deadline
    async with store.bus.subscribe() as bus:
        ids = await asyncio.gather(*(
            store.create_call("webrtc", None, None, "fake:none", deadline_s=2.0)
            for _ in range(BURST)))
        started = [bus.get_nowait() for _ in range(bus.qsize())]
    assert commits[0] <= 2
    async with store.engine.connect() as conn:
        stored = set((await conn.execute(select(Call.id))).scalars())
        events = (await conn.execute(select(EventRow.call_id)
                                     .where(EventRow.kind == "call_started"))).scalars().all()
    assert stored == set(ids) and len(ids) == BURST
    assert len(events) == BURST and set(events) == set(ids)
    announced = [e.call_id for e in started if e.kind == "call_started"]
    assert len(announced) == BURST and set(announced) == set(ids)


async def test_a_call_that_cannot_be_stored_fails_alone(store: Store) -> None:
    taken = await store.create_call("sip", None, None, "fake:none")
    results = await asyncio.gather(
        store.create_call("sip", None, None, "fake:none", deadline_s=5.0),
        store.create_call("sip", None, None, "fake:none", call_id=taken, deadline_s=5.0),
        store.create_call("sip", None, None, "fake:none", deadline_s=5.0),
        return_exceptions=True)
    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(r, str) for r in (results[0], results[2]))
    async with store.engine.connect() as conn:
        stored = set((await conn.execute(select(Call.id))).scalars())
    assert stored == {taken, results[0], results[2]}


async def test_a_call_waiting_while_calls_are_stored_is_not_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The setup deadline is for a stalled database: here each COMMIT takes 1.2 s of a 2 s
    deadline, and the second call, offered while the first is being stored, is stored
    2.4 s in, 1.2 s after the first (a database that moves, slowly)."""
    _slow_commits(store, monkeypatch, 1.2)
    first = asyncio.ensure_future(
        store.create_call("webrtc", None, None, "fake:none", deadline_s=2.0))
    await asyncio.sleep(0.1)  # the first call's batch is being written
    second = await store.create_call("webrtc", None, None, "fake:none", deadline_s=2.0)
    await first
    async with store.engine.connect() as conn:
        stored = set((await conn.execute(select(Call.id))).scalars())
    assert stored == {first.result(), second}


async def test_a_batch_costs_a_few_statements_whatever_its_size(store: Store) -> None:
    """Each statement is a round trip through a busy event loop: added as ORM objects,
    every call's event row was an INSERT ... RETURNING of its own on SQLite."""
    await store.create_call("webrtc", None, None, "fake:none")  # the pool's connection
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql.split()[0].upper())

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        await asyncio.gather(*(
            store.create_call("webrtc", None, None, "fake:none", deadline_s=5.0)
            for _ in range(BURST)))
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert statements.count("INSERT") == 2, statements
