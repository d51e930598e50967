"""#18 item 9: the cluster on loopback with the real Kamailio (the shipped dispatcher.cfg),
the real PostgreSQL and two gateway nodes: calls spread over both nodes, each call stored
with the node that took it, and node 1's bus hears every draft node 2 made."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from asr.engines.base import EngineSpec
from config import Settings
from config.settings import ClusterSettings
from storage.events import Event
from storage.pgevents import EventListener
from tests.interop.peers import (
    SCENARIOS,
    render_dispatcher,
    require_binary,
    run_sipp_at,
    running_kamailio,
)
from tests.sipp.harness import running_gateway, sip_settings, wait_for_drafts


async def test_calls_spread_over_two_nodes_sharing_postgresql(
    settings: Settings, shared_db: str, tmp_path: Path
) -> None:
    require_binary("/usr/sbin/kamailio")
    require_binary("/usr/bin/sipp")
    nodes = [dataclasses.replace(
        sip_settings(settings), data_dir=tmp_path / name, database_url=shared_db,
        cluster=ClusterSettings(node_id=name)) for name in ("node-1", "node-2")]
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{n.sip.port}" for n in nodes])
    fake = EngineSpec("fake")
    async with contextlib.AsyncExitStack() as stack:
        one, _ = await stack.enter_async_context(running_gateway(nodes[0], spec=fake, workers=1))
        two, _ = await stack.enter_async_context(running_gateway(nodes[1], spec=fake, workers=1))
        listener = EventListener(one.store.engine, one.bus, "node-1")
        task = asyncio.create_task(listener.run())
        stack.callback(task.cancel)
        await asyncio.wait_for(listener.connected.wait(), 10)
        heard: list[Event] = []
        on_one = await stack.enter_async_context(one.bus.subscribe())
        kamailio = await stack.enter_async_context(
            running_kamailio(shipped.config, tmp_path, shipped.port))
        run = await run_sipp_at(SCENARIOS / "uac_routed.xml", ("127.0.0.1", kamailio.port),
                                tmp_path, calls=10, concurrency=10,
                                inf=[[f"139000002{n:02d}"] for n in range(10)],
                                values={"HOLD_MS": "500"})
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(one, 10, within=60)
        await asyncio.sleep(1)
        while not on_one.empty():
            heard.append(on_one.get_nowait())
    assert len(drafts) == 10
    calls = [await one.store.get_call(d["call_id"]) for d in drafts]
    per_node = {n: sum(1 for c in calls if c is not None and c.node_id == n)
                for n in ("node-1", "node-2")}
    assert per_node["node-1"] > 0 and per_node["node-2"] > 0 and sum(per_node.values()) == 10
    from_two = {c.id for c in calls if c is not None and c.node_id == "node-2"}
    drafted_heard = {e.call_id for e in heard if e.kind == "draft_created"}
    assert from_two <= drafted_heard
    assert two.store.node_id == "node-2"
