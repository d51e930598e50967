"""The callbacks queue on SQLite and PostgreSQL: queued for handled orders with a number,
claimed by exactly one node, retried, and its answers written onto the order (rates, 重办)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import DraftWorkflow, Reports, Store
from storage.callbacks import AttemptRecord, CallbackStore
from tests.storage.test_store_backends import FIELDS, _drafted_call

NOW = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


async def _handled_order(store: Store, phone: str | None = "13811223344",
                         responded: bool = True) -> str:  # fmt: skip
    draft = await _drafted_call(store, {**FIELDS, "phone": phone})
    draft_id = str(draft["id"])
    flow = DraftWorkflow(store.engine, store.bus)
    await flow.claim(draft_id, "agent")
    await flow.dispatch(draft_id, "agent", None)
    if responded:
        await flow.follow_up(draft_id, "agent", responded=True)
    return draft_id


async def test_handled_orders_with_a_number_are_queued_once(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    handled = await _handled_order(store)
    await _handled_order(store, responded=False)  # not yet responded to
    await _handled_order(store, phone=None)  # anonymous: nobody to call
    assert await callbacks.enqueue_handled(NOW) == 1
    assert await callbacks.enqueue_handled(NOW) == 0
    [row] = await callbacks.list()
    assert row["draft_id"] == handled and row["status"] == "queued" and "number" not in row


async def test_exactly_one_node_claims_a_callback(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    await callbacks.enqueue(await _handled_order(store), "13811223344", NOW)
    claims = await asyncio.gather(*(callbacks.claim(f"node{i}", NOW, 5, LEASE)
                                    for i in range(4)))  # fmt: skip
    assert sorted(len(c) for c in claims) == [0, 0, 0, 1]
    # The lease runs out (the node died mid-call): another node takes it.
    assert await callbacks.claim("node9", NOW + LEASE / 2, 5, LEASE) == []
    [job] = await callbacks.claim("node9", NOW + LEASE * 2, 5, LEASE)
    assert job.number == "13811223344"


async def test_busy_then_answered_resolved_and_satisfied(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    draft_id = await _handled_order(store)
    await callbacks.enqueue(draft_id, "13811223344", NOW)
    [job] = await callbacks.claim("n", NOW, 5, LEASE)
    later = NOW + timedelta(minutes=10)
    status = await callbacks.finish_attempt(job, "n", AttemptRecord("busy", 486), NOW, later)
    assert status == "queued"
    assert await callbacks.claim("n", NOW + timedelta(minutes=5), 5, LEASE) == []
    [job] = await callbacks.claim("n", later, 5, LEASE)
    assert job.attempts == 1
    record = AttemptRecord("answered", 200, "call-1", True, "satisfied")
    assert await callbacks.finish_attempt(job, "n", record, later, None) == "done"
    row = await callbacks.for_draft(draft_id)
    assert row is not None
    assert [e["outcome"] for e in row["log"]] == ["busy", "answered"]
    assert (row["resolved"], row["satisfaction"], row["call_id"]) == (True, "satisfied", "call-1")
    [rates] = await Reports(store.engine).rates_by_district(NOW - timedelta(days=1))
    assert (rates["resolved"], rates["satisfied"], rates["rated"]) == (1, 1, 1)
    assert await callbacks.stats() == {"reached": 1, "refused": 0, "unreachable": 0,
                                       "queued": 0, "attempts": 2}  # fmt: skip


async def test_dissatisfied_sends_the_order_back_as_rework(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    draft_id = await _handled_order(store)
    await callbacks.enqueue(draft_id, "13811223344", NOW)
    [job] = await callbacks.claim("n", NOW, 5, LEASE)
    record = AttemptRecord("answered", 200, "call-2", False, "dissatisfied", rework=True)
    await callbacks.finish_attempt(job, "n", record, NOW, None)
    flow = DraftWorkflow(store.engine, store.bus)
    queue = await flow.queue(status="new")
    assert [d["id"] for d, _w in queue] == [draft_id]
    found = await flow.draft(draft_id)
    assert found is not None and found[1]["satisfaction"] == "dissatisfied"
    [rates] = await Reports(store.engine).rates_by_district(NOW - timedelta(days=1))
    assert (rates["orders"], rates["resolved"], rates["satisfied"], rates["rated"]) == (1, 0, 0, 1)


async def test_unanswered_until_exhausted_and_do_not_call(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    first = await _handled_order(store)
    await callbacks.enqueue(first, "13811223344", NOW)
    [job] = await callbacks.claim("n", NOW, 5, LEASE)
    assert await callbacks.finish_attempt(job, "n", AttemptRecord("no-answer", 480), NOW,
                                          None) == "exhausted"  # fmt: skip
    second = await _handled_order(store, phone="13900000000")
    await callbacks.enqueue(second, "13900000000", NOW)
    [job] = await callbacks.claim("n", NOW, 5, LEASE)
    record = AttemptRecord("answered", 200, "c", None, None, do_not_call=True)
    assert await callbacks.finish_attempt(job, "n", record, NOW, None) == "refused"
    third = await _handled_order(store, phone="13900000000")
    await callbacks.enqueue(third, "13900000000", NOW)  # the same citizen: never again
    assert await callbacks.claim("n", NOW, 5, LEASE) == []
    stats = await callbacks.stats()
    assert (stats["reached"], stats["refused"], stats["unreachable"]) == (1, 2, 1)


async def test_admin_cancel_and_retry(store: Store) -> None:
    callbacks = CallbackStore(store.engine, store.bus)
    cid = await callbacks.enqueue(await _handled_order(store), "13811223344", NOW)
    assert cid is not None
    assert await callbacks.cancel(cid, NOW)
    assert await callbacks.claim("n", NOW, 5, LEASE) == []
    assert await callbacks.retry(cid, NOW)
    assert len(await callbacks.claim("n", NOW, 5, LEASE)) == 1


async def test_do_not_call_asked_at_intake_is_never_queued(store: Store) -> None:
    """Declined at intake (如不需要回访请按6): the order is handled like any other, but no
    callback is queued or claimed for it, and the console sees it refused."""
    callbacks = CallbackStore(store.engine, store.bus)
    declined = await _handled_order(store, phone="13700000000")
    await callbacks.decline(declined, "13700000000", NOW)
    other = await _handled_order(store)
    assert await callbacks.enqueue_handled(NOW) == 1
    [job] = await callbacks.claim("n", NOW, 5, LEASE)
    assert job.draft_id == other
    row = await callbacks.for_draft(declined)
    assert row is not None and (row["status"], row["attempts"]) == ("refused", 0)
    # A later order from the same number is not called either.
    later = await _handled_order(store, phone="13700000000")
    assert await callbacks.enqueue_handled(NOW) == 1
    assert await callbacks.claim("n", NOW, 5, LEASE) == []
    row = await callbacks.for_draft(later)
    assert row is not None and row["status"] == "refused"
    assert (await callbacks.stats())["refused"] == 2
