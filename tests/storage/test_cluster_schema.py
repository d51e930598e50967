"""#18 item 1: node identity on every call, one shared PostgreSQL, migrations run once by
``voice-intake db upgrade``, and a node refusing an older schema. SQLite stays the default
(and keeps migrating itself at start-up)."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from config import Settings
from config.settings import ClusterSettings
from storage import Store, create_engine, upgrade
from storage.migrate import SchemaOutdated, require_current
from tests.storage.pgcluster import create_database
from voice_gateway.cli import main
from voice_gateway.services import open_services


async def test_every_call_stores_its_node(store: Store) -> None:
    a = Store(store.engine, node_id="node-a")
    b = Store(store.engine, node_id="node-b")
    on_a = await a.create_call("sip", None, None, "fake:none")
    on_b = await b.create_call("sip", None, None, "fake:none")
    got_a, got_b = await a.get_call(on_a), await a.get_call(on_b)
    assert got_a is not None and got_a.node_id == "node-a"
    assert got_b is not None and got_b.node_id == "node-b"


async def test_a_node_recovers_only_its_own_calls(store: Store) -> None:
    a = Store(store.engine, node_id="node-a")
    b = Store(store.engine, node_id="node-b")
    mine = await a.create_call("sip", None, None, "fake:none")
    await b.create_call("sip", None, None, "fake:none")
    legacy = await Store(store.engine).create_call("sip", None, None, "fake:none")  # no node
    assert {c.id for c in await a.unfinished_calls("node-a")} == {mine, legacy}
    assert len(await a.unfinished_calls()) == 3


def test_node_id_defaults_to_the_host_name(settings: Settings) -> None:
    import socket

    assert settings.node_id == socket.gethostname()
    named = dataclasses.replace(settings, cluster=ClusterSettings(node_id="gw-2"))
    assert named.node_id == "gw-2"


@pytest.fixture
async def pg_url(postgres_server: str) -> str:
    import uuid

    return await create_database(postgres_server, "c_" + uuid.uuid4().hex[:12])


async def test_a_node_refuses_an_older_schema(pg_url: str, settings: Settings) -> None:
    engine = create_engine(pg_url)
    try:
        await upgrade(engine, "0004")
        with pytest.raises(SchemaOutdated, match="voice-intake db upgrade"):
            await require_current(engine)
        shared = dataclasses.replace(settings, database_url=pg_url)
        with pytest.raises(SchemaOutdated, match="0004"):
            async with open_services(shared, with_asr=False):
                pass
        async with engine.connect() as conn:  # start-up did not migrate it
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar() == "0004"
        await upgrade(engine)
        await require_current(engine)
        async with open_services(shared, with_asr=False) as services:
            assert services.store.node_id == settings.node_id
    finally:
        await engine.dispose()


async def test_cli_refuses_to_serve_on_an_older_schema(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(pg_url)
    await upgrade(engine, "0003")
    await engine.dispose()
    monkeypatch.setenv("VOICE_INTAKE_DATABASE_URL", pg_url)
    monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_INTAKE_SIP_ENABLED", "false")
    monkeypatch.setenv("VOICE_INTAKE_HTTP_PORT", "0")
    run = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "voice_gateway.cli", "serve"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "run `voice-intake db upgrade`" in run.stderr


async def test_db_upgrade_runs_the_migrations_once(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICE_INTAKE_DATABASE_URL", pg_url)
    monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(tmp_path / "data"))
    # Two nodes upgrading at once: the advisory lock makes the second find it done.
    statuses = await asyncio.gather(asyncio.to_thread(main, ["db", "upgrade"]),
                                    asyncio.to_thread(main, ["db", "upgrade"]))
    assert list(statuses) == [0, 0]
    engine = create_engine(pg_url)
    try:
        await require_current(engine)
        async with engine.connect() as conn:
            triggers = (await conn.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'events_notify'"))).scalar()
        assert triggers == 1
    finally:
        await engine.dispose()
