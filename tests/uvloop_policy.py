"""Run a test suite on uvloop, the loop ``serve`` uses when it is installed:

    .venv/bin/python -m pytest -p tests.uvloop_policy tests/rtp tests/sip -q

A pytest plugin (not a conftest): the default runs stay on asyncio's loop, and this runs the
same tests on uvloop, to show the SIP, RTP, WebRTC and call code behave the same on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import uvloop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def pytest_asyncio_loop_factories(config: pytest.Config,
                                  item: pytest.Item) -> Mapping[str, LoopFactory]:
    """pytest-asyncio's hook: every async test's loop is a uvloop loop."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
async def _running_on_uvloop() -> AsyncIterator[None]:
    # A plugin that silently did nothing would prove nothing.
    loop = asyncio.get_running_loop()
    assert type(loop).__module__.startswith("uvloop"), type(loop)
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test also checks that its loop is uvloop's."""
    for item in items:
        if item.get_closest_marker("asyncio") is not None and isinstance(item, pytest.Function):
            item.fixturenames.append("_running_on_uvloop")
