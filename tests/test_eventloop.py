"""The event loop the commands run on: uvloop by default when installed, asyncio on request."""

from __future__ import annotations

import asyncio
import sys

import pytest

from config import ConfigError, load_settings
from voice_gateway import eventloop


async def _running_loop_name() -> str:
    return eventloop.loop_name(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert load_settings(environ={}).event_loop == "auto"
    assert eventloop.run(_running_loop_name(), "auto") == "uvloop"
    assert eventloop.run(_running_loop_name(), "uvloop") == "uvloop"


def test_asyncio_keeps_the_standard_loop() -> None:
    settings = load_settings(environ={"VOICE_INTAKE_EVENT_LOOP": "asyncio"})
    assert eventloop.run(_running_loop_name(), settings.event_loop) == "asyncio"
    loop = eventloop.new_event_loop("asyncio")
    try:
        assert eventloop.loop_name(loop) == "asyncio"
    finally:
        loop.close()


def test_an_unknown_loop_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="event_loop"):
        load_settings(environ={"VOICE_INTAKE_EVENT_LOOP": "trio"})


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop → ImportError
    assert eventloop.loop_factory("auto") is None
    assert eventloop.run(_running_loop_name(), "auto") == "asyncio"
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        eventloop.loop_factory("uvloop")
