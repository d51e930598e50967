"""The HTTP app on loopback: health and readiness."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from asr.engines.base import EngineSpec
from config import Settings
from voice_gateway.app import SERVICES, init_app
from voice_gateway.services import Services, open_services

FAKE = EngineSpec(kind="fake")


@contextlib.asynccontextmanager
async def _fake_services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        yield services


async def test_healthz_and_readyz(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(init_app(settings, _fake_services))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["checks"] == {"database": True, "asr": True, "disk": True}


async def test_readyz_is_503_until_models_load(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(init_app(settings, _fake_services))
    services = client.server.app[SERVICES]
    assert services.pool is not None
    services.pool.ready = False
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"]["asr"] is False


async def test_readyz_is_503_when_database_unreachable(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    client = await aiohttp_client(init_app(settings, _fake_services))
    services = client.server.app[SERVICES]
    healthy = services.store.engine
    services.store.engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    )
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["checks"]["database"] is False
    finally:
        await services.store.engine.dispose()
        services.store.engine = healthy


async def test_readyz_reports_a_disk_that_failed_a_recording(
    aiohttp_client: Any, settings: Settings, monkeypatch: Any
) -> None:
    import time

    from storage.recordings import DiskHealth

    health = DiskHealth()
    monkeypatch.setattr("voice_gateway.app.DISK_HEALTH", health)
    client = await aiohttp_client(init_app(settings, _fake_services))
    health.record_failure("No space left on device", time.monotonic())
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["checks"]["disk"] is False
    assert body["disk_error"] == "No space left on device"


async def test_unfinished_calls_are_recovered_at_start_up_with_no_new_call(
    aiohttp_client: Any, settings: Settings
) -> None:
    """kill -9 left calls active; the next start drafts them by itself (it used to wait
    for a new live call's first decode, minutes or, at night, never)."""
    import asyncio

    from asr.audio import load_audio
    from storage import Event, RecordingWriter
    from tests.conftest import CALLS_DIR

    audio = load_audio(CALLS_DIR / "D03.ulaw.wav")
    async with open_services(settings, with_asr=False) as services:
        ids = []
        for n in range(3):
            path = settings.recordings_dir / f"killed-{n}.wav"
            ids.append(await services.store.create_call("sip", "13900001111", str(path),
                                                        "fake"))
            await services.store.record_event(Event("intake", ids[-1], {
                "keypad_phone": "13622334455", "menu_choices": [], "complete": False}))
            writer = RecordingWriter(path, audio.sample_rate)
            writer.write(audio.pcm)
            writer.sync()
    client = await aiohttp_client(init_app(settings, _fake_services))
    services = client.server.app[SERVICES]
    for _ in range(200):
        drafts = await services.store.list_drafts()
        if len(drafts) == 3:
            break
        await asyncio.sleep(0.05)
    assert sorted(d["call_id"] for d in drafts) == sorted(ids)
    assert {d["phone"] for d in drafts} == {"13622334455"}
    for call_id in ids:
        call = await services.store.get_call(call_id)
        assert call is not None and call.status == "drafted" and call.end_reason == "recovered"


async def test_readyz_reports_a_database_whose_writes_are_stalled(
    aiohttp_client: Any, settings: Settings
) -> None:
    """A write lock held for 40 s used to leave /readyz saying the database was fine."""
    import asyncio
    import sqlite3

    client = await aiohttp_client(init_app(settings, _fake_services))
    services = client.server.app[SERVICES]
    db = sqlite3.connect(settings.data_dir / "voice-intake.db", isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    write = asyncio.ensure_future(services.store.create_call("sip", None, None, "fake"))
    try:
        from voice_gateway import app as app_module

        body: dict[str, Any] = {}
        for _ in range(100):
            resp = await client.get("/readyz")
            body = await resp.json()
            # Not ready at once (a probe finds the write lock held), and once our own
            # write has waited WRITE_STALL_S, by how long.
            if resp.status == 503 and "database_write_stalled_s" in body:
                break
            await asyncio.sleep(app_module.WRITE_STALL_S / 20)
        assert resp.status == 503 and body["checks"]["database"] is False
        assert body["database_write_stalled_s"] >= app_module.WRITE_STALL_S
    finally:
        db.execute("ROLLBACK")
        db.close()
    await write
    resp = await client.get("/readyz")
    assert resp.status == 200
