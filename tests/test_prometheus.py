"""A real Prometheus (Debian's ``prometheus``) scrapes the running service on loopback.

The service runs as ``serve`` does (the aiohttp app on a TCP port, SIP on another, a fake
ASR engine so no model loads); one call comes in from the real sipp; Prometheus, started
here with a one-second scrape interval and the shipped alert rules, must then report
``up == 1`` and the call in ``voice_intake_calls_total``. The shipped config and rules are
also checked with ``promtool``, and the rules' unit tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import subprocess
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from asr.engines.base import EngineSpec
from config import Settings
from tests.conftest import CALLS_DIR, REPO
from tests.sipp.harness import call_audio, free_port, run_sipp, sip_settings
from voice_gateway import metrics
from voice_gateway.app import init_app
from voice_gateway.services import Services, open_services

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DEPLOY = REPO / "deploy" / "prometheus"
FAKE = EngineSpec(kind="fake", options=(("script", "海淀区学院路街道路灯坏了"),))



def test_prometheus_is_installed() -> None:
    assert PROMETHEUS is not None and PROMTOOL is not None, (
        "scripts/test installs Debian's prometheus; prometheus and promtool must be on PATH")


@contextlib.asynccontextmanager
async def _fake_services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        yield services


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[int]:
    """The whole app on a loopback TCP port, as ``serve`` runs it."""
    runner = web.AppRunner(init_app(settings, _fake_services))
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def prometheus(target_port: int, workdir: Path) -> AsyncIterator[str]:
    """Prometheus on loopback scraping ``127.0.0.1:target_port`` every second."""
    assert PROMETHEUS is not None
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {DEPLOY / 'alerts.yml'}\n"
        "scrape_configs:\n  - job_name: voice-intake\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
    log = (workdir / "prometheus.log").open("w")
    proc = await asyncio.create_subprocess_exec(
        PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.close()


async def query(http: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?query={urllib.parse.quote(promql)}"
    async with http.get(url) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def until_value(http: aiohttp.ClientSession, base: str, promql: str,
                      within_s: float = 90.0, above: float = 0.0) -> float:
    """The query's first value once it is above ``above`` (Prometheus up, target scraped;
    the registry is the process's, so other tests' calls may already be counted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    last: object = None
    while loop.time() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            result = await query(http, base, promql)
            last = result
            if result and float(result[0]["value"][1]) > above:
                return float(result[0]["value"][1])
        await asyncio.sleep(0.5)
    raise AssertionError(f"{promql}: nothing above {above} within {within_s} s "
                         f"(last: {last})")


@pytest.mark.slow
async def test_prometheus_scrapes_the_service_and_sees_a_call(
    settings: Settings, tmp_path: Path
) -> None:
    settings = sip_settings(settings)
    settings = dataclasses.replace(settings, ivr=dataclasses.replace(settings.ivr, enabled=False))
    audio = call_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path)
    async with serving(settings) as http_port, prometheus(http_port, tmp_path) as base, \
            aiohttp.ClientSession() as http:
        assert await until_value(http, base, 'up{job="voice-intake"}') == 1
        before = {name: sum(s.value for f in metrics.REGISTRY.collect() for s in f.samples
                            if s.name == name and s.labels.get("channel", "sip") == "sip")
                  for name in ("voice_intake_calls_total", "voice_intake_drafts_total",
                               "voice_intake_call_setup_seconds_count")}
        run = await run_sipp("uac_call.xml", settings.sip.port, tmp_path,
                             inf=[["13800138000"]], values=audio)
        assert run.returncode == 0, run.errors or run.stderr
        # The call has ended once it is counted (the active gauge falls at the same time).
        assert await until_value(http, base, 'sum(voice_intake_calls_total{channel="sip"})',
                                 above=before["voice_intake_calls_total"])
        assert await until_value(http, base, "sum(voice_intake_drafts_total)",
                                 above=before["voice_intake_drafts_total"])
        assert await until_value(http, base, "voice_intake_call_setup_seconds_count",
                                 above=before["voice_intake_call_setup_seconds_count"])
        assert await until_value(http, base, "voice_intake_asr_decode_seconds_count") >= 1
        assert await until_value(http, base, "voice_intake_db_write_seconds_count") >= 1
        assert await until_value(
            http, base, 'voice_intake_draft_field_confidence_count{field="district"}') >= 1
        active = await query(http, base, 'voice_intake_calls_active{channel="sip"}')
        assert active and float(active[0]["value"][1]) == 0
        # Nothing personal reached Prometheus: no label value holds the caller's number.
        async with http.get(f"{base}/api/v1/series?match[]=" + urllib.parse.quote(
                '{__name__=~"voice_intake_.+"}')) as resp:
            series = json.dumps(await resp.json())
        assert "13800138000" not in series
        # The shipped rules are loaded and none fires on a healthy node.
        async with http.get(f"{base}/api/v1/rules") as resp:
            groups = (await resp.json())["data"]["groups"]
        rules = {r["name"]: r["state"] for g in groups for r in g["rules"]}
        assert {"VoiceIntakeNodeDown", "VoiceIntakeAsrBacklog", "VoiceIntakeAdmissionRefusals",
                "VoiceIntakeAsrWorkerRestarts", "VoiceIntakeDiskLow"} <= set(rules)
        assert rules["VoiceIntakeNodeDown"] == "inactive"


def test_the_shipped_config_and_rules_pass_promtool() -> None:
    assert PROMTOOL is not None
    for args in (["check", "config", str(DEPLOY / "prometheus.yml")],
                 ["test", "rules", str(DEPLOY / "alerts_test.yml")]):
        done = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_grafana_dashboard_queries_only_exported_families() -> None:
    dashboard = json.loads((REPO / "deploy" / "grafana" / "voice-intake.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    detach = metrics.attach(metrics.LiveFigures(disk_free_bytes=lambda: 1))
    try:
        exported = {f.name for f in metrics.REGISTRY.collect()}
    finally:
        detach()
    for expr in exprs:
        for name in {w for w in expr.replace("(", " ").replace("{", " ").replace("[", " ")
                     .split() if w.startswith("voice_intake_")}:
            base = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
            base = base.removesuffix("_total")
            assert base in exported, (name, expr)
