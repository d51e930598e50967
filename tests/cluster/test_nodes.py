"""#18 items 2, 3, 4 and 5 with two whole nodes on one real PostgreSQL: an agent on node 1
sees node 2's drafts live, plays node 2's recordings, and sees both nodes on the dashboard;
a node drains."""

from __future__ import annotations

import asyncio
import json
import wave
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.nodes import Nodes
from tests.cluster.conftest import SECRET, NodeClient, login
from voice_gateway.app import SERVICES
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.cluster import CLUSTER
from voice_gateway.services import Services

D01 = "朝阳区双井街道九龙花园三号楼电梯又坏了我姓黄电话一三八一一二二三三四四"


def services_of(node: NodeClient) -> Services:
    services: Services = node.client.server.app[SERVICES]
    return services


async def drafted_call(node: NodeClient, recording: bool = False) -> dict[str, Any]:
    services = services_of(node)
    path = None
    if recording:
        path = services.settings.recordings_dir / "call-on-node.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes(range(256)) * 64)
    call_id = await services.store.create_call("sip", "13811223344", str(path) if path else None,
                                               "fake:none")
    await services.store.end_call(call_id, "remote-bye", 2.0)
    return await draft_and_store(services, call_id, D01, "13811223344")


async def test_an_agent_on_node_1_sees_a_draft_made_on_node_2(
    two_nodes: tuple[NodeClient, NodeClient],
) -> None:
    one, two = two_nodes
    await login(one.client)
    ws = await one.client.ws_connect("/api/ws")
    try:
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello"
        draft = await drafted_call(two)
        async with asyncio.timeout(15):
            while True:
                msg = json.loads((await ws.receive()).data)
                if msg["type"] == "draft":
                    break
    finally:
        await ws.close()
    assert msg["event"] == "draft_created" and msg["draft"]["id"] == draft["id"]
    call = await services_of(one).store.get_call(draft["call_id"])
    assert call is not None and call.node_id == "node-2"


async def test_a_recording_made_on_node_2_plays_from_node_1(
    two_nodes: tuple[NodeClient, NodeClient],
) -> None:
    one, two = two_nodes
    await asyncio.wait_for(_beaten(two), 10)  # node 2's address is in the database
    draft = await drafted_call(two, recording=True)
    held = (services_of(two).settings.recordings_dir / "call-on-node.wav").read_bytes()
    await login(one.client)
    url = f"/api/drafts/{draft['id']}/recording"
    whole = await one.client.get(url)
    assert whole.status == 200, await whole.text()
    assert await whole.read() == held
    part = await one.client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status == 206
    assert await part.read() == held[:100]
    # Audited on the node the agent is on, as a local recording is (#17).
    from console import CONSOLE

    seen = await one.client.server.app[CONSOLE].access.log.entries(draft_id=draft["id"])
    assert [(e.username, e.action) for e in seen] == [("alice", "recording_view")]
    # The internal route wants the cluster secret.
    internal = f"/internal/recordings/{draft['call_id']}"
    assert (await two.client.get(internal)).status == 401
    ok = await two.client.get(internal, headers={"Authorization": f"Bearer {SECRET}"})
    assert ok.status == 200


async def _beaten(node: NodeClient) -> None:
    nodes = node.client.server.app[CLUSTER].nodes
    while not any(n["node"] == node.name  # noqa: ASYNC110
                  for n in await nodes.overview(30.0)):
        await asyncio.sleep(0.1)


async def test_both_nodes_report_and_a_drained_node_says_so(
    two_nodes: tuple[NodeClient, NodeClient],
) -> None:
    one, two = two_nodes
    await asyncio.wait_for(asyncio.gather(_beaten(one), _beaten(two)), 10)
    await drafted_call(two)
    nodes = one.client.server.app[CLUSTER].nodes
    overview = {n["node"]: n for n in await nodes.overview(30.0)}
    assert overview["node-2"]["calls"] == 1 and overview["node-1"]["calls"] == 0
    assert not overview["node-2"]["stopped_reporting"]
    # The admin's dashboard on node 1 shows both nodes with their calls.
    await login(one.client, "root")
    dash = await (await one.client.get("/api/dashboard")).json()
    assert {n["node"]: n["calls"] for n in dash["nodes"]} == {"node-1": 0, "node-2": 1}
    assert (await two.client.post("/internal/drain")).status == 401
    resp = await two.client.post("/internal/drain",
                                 headers={"Authorization": f"Bearer {SECRET}"})
    assert resp.status == 202
    ready = await two.client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["status"] == "draining"
    await asyncio.wait_for(two.client.server.app[CLUSTER].drained.wait(), 10)
    async with asyncio.timeout(10):
        while await _state(nodes, "node-2") != "draining":  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert (await (await one.client.get("/readyz")).json())["status"] != "draining"


async def _state(nodes: Nodes, name: str) -> str:
    return str({n["node"]: n for n in await nodes.overview(30.0)}[name]["state"])


async def test_the_dashboard_shows_a_node_that_stopped_reporting(
    two_nodes: tuple[NodeClient, NodeClient],
) -> None:
    one, _two = two_nodes
    nodes = one.client.server.app[CLUSTER].nodes
    dead_after = one.settings.cluster.dead_after_s
    long_ago = datetime.now(UTC) - timedelta(seconds=dead_after + 60)
    # node-3 crashed (its last heartbeat is old); node-4 stopped cleanly as long ago.
    await nodes.beat("node-3", "http://127.0.0.1:9", "running", 2, now=long_ago)
    await nodes.beat("node-4", "http://127.0.0.1:9", "stopped", 0, now=long_ago)
    await asyncio.wait_for(_beaten(one), 10)
    await login(one.client, "root")
    dash = await (await one.client.get("/api/dashboard")).json()
    shown = {n["node"]: n for n in dash["nodes"]}
    assert shown["node-3"]["stopped_reporting"] and shown["node-3"]["silent_s"] > dead_after
    assert shown["node-3"]["active_calls"] == 2  # what it had when it went silent
    assert not shown["node-4"]["stopped_reporting"] and shown["node-4"]["state"] == "stopped"
    assert not shown["node-1"]["stopped_reporting"]
