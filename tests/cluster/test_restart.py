"""#18 item 5 with whole nodes on one PostgreSQL: a node that was SIGKILLed recovers its own
unfinished calls when it starts again, and a node starting beside it leaves them alone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asr.engines.base import EngineSpec
from config import Settings
from storage import Event, Store, StoredUtterance, create_engine
from tests.cluster.conftest import node_settings
from tests.sipp.harness import free_port
from voice_gateway.app import RECOVERY, SERVICES, init_app
from voice_gateway.services import Services, open_services


@contextlib.asynccontextmanager
async def fake_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=EngineSpec("fake"), workers=1) as services:
        yield services


async def killed_call(db: str, node: str, recording: Path) -> str:
    """What a SIGKILL leaves: an answered call, still active, an utterance and audio."""
    recording.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(recording), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 2)
    engine = create_engine(db)
    try:
        store = Store(engine, node_id=node)
        call_id = await store.create_call("sip", "13811223344", str(recording), "fake:none")
        await store.record_event(Event("answered", call_id))
        await store.add_utterance(call_id, StoredUtterance(0, 0.1, 1.5, "电梯坏了", 0.9, []))
        return call_id
    finally:
        await engine.dispose()


async def test_a_killed_node_recovers_its_own_calls_and_only_it(
    aiohttp_client: Any, shared_db: str, tmp_path: Path
) -> None:
    one = node_settings(tmp_path, "node-1", free_port(socket.SOCK_STREAM), shared_db)
    two = node_settings(tmp_path, "node-2", free_port(socket.SOCK_STREAM), shared_db)
    call_id = await killed_call(shared_db, "node-2", two.recordings_dir / "killed.wav")

    first = await aiohttp_client(init_app(one, fake_asr))
    await asyncio.wait_for(first.server.app[RECOVERY], 60)
    store = first.server.app[SERVICES].store
    call = await store.get_call(call_id)
    assert call is not None and call.status == "active"  # node 1 left node 2's call

    second = await aiohttp_client(init_app(two, fake_asr))  # node 2 comes back
    await asyncio.wait_for(second.server.app[RECOVERY], 60)
    call = await store.get_call(call_id)
    assert call is not None and call.status == "drafted" and call.end_reason == "recovered"
    assert [d["call_id"] for d in await store.list_drafts()] == [call_id]
