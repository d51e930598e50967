"""#18 item 4: a node drains. With a call in progress (sipp, the real SIP stack), a drain
makes the node answer OPTIONS (Kamailio's probe) and new INVITEs with 503, lets the call
go on to the caller's BYE, and is done once it ended; the call is drafted as usual."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asr.engines.base import EngineSpec
from config import Settings
from config.settings import ClusterSettings
from tests.interop.peers import SCENARIOS, require_binary, run_sipp_at
from tests.sipp.harness import run_sipp, sip_settings, wait_for_drafts
from voice_gateway.app import SERVICES, SIP, init_app
from voice_gateway.cluster import CLUSTER
from voice_gateway.services import Services, open_services

SECRET = "drain-secret"


@contextlib.asynccontextmanager
async def fake_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=EngineSpec("fake"), workers=1) as services:
        yield services


def options_status(port: int) -> int:
    """Send one OPTIONS over UDP, as Kamailio's dispatcher probes; the answer's status."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
        s.sendto((
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe{local}\r\n"
            f"From: <sip:probe@127.0.0.1:{local}>;tag=p{local}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: probe-{local}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
            ("127.0.0.1", port))
        return int(s.recv(4096).split(b" ", 2)[1])


async def test_a_drain_refuses_new_calls_and_finishes_the_one_in_progress(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    require_binary("/usr/bin/sipp")
    settings = dataclasses.replace(sip_settings(settings),
                                   cluster=ClusterSettings(node_id="gw-1", secret=SECRET))
    client = await aiohttp_client(init_app(settings, fake_asr))
    app = client.server.app
    port = settings.sip.port
    assert await asyncio.to_thread(options_status, port) == 200
    in_progress = asyncio.create_task(run_sipp_at(
        SCENARIOS / "uac_routed.xml", ("127.0.0.1", port), tmp_path,
        inf=[["13900000031"]], values={"HOLD_MS": "4000"}))
    async with asyncio.timeout(20):
        while not app[SIP].calls:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    resp = await client.post("/internal/drain", headers={"Authorization": f"Bearer {SECRET}"})
    assert resp.status == 202
    assert (await resp.json())["active_calls"] == 1
    assert await asyncio.to_thread(options_status, port) == 503
    refused = await run_sipp("uac_refused.xml", port, tmp_path, values={"STATUS": "503"})
    assert refused.returncode == 0, refused.errors or refused.stderr
    assert (await (await client.get("/readyz")).json())["status"] == "draining"
    whip = await client.post("/whip", data=b"v=0\r\n",
                             headers={"Content-Type": "application/sdp"})
    assert whip.status == 503  # browsers' calls too
    assert not app[CLUSTER].drained.is_set()  # the call is still going on
    run = await in_progress
    assert run.returncode == 0, run.errors or run.stderr
    await asyncio.wait_for(app[CLUSTER].drained.wait(), 20)
    services = app[SERVICES]
    (draft,) = await wait_for_drafts(services, 1, within=60)
    call = await services.store.get_call(draft["call_id"])
    assert call is not None and call.end_reason == "remote-bye" and call.node_id == "gw-1"


async def test_voice_intake_drain_drains_a_running_node(
    aiohttp_client: Any, settings: Settings, monkeypatch: Any, capsys: Any
) -> None:
    from voice_gateway.cli import main

    settings = dataclasses.replace(sip_settings(settings),
                                   cluster=ClusterSettings(node_id="gw-1", secret=SECRET))
    client = await aiohttp_client(init_app(settings, fake_asr))
    url = str(client.make_url("")).rstrip("/")
    monkeypatch.setenv("VOICE_INTAKE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("VOICE_INTAKE_CLUSTER_SECRET", "not-the-secret")
    assert await asyncio.to_thread(main, ["drain", "--url", url]) == 1  # refused: 401
    assert not client.server.app[CLUSTER].draining
    monkeypatch.setenv("VOICE_INTAKE_CLUSTER_SECRET", SECRET)
    assert await asyncio.to_thread(main, ["drain", "--url", url]) == 0
    assert '"state": "draining"' in capsys.readouterr().out
    await asyncio.wait_for(client.server.app[CLUSTER].drained.wait(), 10)
