"""The event loop the commands run on: uvloop when it is installed, else asyncio's own.

``event_loop`` (``VOICE_INTAKE_EVENT_LOOP``) chooses: ``auto`` (the default) takes uvloop
when it can be imported and asyncio's loop otherwise; ``uvloop`` requires it (a
configuration error if it is missing); ``asyncio`` keeps the standard library's loop.
uvloop receives and sends the RTP datagrams, SIP and HTTP in C (libuv) rather than in
``selector_events``: the gateway's CPU per RTP packet drops (README, "Media CPU").
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from config import ConfigError
from config.settings import EventLoopName

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: EventLoopName) -> LoopFactory | None:
    """What makes the loop for ``choice``; None means asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError as exc:
        if choice == "uvloop":
            raise ConfigError("event_loop = \"uvloop\" but uvloop is not installed "
                              "(pip install uvloop, or event_loop = \"auto\")") from exc
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def new_event_loop(choice: EventLoopName) -> asyncio.AbstractEventLoop:
    """A new loop of the chosen kind (for ``aiohttp.web.run_app(loop=...)``)."""
    factory = loop_factory(choice)
    return factory() if factory is not None else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], choice: EventLoopName) -> T:
    """``asyncio.run(main)`` on a loop of the chosen kind."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which kind a running loop is (for logs and benches)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
