"""#18 items 4 and 7: the shipped dispatcher.cfg (real Kamailio) takes a node out of its
rotation when the node drains (it answers Kamailio's OPTIONS probe with 503) or stops
(the probe times out): every new call then goes straight to the other node, none is first
offered to the one that is out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from config.settings import ClusterSettings
from tests.interop.peers import (
    SCENARIOS,
    Kamailio,
    render_dispatcher,
    require_binary,
    run_sipp_at,
    running_kamailio,
)
from tests.sipp.harness import sip_settings, wait_for_drafts
from voice_gateway.app import SERVICES, SIP, init_app
from voice_gateway.cluster import CLUSTER
from voice_gateway.services import Services, open_services

SECRET = "rotation-secret"
PROBE_S = 1


@contextlib.asynccontextmanager
async def fake_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=EngineSpec("fake"), workers=1) as services:
        yield services


async def taken_out(kamailio: Kamailio, uri: str, within: float) -> bool:
    """Whether Kamailio logged ``uri`` as down (its dispatcher:dst-down event) in time."""
    async with asyncio.timeout(within):
        while not kamailio.lines(f"gateway {uri} down"):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return True


@pytest.mark.parametrize("how", ["drained", "stopped"])
async def test_a_node_out_of_rotation_gets_no_new_call(
    aiohttp_client: Any, settings: Settings, tmp_path: Path, monkeypatch: Any, how: str
) -> None:
    require_binary("/usr/sbin/kamailio")
    require_binary("/usr/bin/sipp")
    from voice_gateway.cli import main

    nodes = [dataclasses.replace(
        sip_settings(settings), data_dir=tmp_path / name,
        cluster=ClusterSettings(node_id=name, secret=SECRET)) for name in ("node-1", "node-2")]
    one = await aiohttp_client(init_app(nodes[0], fake_asr))
    two = await aiohttp_client(init_app(nodes[1], fake_asr))
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{n.sip.port}" for n in nodes],
                                PROBE_S=str(PROBE_S))
    first = f"sip:127.0.0.1:{nodes[0].sip.port}"
    async with running_kamailio(shipped.config, tmp_path, shipped.port) as kamailio:
        await asyncio.sleep(PROBE_S * 2)  # both probed and answering 200
        assert not kamailio.lines(f"gateway {first} down")
        if how == "drained":
            monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(nodes[0].data_dir))
            monkeypatch.setenv("VOICE_INTAKE_CLUSTER_SECRET", SECRET)
            url = str(one.make_url("")).rstrip("/")
            assert await asyncio.to_thread(main, ["drain", "--url", url]) == 0
        else:
            await one.close()  # its SIP gateway closes: the probe is not answered
        # The probe (every PROBE_S) finds it: 503 or a timeout of FAILOVER_MS.
        with contextlib.suppress(TimeoutError):
            await taken_out(kamailio, first, within=PROBE_S * 3 + 2 + 5)
        offered_before = len(kamailio.lines(f"INVITE to gateway {first}"))
        run = await run_sipp_at(SCENARIOS / "uac_routed.xml", ("127.0.0.1", kamailio.port),
                                tmp_path, calls=6, concurrency=3, rate=5,
                                inf=[[f"139000004{n:02d}"] for n in range(6)],
                                values={"HOLD_MS": "300"})
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(two.server.app[SERVICES], 6, within=60)
        offered_after = len(kamailio.lines(f"INVITE to gateway {first}"))
        down = kamailio.lines(f"gateway {first} down")
    # Every call was answered by node 2, and Kamailio offered none of them to node 1
    # (before: half went to node 1 first, were refused 503 and moved on).
    assert len(drafts) == 6
    assert offered_after == offered_before
    assert down  # and said so in its log


async def test_a_drained_node_behind_kamailio_finishes_its_calls_in_progress(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    # Item 4 through the real Kamailio: out of the rotation, the draining node still gets
    # the in-dialog requests of its calls (the route set), so they end as the caller ends
    # them; then the drain is done.
    require_binary("/usr/sbin/kamailio")
    require_binary("/usr/bin/sipp")
    nodes = [dataclasses.replace(
        sip_settings(settings), data_dir=tmp_path / name,
        cluster=ClusterSettings(node_id=name, secret=SECRET)) for name in ("node-1", "node-2")]
    one = await aiohttp_client(init_app(nodes[0], fake_asr))
    two = await aiohttp_client(init_app(nodes[1], fake_asr))
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{n.sip.port}" for n in nodes],
                                PROBE_S=str(PROBE_S))
    first = f"sip:127.0.0.1:{nodes[0].sip.port}"
    async with running_kamailio(shipped.config, tmp_path, shipped.port) as kamailio:
        target = ("127.0.0.1", kamailio.port)
        in_progress = asyncio.create_task(run_sipp_at(
            SCENARIOS / "uac_routed.xml", target, tmp_path, calls=2, concurrency=2,
            inf=[["13900000460"], ["13900000461"]], values={"HOLD_MS": "8000"}))
        async with asyncio.timeout(20):  # round-robin: one call on each node
            while not (one.server.app[SIP].calls and two.server.app[SIP].calls):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        resp = await one.post("/internal/drain", headers={"Authorization": f"Bearer {SECRET}"})
        assert resp.status == 202 and (await resp.json())["active_calls"] == 1
        await taken_out(kamailio, first, within=PROBE_S * 3 + 5)
        offered_before = len(kamailio.lines(f"INVITE to gateway {first}"))
        run = await run_sipp_at(SCENARIOS / "uac_routed.xml", target, tmp_path, calls=4,
                                concurrency=2, rate=5,
                                inf=[[f"139000004{n:02d}"] for n in range(70, 74)],
                                values={"HOLD_MS": "300"})
        assert run.returncode == 0, run.errors or run.stderr
        assert not one.server.app[CLUSTER].drained.is_set()  # its call is still going on
        ended = await in_progress
        assert ended.returncode == 0, ended.errors or ended.stderr
        await asyncio.wait_for(one.server.app[CLUSTER].drained.wait(), 20)
        on_one = await wait_for_drafts(one.server.app[SERVICES], 1, within=60)
        on_two = await wait_for_drafts(two.server.app[SERVICES], 5, within=60)
        assert len(kamailio.lines(f"INVITE to gateway {first}")) == offered_before
    assert [d["phone"] for d in on_one] in (["13900000460"], ["13900000461"])
    call = await one.server.app[SERVICES].store.get_call(on_one[0]["call_id"])
    assert call is not None and call.end_reason == "remote-bye"
    assert len(on_two) == 5  # its own call in progress and the four new ones
