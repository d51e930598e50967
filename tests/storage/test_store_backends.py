"""The store and the console's repositories on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select

from storage import (
    AccountError,
    Accounts,
    DraftWorkflow,
    Event,
    StorageStalled,
    Store,
    StoredUtterance,
    upgrade,
)
from storage.models import Call, EventRow
from storage.workflow import DraftNotFound, WorkflowConflict, WorkflowInvalid

FIELDS = {
    "name": None, "surname": "黄", "phone": "13811223344", "district": "朝阳区",
    "street": "双井街道", "address": "九龙花园三号楼", "category": "住房管理",
    "subcategory": "电梯", "appeal_type": "投诉", "urgent": False, "summary": "电梯坏了",
    "dispatch_to": "朝阳区住房和城乡建设委员会", "due_at": None,
    "confidence": {"phone": 0.4, "district": 0.95},
}


async def _drafted_call(store: Store, fields: dict[str, object] | None = None) -> dict[str, object]:
    call_id = await store.create_call("file", "13811223344", None, "fake:none")
    await store.add_utterance(call_id, StoredUtterance(0, 0.5, 2.0, "电梯坏了", 0.9,
                                                       [["电梯坏了", 0.5, 2.0, 0.9]]))
    await store.end_call(call_id, "hangup", 3.0)
    return await store.save_draft(call_id, "电梯坏了", fields or FIELDS, {"phone": [0, 4]},
                                  [], False)


async def test_schema_at_head_and_idempotent(store: Store) -> None:
    await upgrade(store.engine)
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("drafts")})
    assert {"calls", "utterances", "drafts", "events", "users", "login_sessions",
            "audit_log"} <= tables
    assert {"claimed_by", "dispatched_at", "responded_at", "resolved_at",
            "satisfaction"} <= columns


async def test_migration_0002_downgrades_and_upgrades_again(store: Store) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    def _down(connection: object) -> None:
        cfg = alembic_config(store.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0001")

    await _drafted_call(store)
    async with store.engine.begin() as conn:
        await conn.run_sync(_down)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert "users" not in tables and "drafts" in tables
    await upgrade(store.engine)
    assert len(await store.list_drafts()) == 1  # 0001 data survived the round trip


async def test_existing_store_methods(store: Store) -> None:
    async with store.bus.subscribe() as q:
        first = await _drafted_call(store)
        kinds = [q.get_nowait().kind for _ in range(q.qsize())]
    assert kinds == ["call_started", "utterance", "call_ended", "draft_created"]
    drafts = await store.list_drafts()
    assert [d["id"] for d in drafts] == [first["id"]]
    assert drafts[0]["created_at"].endswith("+00:00") and drafts[0]["status"] == "new"
    since = datetime.now(UTC) - timedelta(days=1)
    assert [r.id for r in await store.recent_drafts_like("13811223344", None, None, since)] \
        == [first["id"]]
    await store.record_event(Event("dtmf", None, {"digit": "1"}))


async def test_accounts_and_sessions(store: Store) -> None:
    accounts = Accounts(store.engine)
    alice = await accounts.add_user("alice", "correct horse", "agent")
    with pytest.raises(AccountError):
        await accounts.add_user("alice", "another password", "agent")
    with pytest.raises(AccountError):
        await accounts.add_user("bob", "short", "agent")
    with pytest.raises(AccountError):
        await accounts.add_user("bob", "long enough", "root")
    assert await accounts.authenticate("alice", "wrong password") is None
    assert await accounts.authenticate("nobody", "correct horse") is None
    assert await accounts.authenticate("alice", "correct horse") == alice
    token, active = await accounts.open_session(alice, timedelta(hours=1))
    found = await accounts.session(token)
    assert found is not None and found.account == alice
    assert found.csrf_token == active.csrf_token
    assert await accounts.session(token + "x") is None
    expired, _ = await accounts.open_session(alice, timedelta(seconds=-1))
    assert await accounts.session(expired) is None
    await accounts.close_session(token)
    assert await accounts.session(token) is None


async def test_claim_locks_and_every_change_is_audited(store: Store) -> None:
    flow = DraftWorkflow(store.engine, store.bus)
    draft = await _drafted_call(store)
    did = str(draft["id"])
    with pytest.raises(WorkflowConflict):
        await flow.edit(did, "alice", {"phone": "13811223345"})  # not claimed
    await flow.claim(did, "alice")
    await flow.claim(did, "alice")  # renewing one's own claim is fine
    with pytest.raises(WorkflowConflict, match="alice"):
        await flow.claim(did, "bob")
    with pytest.raises(WorkflowConflict):
        await flow.edit(did, "bob", {"phone": "1"})
    edited = await flow.edit(did, "alice", {"phone": "13811223345", "district": "朝阳区"})
    assert edited["phone"] == "13811223345" and edited["confidence"]["phone"] == 1.0
    assert edited["confidence"]["district"] == 0.95  # unchanged field keeps its confidence
    dispatched = await flow.dispatch(did, "alice", "朝阳区双井街道办事处")
    assert dispatched["status"] == "dispatched"
    assert dispatched["dispatch_to"] == "朝阳区双井街道办事处"
    with pytest.raises(WorkflowConflict):
        await flow.claim(did, "bob")
    detail = await flow.detail(did)
    assert [(a.username, a.action) for a in detail.audit] == [("alice", "edit"),
                                                               ("alice", "dispatch")]
    assert detail.audit[0].before == {"phone": "13811223344"}
    assert detail.audit[0].after == {"phone": "13811223345"}
    assert detail.workflow["dispatched_to"] == "朝阳区双井街道办事处"
    assert detail.workflow["claimed_by"] is None
    assert [u["text"] for u in detail.utterances] == ["电梯坏了"]
    listed = await store.list_drafts()
    assert listed[0]["phone"] == "13811223345" and listed[0]["status"] == "dispatched"
    with pytest.raises(DraftNotFound):
        await flow.claim("missing", "alice")


async def test_expired_claim_can_be_taken_over(store: Store) -> None:
    flow = DraftWorkflow(store.engine, store.bus, claim_ttl=timedelta(seconds=-1))
    draft = await _drafted_call(store)
    await flow.claim(str(draft["id"]), "alice")
    taken = await flow.claim(str(draft["id"]), "bob")
    assert taken["claimed_by"] is None  # a negative TTL: every claim is already stale


async def test_merge_reject_follow_up_and_queue_order(store: Store) -> None:
    flow = DraftWorkflow(store.engine, store.bus)
    first = str((await _drafted_call(store))["id"])
    repeat = str((await _drafted_call(store))["id"])
    prank = str((await _drafted_call(store, {**FIELDS, "category": "其他"}))["id"])
    urgent = str((await _drafted_call(store, {**FIELDS, "urgent": True}))["id"])
    queue = [d["id"] for d, _w in await flow.queue()]
    assert queue == [urgent, first, repeat, prank]
    assert [d["id"] for d, _w in await flow.queue(category="其他")] == [prank]
    assert await flow.queue(district="海淀区") == []

    for did in (first, repeat, prank):
        await flow.claim(did, "alice")
    with pytest.raises(WorkflowInvalid):
        await flow.merge(repeat, "alice", repeat)
    merged = await flow.merge(repeat, "alice", first)
    assert merged["status"] == "merged"
    with pytest.raises(WorkflowInvalid):
        await flow.reject(prank, "alice", "because")
    assert (await flow.reject(prank, "alice", "prank"))["status"] == "rejected"
    with pytest.raises(WorkflowConflict):
        await flow.follow_up(first, "alice", responded=True)  # not dispatched yet
    await flow.dispatch(first, "alice", None)
    state = await flow.follow_up(first, "bob", responded=True, resolved=True,
                                 satisfaction="basic")
    assert state["responded_at"] and state["resolved_at"] and state["satisfaction"] == "basic"
    assert state["related"] == [repeat]
    detail = await flow.detail(first)
    assert detail.audit[-1].username == "bob" and detail.audit[-1].action == "follow_up"
    assert [d["id"] for d, _w in await flow.queue()] == [urgent]


async def _events_of(store: Store, call_id: str, kind: str) -> int:
    async with store.engine.connect() as conn:
        return len((await conn.execute(
            select(EventRow.id).where(EventRow.call_id == call_id, EventRow.kind == kind)
        )).all())


async def test_end_call_stores_whether_the_recording_is_complete(store: Store) -> None:
    whole = await store.create_call("sip", None, "/r/a.wav", "fake:none")
    cut = await store.create_call("sip", None, "/r/b.wav", "fake:none")
    assert (await store.get_call(whole)).recording_complete is None  # type: ignore[union-attr]
    await store.end_call(whole, "hangup", 12.5)
    await store.end_call(cut, "hangup", 40.0, recording_complete=False)
    assert (await store.get_call(whole)).recording_complete is True  # type: ignore[union-attr]
    assert (await store.get_call(cut)).recording_complete is False  # type: ignore[union-attr]


async def test_end_call_again_changes_nothing(store: Store) -> None:
    call_id = await store.create_call("sip", None, None, "fake:none")
    assert await store.end_call(call_id, "hangup", 3.0, recording_complete=False) is True
    assert await store.end_call(call_id, "recovered", 1.0) is False  # e.g. after a crash
    call = await store.get_call(call_id)
    assert call is not None and call.status == "ended" and call.end_reason == "hangup"
    assert call.duration_s == 3.0 and call.recording_complete is False
    await store.save_draft(call_id, "", {}, {}, [], False)
    assert await store.end_call(call_id, "recovered", 3.0) is False
    call = await store.get_call(call_id)
    assert call is not None and call.status == "drafted"  # not sent back to recovery
    assert await _events_of(store, call_id, "call_ended") == 1


async def test_migration_0004_round_trip_leaves_old_calls_unknown(store: Store) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    call_id = await store.create_call("sip", None, None, "fake:none")
    await store.end_call(call_id, "hangup", 3.0, recording_complete=False)

    def _down(connection: object) -> None:
        cfg = alembic_config(store.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")

    async with store.engine.begin() as conn:
        await conn.run_sync(_down)
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("calls")})
    assert "recording_complete" not in columns
    await upgrade(store.engine)
    call = await store.get_call(call_id)
    assert call is not None and call.end_reason == "hangup"
    assert call.recording_complete is None  # recorded before 0004: unknown


@contextlib.asynccontextmanager
async def _write_lock_held(store: Store) -> AsyncIterator[None]:
    """Another client holds the lock the store's INSERT into calls needs."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # the database's one write lock
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    import asyncpg  # type: ignore[import-untyped]

    pg = await asyncpg.connect(url.set(drivername="postgresql")
                               .render_as_string(hide_password=False))
    transaction = pg.transaction()
    await transaction.start()
    await pg.execute("LOCK TABLE calls, users IN EXCLUSIVE MODE")  # readers go on
    try:
        yield
    finally:
        await transaction.rollback()
        await pg.close()


async def test_a_stalled_call_insert_gives_up_at_its_deadline_and_leaves_nothing(
    store: Store,
) -> None:
    assert store.write_stalled_for(time.monotonic()) == 0.0
    async with _write_lock_held(store):
        started = time.monotonic()
        with pytest.raises(StorageStalled):
            await store.create_call("sip", "13800000000", None, "fake:none", deadline_s=0.5)
        assert time.monotonic() - started < 1.5  # not the 30 s of SQLite's busy timeout
        assert isinstance(StorageStalled(), TimeoutError)
        # The INSERT given up on still waits for the lock: the database is stalled.
        assert store.write_stalled_for(time.monotonic()) >= 0.4
        with pytest.raises(StorageStalled):  # the next caller waits no longer
            await store.create_call("sip", "13900000000", None, "fake:none", deadline_s=0.2)
        assert await store.get_call("missing") is None  # reads go on
    async with asyncio.timeout(5):  # the lock is released: the abandoned writes end
        await store.settle()
    assert store.write_stalled_for(time.monotonic()) == 0.0
    call_id = await store.create_call("sip", "13700000000", None, "fake:none", deadline_s=2)
    async with store.engine.connect() as conn:
        calls = (await conn.execute(select(Call.id))).scalars().all()
        started_events = (await conn.execute(
            select(EventRow.call_id).where(EventRow.kind == "call_started"))).scalars().all()
    assert calls == [call_id] and started_events == [call_id]


async def test_the_store_sees_every_store_s_stalled_writes(store: Store) -> None:
    """A console write waiting for the lock stalls the database for calls too."""
    accounts = Accounts(store.engine)
    async with _write_lock_held(store):
        task = asyncio.create_task(accounts.add_user("alice", "correct horse", "agent"))
        for _ in range(100):  # the password is hashed first
            if store.write_stalled_for(time.monotonic()) >= 0.3:
                break
            await asyncio.sleep(0.05)
        assert store.write_stalled_for(time.monotonic()) >= 0.3
    async with asyncio.timeout(5):
        await task
    assert store.write_stalled_for(time.monotonic()) == 0.0


async def test_a_call_insert_committed_as_its_caller_gave_up_is_taken_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline passes during the COMMIT: the caller has been told the call was not
    stored, so the row must not stay (recovery would take it for a call cut off)."""
    if store.engine.dialect.name == "sqlite":
        import aiosqlite

        owner: Any = aiosqlite.Connection
    else:
        import asyncpg.transaction  # type: ignore[import-untyped]

        owner = asyncpg.transaction.Transaction
    real_commit = owner.commit
    commits = 0

    async def slow_commit(self: object) -> None:
        nonlocal commits
        commits += 1
        if commits == 1:  # the call's; not the one that takes it back
            await asyncio.sleep(2.5)
        await real_commit(self)

    monkeypatch.setattr(owner, "commit", slow_commit)
    # The deadline leaves the INSERT time to reach its COMMIT on a loaded machine: a call
    # whose caller gave up before its batch started is rightly never written (in CI at
    # 0.1 s the batch had not reached its COMMIT, and nothing was written or taken back).
    with pytest.raises(StorageStalled):
        await store.create_call("sip", None, None, "fake:none", deadline_s=1.0)
    async with asyncio.timeout(5):
        await store.settle()
    assert commits == 2
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(Call.id))).all() == []
        assert (await conn.execute(select(EventRow.id))).all() == []


async def test_call_events_reads_back_a_call_s_events_of_some_kinds_in_order(
    store: Store,
) -> None:
    call_id = await store.create_call("sip", None, None, "fake:none")
    other = await store.create_call("sip", None, None, "fake:none")
    first = {"keypad_phone": None, "menu_choices": ["1"]}
    last = {"keypad_phone": "13811223344", "menu_choices": ["1", "3"]}
    await store.record_event(Event("intake", call_id, first))
    await store.record_event(Event("dtmf", call_id, {"digit": "3"}))
    await store.record_event(Event("intake", other, {"keypad_phone": "1", "menu_choices": []}))
    await store.record_event(Event("intake", call_id, last))
    intake = await store.call_events(call_id, ("intake",))
    assert [e.payload for e in intake] == [first, last]  # recovery takes the last
    assert all(e.kind == "intake" and e.call_id == call_id for e in intake)
    assert all(e.at.tzinfo is not None for e in intake)  # as recorded, on SQLite too
    kinds = [e.kind for e in await store.call_events(call_id, ("call_started", "dtmf"))]
    assert kinds == ["call_started", "dtmf"]
    assert await store.call_events(call_id, ()) == []
    assert await store.call_events("missing", ("intake",)) == []
