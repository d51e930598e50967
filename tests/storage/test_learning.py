"""The learning loop's storage (issue 15 item 6), on SQLite and the real PostgreSQL: every
corrected field is stored as a pair (heard → value), recurring pairs become proposals, and
an admin's decision changes the approved set here at once and on another node through
LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from storage import DraftWorkflow, EventBus, Store, create_engine, upgrade
from storage.learning import Learning, ProposalNotFound
from storage.models import Call, CorrectionPairRow
from storage.pgevents import EventListener
from storage.retention import apply_retention
from tests.storage.pgcluster import create_database
from workorders import draft
from workorders.learned import Alias, proposal_id

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
# 梅头沟 is 门头沟区 misheard in a way the drafter does not find by sound.
TEXT = "我住在梅头沟 小区 停电 了 我姓王 电话 幺三八 幺幺二二 三三四四"


async def _drafted(store: Store, transcript: str = TEXT) -> tuple[str, str]:
    """A call and its draft as the drafter made it; returns (call id, draft id)."""
    call_id = await store.create_call("file", None, None, "fake:none")
    made = draft(transcript, None, NOW)
    stored = await store.save_draft(call_id, transcript, made.to_dict(), made.evidence(), [],
                                    False)
    return call_id, stored["id"]


async def _correct(store: Store, draft_id: str, fields: dict[str, Any],
                   user: str = "alice") -> None:
    flow = DraftWorkflow(store.engine, store.bus)
    await flow.claim(draft_id, user)
    await flow.edit(draft_id, user, fields)


async def _pairs(store: Store) -> list[tuple[str, str | None, str, str | None, str]]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(CorrectionPairRow).order_by(
            CorrectionPairRow.id))).all()
    return [(r.field, r.heard, r.value, r.drafted, r.username) for r in rows]


async def test_each_corrected_field_is_stored_as_a_pair(store: Store) -> None:
    # A district the drafter found nothing for, a category it got, a surname it got.
    made = draft(TEXT, None, NOW)
    assert made.district.value is None and made.category.value == "公用事业"
    _call, draft_id = await _drafted(store)
    await _correct(store, draft_id, {"district": "门头沟区", "surname": "黄",
                                     "category": "公用事业", "phone": "13900000000",
                                     "name": "王小明"})
    assert await _pairs(store) == [
        ("district", "梅头沟", "门头沟区", None, "alice"),  # no span: located by sound
        ("surname", "我姓王", "黄", "王", "alice"),  # the surname's evidence span
    ]  # category unchanged; phone and name are personal data and never pairs


async def test_recurring_pairs_become_proposals_and_decisions_change_the_set(
        store: Store) -> None:
    learning = store.learning
    assert learning.current.aliases == ()
    calls = []
    for _ in range(3):
        call_id, draft_id = await _drafted(store, "我住在 梅头沟 小区 停电 了")
        await _correct(store, draft_id, {"district": "门头沟区"})
        calls.append(call_id)
    # The drafter found no district; the place heard is located by sound: a place alias,
    # and a hot-word (a place agents typed on 3 drafts).
    found = await learning.proposals(3)
    assert sorted((p.kind, p.heard, p.value, p.count) for p in found) == [
        ("hotword", "", "门头沟区", 3), ("place", "梅头沟", "门头沟区", 3)]
    assert set(found[0].calls) == set(calls) and len(found[0].drafts) == 3
    assert found[0].known and found[0].drafted == ()
    # A surname heard the same wrong way on three drafts, two only at first.
    for n in range(3):
        _c, draft_id = await _drafted(store, "我姓王 电话 幺三八 幺幺二二 三三四四")
        await _correct(store, draft_id, {"surname": "汪"})
        if n == 1:
            assert {p.kind for p in await learning.proposals(3)} == {"hotword", "place"}
    pid = proposal_id("surname", "我姓王", "汪")
    assert pid in {p.id for p in await learning.proposals(3)}
    assert [p.id for p in await learning.proposals(4)] == []  # the threshold is a setting

    [surname] = [p for p in await learning.proposals(3) if p.id == pid]
    assert (surname.drafted, surname.known) == (("王",), True)  # what the drafter had said
    decided = await learning.decide(pid, "approved", "root", 3)
    assert (decided.status, decided.decided_by, decided.count) == ("approved", "root", 3)
    assert learning.current.aliases == (Alias("surname", "我姓王", "汪"),)  # reloaded at once
    assert [p.id for p in await learning.proposals(3, "approved")] == [pid]
    assert pid not in {p.id for p in await learning.proposals(3)}  # no longer pending
    # The next draft uses it.
    assert draft("我姓王 电话", None, NOW, learned=learning.current).surname.value == "汪"

    await learning.decide(pid, "rejected", "root", 3)  # withdrawn
    assert learning.current.aliases == ()
    with pytest.raises(ProposalNotFound):
        await learning.decide("nosuch", "approved", "root", 3)


async def test_retention_forgets_what_was_heard(store: Store) -> None:
    # The heard text is a piece of the transcript: redacted with it, the value stays.
    call_id, draft_id = await _drafted(store)
    await store.end_call(call_id, "hangup", 10.0)
    await _correct(store, draft_id, {"surname": "黄"})
    await DraftWorkflow(store.engine, store.bus).reject(draft_id, "alice", "not_appeal")
    async with store.engine.begin() as conn:
        await conn.execute(update(Call).where(Call.id == call_id).values(
            ended_at=datetime.now(UTC) - timedelta(days=400)))
    await apply_retention(store.engine, 30, datetime.now(UTC))
    assert await _pairs(store) == [("surname", None, "黄", "王", "alice")]


@pytest.fixture
async def two_learners(postgres_server: str) -> AsyncIterator[tuple[Store, Learning]]:
    """Node A's store, and node B's learning over the same PostgreSQL, with B's listener."""
    url = await create_database(postgres_server, "ln_" + uuid.uuid4().hex[:12])
    async with contextlib.AsyncExitStack() as stack:
        a = create_engine(url, "node-a")
        b = create_engine(url, "node-b")
        stack.push_async_callback(a.dispose)
        stack.push_async_callback(b.dispose)
        await upgrade(a)
        bus_b = EventBus()
        listener = EventListener(b, bus_b, "node-b", check_s=0.5, max_backoff_s=0.5)
        learning_b = Learning(b, bus_b)
        tasks = [asyncio.create_task(listener.run()), asyncio.create_task(learning_b.watch())]
        for task in tasks:
            stack.callback(task.cancel)
        await asyncio.wait_for(listener.connected.wait(), 10)
        yield Store(a, EventBus(), node_id="node-a"), learning_b


async def test_an_approval_reaches_the_other_nodes(two_learners: tuple[Store, Learning]) -> None:
    store, other = two_learners
    for _ in range(3):
        _c, draft_id = await _drafted(store, "我姓王 电话 幺三八 幺幺二二 三三四四")
        await _correct(store, draft_id, {"surname": "汪"})
    await store.learning.decide(proposal_id("surname", "我姓王", "汪"), "approved", "root", 3)
    async with asyncio.timeout(10):
        while not other.current.aliases:
            await other.changed.wait()
            other.changed.clear()
    assert other.current.aliases == (Alias("surname", "我姓王", "汪"),)
