"""SQLite writers take turns, a call being admitted first (storage.db.WriteGate)."""

from __future__ import annotations

import asyncio

import pytest

from storage.db import WriteGate, create_engine, write_gate


async def test_writers_take_turns_and_urgent_ones_go_first() -> None:
    gate = WriteGate(serial=True)
    order: list[str] = []
    inside = 0

    async def writer(name: str, urgent: bool = False) -> None:
        nonlocal inside
        async with gate(urgent=urgent):
            inside += 1
            assert inside == 1  # one at a time
            order.append(name)
            await asyncio.sleep(0.01)
            inside -= 1

    first = asyncio.create_task(writer("first"))
    await asyncio.sleep(0)  # holds the gate
    rest = [asyncio.create_task(writer(n, urgent=n.startswith("invite")))
            for n in ("draft1", "draft2", "invite1", "draft3", "invite2")]
    await asyncio.gather(first, *rest)
    assert order == ["first", "invite1", "invite2", "draft1", "draft2", "draft3"]


async def test_a_cancelled_waiter_neither_blocks_nor_loses_the_gate() -> None:
    gate = WriteGate(serial=True)
    done: list[str] = []

    async def writer(name: str, hold: float) -> None:
        async with gate():
            await asyncio.sleep(hold)
            done.append(name)

    holder = asyncio.create_task(writer("holder", 0.02))
    await asyncio.sleep(0)
    doomed = asyncio.create_task(writer("doomed", 0))
    after = asyncio.create_task(writer("after", 0))
    await asyncio.sleep(0)
    doomed.cancel()
    await asyncio.gather(holder, after)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert done == ["holder", "after"]
    async with asyncio.timeout(1):  # free again
        async with gate():
            pass


async def test_cancelled_just_as_the_gate_was_handed_over_passes_it_on() -> None:
    gate = WriteGate(serial=True)
    release = asyncio.Event()
    got: list[str] = []
    waiters: list[asyncio.Task[None]] = []

    async def holder() -> None:
        async with gate():
            await release.wait()
        # The gate is now w1's, but w1 has not run yet: cancel it right here.
        waiters[0].cancel()

    async def waiter(name: str) -> None:
        async with gate():
            got.append(name)

    h = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiters += [asyncio.create_task(waiter("w1")), asyncio.create_task(waiter("w2"))]
    await asyncio.sleep(0)
    release.set()
    await h
    async with asyncio.timeout(1):
        await waiters[1]
    assert got == ["w2"] and waiters[0].cancelled()


async def test_only_sqlite_is_serialised(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/g.db")
    assert write_gate(engine) is write_gate(engine)  # one per database
    gate = WriteGate(serial=False)
    entered = 0

    async def writer() -> None:
        nonlocal entered
        async with gate():
            entered += 1
            await asyncio.sleep(0.01)

    async with asyncio.timeout(0.5):
        await asyncio.gather(*(writer() for _ in range(10)))
    assert entered == 10
    await engine.dispose()


async def test_the_gate_tells_how_long_its_oldest_write_has_been_waiting_or_writing() -> None:
    clock = [100.0]
    gate = WriteGate(serial=True, clock=lambda: clock[0])
    release = asyncio.Event()
    assert gate.stalled_for(100.0) == 0.0

    async def writer() -> None:
        async with gate():
            await release.wait()

    first = asyncio.create_task(writer())
    await asyncio.sleep(0)
    clock[0] = 101.0
    second = asyncio.create_task(writer())
    doomed = asyncio.create_task(writer())
    await asyncio.sleep(0)
    assert gate.stalled_for(103.5) == 3.5  # the first, inside since 100
    doomed.cancel()
    release.set()
    await asyncio.gather(first, second, doomed, return_exceptions=True)
    assert gate.stalled_for(200.0) == 0.0  # none left: the cancelled waiter neither


async def test_writes_on_a_database_of_many_writers_are_timed_too() -> None:
    gate = WriteGate(serial=False, clock=lambda: 10.0)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with gate():
            entered.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await entered.wait()
    assert gate.stalled_for(12.0) == 2.0
    release.set()
    await task
    assert gate.stalled_for(12.0) == 0.0
