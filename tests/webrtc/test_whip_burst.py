"""A burst of WHIP offers within the limits: every one is a call (issue 16).

bench.webrtc (50 calls at 10 offers a second) saw 8 offers refused with 503: each call's
INSERT waited at the write gate behind the INSERTs of the calls offered before it, one
transaction each, and each transaction took its time (several round trips through an
event loop busy with the media of the calls already up). Here the database is slow but
never fails: every COMMIT takes 0.3 s. Sixteen calls stored one after another would need
4.8 s, past a 3 s setup deadline; a call's store must not wait for each of the calls
before it."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiosqlite
import pytest

from config import Settings
from tests.webrtc.support import WhipClient, fake_services, post_offer, services_of, webrtc_settings
from voice_gateway.app import init_app
from voice_gateway.webrtc.whip import WEBRTC

OFFERS = 16
COMMIT_S = 0.3
DEADLINE_S = 3.0


@pytest.fixture
async def http(aiohttp_client: Any, settings: Settings) -> Any:
    settings = webrtc_settings(settings, rate_limit_burst=OFFERS, max_calls=OFFERS)
    settings = dataclasses.replace(
        settings, sip=dataclasses.replace(settings.sip, setup_deadline_s=DEADLINE_S))
    return await aiohttp_client(init_app(settings, fake_services))


async def test_every_offer_of_a_burst_is_answered_and_stored_on_a_slow_database(
        http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    services = services_of(http)
    real_commit = aiosqlite.Connection.commit
    slow = True

    async def slow_commit(self: aiosqlite.Connection) -> None:
        if slow:
            await asyncio.sleep(COMMIT_S)
        await real_commit(self)

    monkeypatch.setattr(aiosqlite.Connection, "commit", slow_commit)
    clients = [WhipClient.create(None) for _ in range(OFFERS)]
    try:
        offers = [await c.offer() for c in clients]
        responses = await asyncio.gather(*(post_offer(http, sdp) for sdp in offers))
        statuses = [r.status for r in responses]
        texts = [await r.text() for r in responses]
        assert statuses == [201] * OFFERS, [t.strip() for t in texts if not t.startswith("v=0")]
        gateway = http.server.app[WEBRTC]
        assert gateway.refused == 0
        stored = [services.store.get_call(r.call_id) for r in gateway.calls.values()]
        calls = await asyncio.gather(*stored)
        assert len(calls) == OFFERS
        assert all(c is not None and c.source == "webrtc" for c in calls)
        slow = False
        for r in responses:
            assert (await http.delete(r.headers["Location"])).status == 200
    finally:
        slow = False
        for c in clients:
            await c.close()
