"""log.format = json: one JSON object a line, each record of a call naming the call, and
nothing personal in them (masked numbers, no transcript text)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import socket
from collections.abc import Iterator

import pytest

from asr.engines.base import EngineSpec
from config import Settings, load_settings
from tests.conftest import CALLS_DIR
from voice_gateway import logs
from voice_gateway.calls.file_call import call_from_file
from voice_gateway.services import open_services

TRANSCRIPT = "朝阳区双井街道路灯坏了我姓黄电话一三六二二三三四四五五"
FAKE = EngineSpec(kind="fake", options=(("script", TRANSCRIPT),))


@pytest.fixture
def json_log(settings: Settings) -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer, as ``serve`` would to stderr."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    json_settings = dataclasses.replace(settings, log=dataclasses.replace(
        settings.log, format="json", node="node-a"))
    logs.configure(json_settings, stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_log_format_json_is_a_setting() -> None:
    settings = load_settings(environ={"VOICE_INTAKE_LOG_FORMAT": "json"})
    assert settings.log.format == "json"
    assert isinstance(logs.formatter(settings), logs.JsonLineFormatter)
    assert not isinstance(logs.formatter(load_settings(environ={})), logs.JsonLineFormatter)


def test_a_json_line_holds_event_call_id_node_and_the_error(json_log: io.StringIO) -> None:
    log = logging.getLogger("voice_gateway.test")
    token = logs.CALL_ID.set("c0ffee")
    node = logs.IVR_NODE.set("menu_main")
    try:
        log.warning("two\nlines %d", 2)
    finally:
        logs.CALL_ID.reset(token)
        logs.IVR_NODE.reset(node)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"call_id": "beef"})
    lines = json_log.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "two\nlines 2" and first["level"] == "warning"
    assert first["call_id"] == "c0ffee" and first["node"] == "node-a"
    assert first["ivr_node"] == "menu_main" and "ivr_node" not in json.loads(lines[1])
    assert first["logger"] == "voice_gateway.test" and first["ts"].endswith("+00:00")
    assert second["call_id"] == "beef" and "ValueError: boom" in second["exc"]


async def test_a_calls_records_carry_its_id_and_no_personal_data(
    settings: Settings, json_log: io.StringIO
) -> None:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900001234")
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [r for r in records if r["call_id"] == outcome.call_id]
    assert any("drafted" in r["event"] for r in mine), records
    assert any("finished" in r["event"] for r in mine)
    text = json_log.getvalue()
    for secret in ("13900001234", "13622334455", "一三六二二三三四四五五", "双井街道路灯"):
        assert secret not in text


def test_node_defaults_to_the_host_name(settings: Settings) -> None:
    fmt = logs.formatter(dataclasses.replace(settings, log=dataclasses.replace(
        settings.log, format="json")))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert json.loads(fmt.format(record))["node"] == socket.gethostname()
