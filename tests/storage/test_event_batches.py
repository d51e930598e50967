"""Events recorded together are stored together (issue 16: a burst of calls).

Each call writes a few events as it starts (answered, media_started), one transaction each,
one after another at SQLite's write gate: under 50 WebRTC calls set up at 10 a second the
100 events held the gate for 17.6 s in all on a busy loop, the oldest write waited up to
17 s, and /readyz (a write waiting over 3 s) called the database not ready during a burst
it was storing. The events waiting now go in one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from storage import Event, Store
from storage.models import EventRow
from tests.storage.test_call_batches import BURST, _slow_commits


async def test_a_burst_of_events_is_recorded_in_a_few_transactions(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_ids = [await store.create_call("webrtc", None, None, "fake:none")
                for _ in range(BURST)]
    commits = _slow_commits(store, monkeypatch, 0.2)
    async with store.bus.subscribe() as bus:
        await asyncio.gather(*(store.record_event(Event("answered", c, {"n": i}))
                               for i, c in enumerate(call_ids)))
        published = [bus.get_nowait() for _ in range(bus.qsize())]
    assert commits[0] <= 2
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(EventRow.call_id, EventRow.payload)
                                   .where(EventRow.kind == "answered")
                                   .order_by(EventRow.id))).all()
    assert [(r.call_id, r.payload) for r in rows] == [
        (c, {"n": i}) for i, c in enumerate(call_ids)]  # in the order they came
    assert [e.call_id for e in published] == call_ids


async def test_an_event_whose_writer_gave_up_before_its_turn_is_not_recorded(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await store.create_call("webrtc", None, None, "fake:none")
    _slow_commits(store, monkeypatch, 0.3)
    first = asyncio.ensure_future(store.record_event(Event("answered", call_id, {})))
    await asyncio.sleep(0.1)  # the first one's transaction is committing
    second = asyncio.ensure_future(store.record_event(Event("dtmf", call_id, {"digit": "1"})))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await store.record_event(Event("dtmf", call_id, {"digit": "2"}))
    kinds = [e.payload.get("digit", e.kind) for e in await store.call_events(
        call_id, ("answered", "dtmf"))]
    assert kinds == ["answered", "2"]
