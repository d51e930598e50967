"""The store on SQLite: migrations, calls, utterances, drafts, events, recordings."""

from __future__ import annotations

import struct
from pathlib import Path

from sqlalchemy import inspect

from asr.audio import parse_wav
from storage import Event, RecordingWriter, Store, StoredUtterance, create_engine, upgrade


async def _store(tmp_path: Path) -> Store:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'vi.db'}")
    await upgrade(engine)
    return Store(engine)


async def test_migration_creates_schema_and_is_idempotent(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    await upgrade(store.engine)  # second run: nothing to do, no error
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"calls", "utterances", "drafts", "events", "alembic_version"} <= tables
    await store.engine.dispose()


async def test_call_lifecycle_and_drafts_newest_first(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    seen: list[str] = []
    async with store.bus.subscribe() as q:
        call_id = await store.create_call("file", "13800000000", "/r.wav", "fake:none")
        await store.add_utterance(call_id, StoredUtterance(0, 0.5, 2.0, "你好", 0.9, []))
        await store.end_call(call_id, "hangup", 3.0)
        first = await store.save_draft(call_id, "你好", {"phone": "13800000000"}, {}, [], False)
        second = await store.save_draft(None, "别的", {"phone": None, "urgent": True}, {}, [], True)
        while not q.empty():
            seen.append(q.get_nowait().kind)
    assert seen == ["call_started", "utterance", "call_ended", "draft_created", "draft_created"]
    drafts = await store.list_drafts()
    assert [d["id"] for d in drafts] == [second["id"], first["id"]]
    assert drafts[1]["call_id"] == call_id and drafts[1]["status"] == "new"
    assert drafts[1]["created_at"].endswith("+00:00")
    call = await store.get_call(call_id)
    assert call is not None and call.status == "drafted" and call.end_reason == "hangup"
    assert [u.text for u in call.utterances] == ["你好"]
    await store.record_event(Event("dtmf", call_id, {"digit": "1"}))
    await store.engine.dispose()


def test_recording_is_valid_while_being_written(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "call.wav"
    rec = RecordingWriter(path, 8000, sync_interval=0.0)
    rec.write(b"\x01\x00" * 8000)
    # Not closed (as after a crash): the header already describes what was written.
    audio = parse_wav(path.read_bytes())
    assert audio.sample_rate == 8000 and audio.duration == 1.0
    rec.write(b"\x02\x00" * 4000)
    rec.close()
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 40)[0] == 24000
    assert parse_wav(data).duration == 1.5
