"""Cluster fixtures: two whole nodes (the app, console included) on one real PostgreSQL.

Each node has its own data directory, node id and HTTP port; they share the database and
the cluster secret, and reach each other at their loopback URLs.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from storage import create_engine, upgrade
from tests.conftest import MODEL_DIR
from tests.sipp.harness import SHARED_PROMPTS, free_port
from tests.storage.conftest import postgres_server  # noqa: F401  (the session's cluster)
from tests.storage.pgcluster import create_database
from voice_gateway.services import Services, open_services

SECRET = "cluster-secret-for-tests"
PASSWORD = "s3cret-pass-12345"


@dataclass
class NodeClient:
    name: str
    settings: Settings
    client: Any  # aiohttp's TestClient

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))


@pytest.fixture
async def shared_db(postgres_server: str) -> str:  # noqa: F811
    url = await create_database(postgres_server, "cl_" + uuid.uuid4().hex[:12])
    engine = create_engine(url)
    try:
        await upgrade(engine)  # `voice-intake db upgrade`, once
    finally:
        await engine.dispose()
    return url


def node_settings(tmp_path: Path, name: str, port: int, db: str, **extra: str) -> Settings:
    return load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(tmp_path / name),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR),
        "VOICE_INTAKE_DATABASE_URL": db,
        "VOICE_INTAKE_SIP_ENABLED": "false",
        "VOICE_INTAKE_IVR_PROMPT_DIR": str(SHARED_PROMPTS),  # rendered once per session
        "VOICE_INTAKE_CLUSTER_NODE_ID": name,
        "VOICE_INTAKE_CLUSTER_SECRET": SECRET,
        "VOICE_INTAKE_CLUSTER_INTERNAL_URL": f"http://127.0.0.1:{port}",
        "VOICE_INTAKE_CLUSTER_HEARTBEAT_INTERVAL_S": "0.3",
        **extra,
    })


@contextlib.asynccontextmanager
async def no_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, with_asr=False) as services:
        yield services


@pytest.fixture
async def two_nodes(aiohttp_client: Any, shared_db: str,
                    tmp_path: Path) -> tuple[NodeClient, NodeClient]:
    from voice_gateway.app import init_app

    nodes = []
    for name in ("node-1", "node-2"):
        port = free_port(__import__("socket").SOCK_STREAM)
        settings = node_settings(tmp_path, name, port, shared_db)
        client = await aiohttp_client(init_app(settings, no_asr), server_kwargs={"port": port})
        nodes.append(NodeClient(name, settings, client))
    from console import CONSOLE

    accounts = nodes[0].client.server.app[CONSOLE].accounts
    await accounts.add_user("alice", PASSWORD, "agent")
    await accounts.add_user("root", PASSWORD, "admin")
    return nodes[0], nodes[1]


async def login(client: Any, username: str = "alice") -> str:
    resp = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["csrf_token"]
    return token
