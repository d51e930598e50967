"""/metrics: who may read it, the families it holds, and their values after real work
(a call from a file, decodes on two worker processes, refused INVITEs, a websocket)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from asr.engines.base import DecodeRequest, EngineSpec
from config import Settings
from tests.calls.test_gateway_faults import exchange, tcp_invite
from tests.conftest import CALLS_DIR
from tests.console.conftest import app_client, console_settings, login  # noqa: F401
from tests.sipp.harness import running_gateway, sip_settings
from voice_gateway import metrics
from voice_gateway.app import init_app
from voice_gateway.calls.file_call import call_from_file
from voice_gateway.services import Services, open_services

FAKE = EngineSpec(kind="fake",
                  options=(("script", "朝阳区双井街道路灯坏了电话一三六二二三三四四五五"),))
FAMILIES = (
    "voice_intake_calls_active", "voice_intake_calls", "voice_intake_call_setup_seconds",
    "voice_intake_rtp_packets_lost", "voice_intake_asr_queue_seconds",
    "voice_intake_asr_decode_seconds", "voice_intake_asr_worker_restarts",
    "voice_intake_drafts", "voice_intake_draft_field_confidence",
    "voice_intake_admission_refusals", "voice_intake_db_write_seconds",
    "voice_intake_websocket_clients",
)


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@contextlib.asynccontextmanager
async def _fake_services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        yield services


async def _scrape(client: Any, **headers: str) -> tuple[int, str]:
    resp = await client.get("/metrics", headers=headers)
    return resp.status, await resp.text()


async def test_metrics_served_to_loopback_in_the_prometheus_text_format(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(init_app(settings, _fake_services))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(await resp.text())}
    assert set(FAMILIES) <= names
    assert "process_cpu_seconds" in names


async def test_metrics_refused_outside_allowed_networks_unless_bearer_token(
    aiohttp_client: Any, settings: Settings
) -> None:
    closed = dataclasses.replace(settings, metrics=dataclasses.replace(
        settings.metrics, allowed_networks=("10.9.0.0/16",), token="sc0pe-t0ken"))
    client = await aiohttp_client(init_app(closed, _fake_services))
    assert (await _scrape(client))[0] == 403
    assert (await _scrape(client, Authorization="Bearer wrong"))[0] == 403
    status, body = await _scrape(client, Authorization="Bearer sc0pe-t0ken")
    assert status == 200 and "voice_intake_calls_total" in body
    no_token = dataclasses.replace(closed, metrics=dataclasses.replace(closed.metrics, token=""))
    client = await aiohttp_client(init_app(no_token, _fake_services))
    assert (await _scrape(client, Authorization="Bearer "))[0] == 403


async def test_a_file_call_moves_the_call_draft_asr_and_database_families(
    settings: Settings
) -> None:
    before = {
        "calls": value("voice_intake_calls_total", channel="file", end_reason="end_of_file"),
        "drafts": value("voice_intake_drafts_total", category="城市管理"),
        "decode": value("voice_intake_asr_decode_seconds_count"),
        "queue": value("voice_intake_asr_queue_seconds_count"),
        "db": value("voice_intake_db_write_seconds_count"),
        "phone": value("voice_intake_draft_field_confidence_count", field="phone"),
    }
    async with open_services(settings, spec=FAKE, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900000000")
    assert value("voice_intake_calls_total", channel="file",
                 end_reason="end_of_file") == before["calls"] + 1
    assert value("voice_intake_calls_active", channel="file") == 0
    assert value("voice_intake_drafts_total", category="城市管理") == before["drafts"] + 1
    utterances = len(outcome.utterances)
    assert utterances >= 1
    assert value("voice_intake_asr_decode_seconds_count") >= before["decode"] + utterances
    assert value("voice_intake_asr_queue_seconds_count") >= before["queue"] + utterances
    assert value("voice_intake_db_write_seconds_count") >= before["db"] + 3
    assert value("voice_intake_draft_field_confidence_count", field="phone") == before["phone"] + 1
    # No label anywhere carries the caller's number, the phone heard, or the call's id.
    exposition = metrics_text()
    for secret in ("13900000000", "13622334455", outcome.call_id, outcome.call_id[:8]):
        assert secret not in exposition


def metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.REGISTRY).decode()


async def test_decodes_on_two_worker_processes_are_counted_once_each_and_restarts_seen(
    settings: Settings
) -> None:
    before_decode = value("voice_intake_asr_decode_seconds_count")
    before_queue = value("voice_intake_asr_queue_seconds_count")
    async with open_services(settings, spec=EngineSpec(kind="fake", options=(("delay", "0.05"),)),
                             workers=2) as services:
        pool = services.pool
        assert pool is not None
        detach = metrics.attach(metrics.LiveFigures(worker_restarts=lambda: pool.restarts))
        try:
            pcm = b"\x00\x01" * 16000
            await asyncio.gather(*(pool.decode(DecodeRequest(pcm)) for _ in range(10)))
            assert len(set(pool.worker_pids)) == 2
            assert value("voice_intake_asr_decode_seconds_count") == before_decode + 10
            assert value("voice_intake_asr_queue_seconds_count") == before_queue + 10
            before_restarts = value("voice_intake_asr_worker_restarts_total")
            os.kill(pool.worker_pids[0], signal.SIGKILL)
            async with asyncio.timeout(30):
                while pool.restarts == 0:  # noqa: ASYNC110 (the pool has no event for it)
                    await asyncio.sleep(0.05)
            assert value("voice_intake_asr_worker_restarts_total") == before_restarts + 1
        finally:
            detach()


async def test_refused_invites_are_counted_by_reason(settings: Settings) -> None:
    settings = sip_settings(settings, max_calls=1, answer_delay_ms=2000)
    before = value("voice_intake_admission_refusals_total", reason="max_calls")
    async with running_gateway(settings, spec=FAKE, workers=1):
        burst = b"".join(tcp_invite(n) for n in range(3))
        statuses = await exchange(settings.sip.port, burst, want=2)
        assert [s for s in statuses if s.startswith("503")] == ["503 Service Unavailable"] * 2
    assert value("voice_intake_admission_refusals_total", reason="max_calls") == before + 2
    # Refusal reasons are a fixed set of words.
    for line in metrics_text().splitlines():
        if line.startswith("voice_intake_admission_refusals_total{"):
            assert re.fullmatch(r'voice_intake_admission_refusals_total\{reason="[a-z_]+"\} .*',
                                line)


async def test_websocket_clients_gauge_counts_connected_consoles(
    app_client: Any,  # noqa: F811
) -> None:
    await login(app_client, "alice")
    ws = await app_client.ws_connect("/api/ws", headers={
        "Origin": str(app_client.make_url("")).rstrip("/")})
    assert (await ws.receive_json())["type"] == "hello"
    try:
        body = (await _scrape(app_client))[1]
        assert re.search(r"^voice_intake_websocket_clients 1\.0$", body, re.M), body
    finally:
        await ws.close()
    async with asyncio.timeout(10):  # the server sees the close a moment later
        while True:
            body = (await _scrape(app_client))[1]
            if re.search(r"^voice_intake_websocket_clients 0\.0$", body, re.M):
                break
            await asyncio.sleep(0.05)
