"""#18 item 2: events across nodes over PostgreSQL LISTEN/NOTIFY, on the real server.

Two nodes are two engines (each with its node's ``application_name``) and two buses on one
database; node A's listener must publish node B's events on A's bus, in order per call,
and not A's own again. A lost LISTEN connection comes back and says ``resync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from storage import DraftWorkflow, Event, EventBus, Store, StoredUtterance, create_engine, upgrade
from storage.pgevents import RESYNC, EventListener
from tests.storage.pgcluster import create_database


@dataclass
class Node:
    store: Store
    bus: EventBus
    listener: EventListener


@pytest.fixture
async def two_nodes(postgres_server: str) -> AsyncIterator[tuple[Node, Node]]:
    url = await create_database(postgres_server, "ev_" + uuid.uuid4().hex[:12])
    async with contextlib.AsyncExitStack() as stack:
        nodes = []
        for name in ("node-a", "node-b"):
            engine = create_engine(url, name)
            stack.push_async_callback(engine.dispose)
            if name == "node-a":
                await upgrade(engine)
            bus = EventBus()
            listener = EventListener(engine, bus, name, check_s=0.5, max_backoff_s=0.5)
            task = asyncio.create_task(listener.run())

            async def stop(task: asyncio.Task[None] = task) -> None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

            stack.push_async_callback(stop)
            await asyncio.wait_for(listener.connected.wait(), 10)
            nodes.append(Node(Store(engine, bus, node_id=name), bus, listener))
        yield nodes[0], nodes[1]


async def collect(queue: asyncio.Queue[Event], count: int, within: float = 10.0) -> list[Event]:
    got: list[Event] = []
    async with asyncio.timeout(within):
        while len(got) < count:
            got.append(await queue.get())
    return got


async def test_a_node_sees_another_nodes_call_in_order(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    async with a.bus.subscribe() as on_a:
        call_id = await b.store.create_call("sip", "13800138000", None, "fake:none")
        for seq in range(5):
            await b.store.add_utterance(call_id, StoredUtterance(
                seq, seq, seq + 0.9, f"第{seq}句", 0.9, []))
        await b.store.end_call(call_id, "remote-bye", 5.0)
        draft = await b.store.save_draft(call_id, "全文", {"phone": "13800138000"}, {}, [],
                                         False)
        got = await collect(on_a, 8)
    assert [e.kind for e in got] == ["call_started", *["utterance"] * 5, "call_ended",
                                     "draft_created"]
    assert {e.call_id for e in got} == {call_id}
    assert [e.payload["seq"] for e in got if e.kind == "utterance"] == [0, 1, 2, 3, 4]
    assert got[-1].payload == {"draft_id": draft["id"]}


async def test_claims_on_one_node_reach_the_other(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    call_id = await a.store.create_call("sip", None, None, "fake:none")
    draft = await a.store.save_draft(call_id, "全文", {}, {}, [], False)
    flow_b = DraftWorkflow(b.store.engine, b.bus)
    async with a.bus.subscribe() as on_a:
        await flow_b.claim(draft["id"], "agent-on-b")
        (event,) = await collect(on_a, 1)
    assert event.kind == "draft_updated" and event.payload["draft_id"] == draft["id"]


async def test_own_events_are_not_published_twice(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    async with a.bus.subscribe() as on_a:
        await a.store.create_call("sip", None, None, "fake:none")  # local: published once
        await b.store.create_call("sip", None, None, "fake:none")  # marker from node B
        got = await collect(on_a, 2)
        await asyncio.sleep(0.5)
        assert on_a.empty()
    assert [e.kind for e in got] == ["call_started", "call_started"]


async def test_a_lost_listen_connection_comes_back_and_says_resync(
    two_nodes: tuple[Node, Node],
) -> None:
    a, b = two_nodes
    async with a.bus.subscribe() as on_a:
        async with a.store.engine.connect() as conn:
            killed = (await conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'voice-intake/node-a/listen'"))).scalar()
        assert killed == 1
        (event,) = await collect(on_a, 1)
        assert event.kind == RESYNC
        assert a.listener.reconnects == 1
        call_id = await b.store.create_call("sip", None, None, "fake:none")
        (after,) = await collect(on_a, 1)
    assert after.kind == "call_started" and after.call_id == call_id
