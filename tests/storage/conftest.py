"""Storage tests run against SQLite and a real PostgreSQL (a throwaway cluster per session).

Without PostgreSQL server binaries the PostgreSQL cases are skipped, unless
``VOICE_INTAKE_REQUIRE_POSTGRES=1`` (set by scripts/test), where they fail instead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage import EventBus, Store, create_engine, upgrade
from tests.conftest import required
from tests.storage.pgcluster import create_database, pg_bin_dir, temporary_cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if pg_bin_dir() is None:
        if required("POSTGRES"):
            pytest.fail("PostgreSQL is required (VOICE_INTAKE_REQUIRE_POSTGRES=1) but missing")
        pytest.skip("PostgreSQL server binaries not installed")
    with temporary_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'vi.db'}"
    server: str = request.getfixturevalue("postgres_server")
    return server + "/" + "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on a fresh database of each kind."""
    if database_url.startswith("postgresql"):
        server, name = database_url.rsplit("/", 1)
        await create_database(server, name)
    engine = create_engine(database_url)
    await upgrade(engine)
    try:
        yield Store(engine, EventBus())
    finally:
        await engine.dispose()
