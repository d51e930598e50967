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
    assert body["checks"] == {"database": True, "asr": True}


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
