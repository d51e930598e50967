"""#18 item 5: a node that does not come back. Another node drafts its unfinished calls
from its recordings (``voice-intake recover --node ID --data-dir PATH``), once it has
stopped reporting; a node that still reports is left to recover its own."""

from __future__ import annotations

import dataclasses
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from config.settings import ClusterSettings
from storage import Event, Store, StoredUtterance, create_engine
from storage.nodes import Nodes
from voice_gateway.calls.takeover import NodeAlive, take_over
from voice_gateway.services import open_services


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(16000 * seconds))


async def test_a_dead_nodes_calls_are_drafted_by_a_survivor(
    shared_db: str, settings: Settings, tmp_path: Path
) -> None:
    engine = create_engine(shared_db)
    try:
        dead = Store(engine, node_id="gw-dead")
        # It was taking a call when it died; its disk is now readable at tmp/dead-copy.
        call_id = await dead.create_call(
            "sip", "13811223344", f"/srv/gw-dead/data/recordings/{'x' * 32}.wav", "fake:none")
        await dead.record_event(Event("answered", call_id))
        await dead.add_utterance(call_id, StoredUtterance(
            0, 0.2, 1.8, "朝阳区双井街道电梯坏了", 0.9, []))
        write_wav(tmp_path / "dead-copy" / "recordings" / f"{'x' * 32}.wav", 3.0)
        nodes = Nodes(engine)
        await nodes.beat("gw-dead", None, "running", 1, datetime.now(UTC) - timedelta(minutes=5))
        await nodes.beat("gw-alive", None, "running", 0)
        await Store(engine, node_id="gw-alive").create_call("sip", None, None, "fake:none")
    finally:
        await engine.dispose()

    survivor = dataclasses.replace(settings, database_url=shared_db,
                                   cluster=ClusterSettings(node_id="gw-live"))
    async with open_services(survivor, spec=EngineSpec("fake"), workers=1) as services:
        with pytest.raises(NodeAlive, match="gw-alive"):
            await take_over(services, "gw-alive", None)
        result = await take_over(services, "gw-dead", tmp_path / "dead-copy")
        assert result.taken == [call_id] and result.drafted == [call_id]
        assert result.recordings_missing == 0
        call = await services.store.get_call(call_id)
        assert call is not None and call.node_id == "gw-live" and call.status == "drafted"
        assert call.recording_path == str(tmp_path / "dead-copy" / "recordings" /
                                          f"{'x' * 32}.wav")
        (draft,) = await services.store.list_drafts()
        assert draft["call_id"] == call_id
        # Taken once: a second survivor finds nothing left.
        again = await take_over(services, "gw-dead", tmp_path / "dead-copy")
        assert again.taken == []
