"""A caller who can only be reached through TURN (its policy: relayed candidates only, as
behind a strict NAT), with Debian's coturn started by the test on loopback and named in
``webrtc.ice_servers``: the call connects through the relay and is drafted."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from config import Settings
from tests.conftest import CALLS_DIR
from tests.sipp.harness import free_port, wait_for_drafts
from tests.webrtc.support import (
    WhipClient,
    fake_services,
    post_offer,
    services_of,
    webrtc_settings,
)
from voice_gateway.app import init_app

TURNSERVER = shutil.which("turnserver")
USER, PASSWORD = "intake", "turn-secret"

pytestmark = pytest.mark.skipif(TURNSERVER is None, reason="coturn is not installed")


@contextlib.asynccontextmanager
async def coturn(tmp_path: Path, secret: str | None = None) -> AsyncIterator[int]:
    """coturn on 127.0.0.1 with one long-term user, or with ``secret`` for time-limited
    credentials (TURN REST API); yields its port."""
    port = free_port()
    low = free_port() // 2 * 2
    assert TURNSERVER is not None
    auth = (["--use-auth-secret", "--static-auth-secret", secret] if secret
            else ["--lt-cred-mech", "--user", f"{USER}:{PASSWORD}"])
    proc = await asyncio.create_subprocess_exec(
        TURNSERVER, "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
        "--listening-port", str(port), "--min-port", str(low), "--max-port", str(low + 40),
        *auth, "--realm", "intake.test",
        "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
        "--log-file", str(tmp_path / "turn.log"), "--pidfile", str(tmp_path / "turn.pid"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(100):  # until it listens
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_caller_behind_nat_connects_through_coturn(
        aiohttp_client: Any, settings: Settings, tmp_path: Path) -> None:
    async with coturn(tmp_path) as port:
        turn = f"turn:127.0.0.1:{port}?transport=udp"
        http = await aiohttp_client(init_app(webrtc_settings(
            settings, ice_servers=(turn,), turn_username=USER, turn_credential=PASSWORD),
            fake_services))
        page = await http.get("/call")
        assert turn in await page.text()  # the page offers the same server
        relay_only = RTCConfiguration(
            iceServers=[RTCIceServer(turn, USER, PASSWORD)],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY)
        client = WhipClient.create(CALLS_DIR / "D15.pcm8k.wav", config=relay_only)
        try:
            offer = await client.offer()
            assert "typ relay" in offer and "typ host" not in offer
            resp = await post_offer(http, offer)
            assert resp.status == 201, await resp.text()
            assert resp.headers.getall("Link") == [f'<{turn}>; rel="ice-server"; '
                                                   f'username="{USER}"; '
                                                   f'credential="{PASSWORD}"; '
                                                   'credential-type="password"']
            await client.answer(await resp.text())
            await client.connected(within=20)
            await client.audio_sent()
            assert (await http.delete(resp.headers["Location"])).status == 200
            drafts = await wait_for_drafts(services_of(http), 1, within=30)
        finally:
            await client.close()
        call = await services_of(http).store.get_call(drafts[0]["call_id"])
        assert call is not None and call.utterances


async def test_time_limited_turn_credentials_from_a_shared_secret(
        aiohttp_client: Any, settings: Settings, tmp_path: Path) -> None:
    """With webrtc.turn_secret (coturn's static-auth-secret) each page and each call get
    their own credentials, valid for webrtc.turn_ttl_s: nothing lasting is published."""
    import json
    import re

    async with coturn(tmp_path, secret="shared-secret") as port:
        turn = f"turn:127.0.0.1:{port}?transport=udp"
        http = await aiohttp_client(init_app(webrtc_settings(
            settings, ice_servers=(turn,), turn_secret="shared-secret", turn_ttl_s=600),
            fake_services))
        page = await (await http.get("/call")).text()
        config = json.loads(re.search(r'id="config">(.*?)</script>', page, re.S)[1])
        server = config["iceServers"][0]
        expires, _, _user = server["username"].partition(":")
        assert 0 < int(expires) - time.time() <= 600
        relay_only = RTCConfiguration(
            iceServers=[RTCIceServer(turn, server["username"], server["credential"])],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY)
        client = WhipClient.create(None, config=relay_only)
        try:
            offer = await client.offer()
            assert "typ relay" in offer  # coturn took the page's credentials
            resp = await post_offer(http, offer)
            assert resp.status == 201, await resp.text()
            await client.answer(await resp.text())
            await client.connected(within=20)
            assert (await http.delete(resp.headers["Location"])).status == 200
        finally:
            await client.close()
        # The service stops while coturn still runs: its TURN allocations are released at
        # once rather than refreshed against a server that is gone until the close times out.
        await http.close()
