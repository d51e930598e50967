"""Issue 17 item 5: recordings deleted and transcripts redacted after retention.days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from console import CONSOLE
from storage import StoredUtterance
from storage.models import Call, DraftRow, EventRow, UtteranceRow
from storage.retention import REDACTED, apply_retention
from tests.console.conftest import login, services_of
from tests.console.test_api_drafts import _wav


async def _call(client: Any, tmp_path: Path, name: str, age_days: int,
                status: str) -> tuple[str, str, Path]:
    rec = tmp_path / f"{name}.wav"
    _wav(rec, 0.5)
    _wav(rec.with_suffix(".out.wav"), 0.5)
    store = services_of(client).store
    call_id = await store.create_call("sip", "13811223344", str(rec), "fake:none")
    await store.add_utterance(call_id, StoredUtterance(0, 0.0, 0.5, "我家住在幸福小区", 0.9, []))
    await store.end_call(call_id, "hangup", 0.5)
    draft = await store.save_draft(call_id, "我家住在幸福小区", {"confidence": {}}, {}, [], False)
    ended = datetime.now(UTC) - timedelta(days=age_days)
    async with store.engine.begin() as conn:
        await conn.execute(update(Call).where(Call.id == call_id).values(ended_at=ended))
        await conn.execute(update(DraftRow).where(DraftRow.id == draft["id"])
                           .values(status=status))
    return call_id, str(draft["id"]), rec


async def test_old_closed_calls_lose_recordings_and_transcripts(app_client: Any,
                                                                tmp_path: Path) -> None:
    old_closed = await _call(app_client, tmp_path, "old", 40, "rejected")
    old_open = await _call(app_client, tmp_path, "open", 40, "new")
    recent = await _call(app_client, tmp_path, "recent", 10, "rejected")
    engine = services_of(app_client).store.engine

    result = await apply_retention(engine, 30, datetime.now(UTC))
    assert result.calls == 1 and result.recordings_deleted == 1
    assert result.transcripts_redacted == 1
    call_id, draft_id, rec = old_closed
    assert not rec.exists() and not rec.with_suffix(".out.wav").exists()
    async with engine.connect() as conn:
        call = (await conn.execute(select(Call).where(Call.id == call_id))).one()
        draft = (await conn.execute(select(DraftRow).where(DraftRow.id == draft_id))).one()
        texts = (await conn.execute(select(UtteranceRow.text)
                                    .where(UtteranceRow.call_id == call_id))).scalars().all()
        payloads = (await conn.execute(select(EventRow.payload).where(
            EventRow.call_id == call_id, EventRow.kind == "utterance"))).scalars().all()
    assert call.recording_path is None
    assert draft.transcript == REDACTED and draft.evidence == {}
    assert texts == [""] and all("text" not in p for p in payloads)
    for _call_id, _draft_id, kept in (old_open, recent):
        assert kept.exists()

    again = await apply_retention(engine, 30, datetime.now(UTC))
    assert again.calls == 0  # nothing left to do
    await login(app_client, "root")
    entries = await (await app_client.get("/api/audit/access")).json()
    runs = [e for e in entries if e["action"] == "retention"]
    assert len(runs) == 1 and runs[0]["username"] == "system"
    assert runs[0]["detail"]["recordings_deleted"] == 1
    assert runs[0]["detail"]["call_ids"] == [call_id]


async def test_retention_runs_at_start_when_configured(aiohttp_client: Any,
                                                       console_settings: Any,
                                                       tmp_path: Path) -> None:
    import dataclasses

    from tests.console.conftest import _no_asr
    from voice_gateway.app import init_app

    settings = dataclasses.replace(console_settings, retention=dataclasses.replace(
        console_settings.retention, days=30))
    client = await aiohttp_client(init_app(settings, _no_asr))
    _call_id, _draft_id, rec = await _call(client, tmp_path, "old", 40, "merged")
    console = client.server.app[CONSOLE]
    assert console.retention is not None
    console.retention.wake()  # what the daily timer does
    for _ in range(100):
        if not rec.exists():
            break
        await asyncio.sleep(0.05)
    assert not rec.exists()
