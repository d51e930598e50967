"""What every call gateway (SIP, WebRTC) does the same way at start and at shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from config import Settings
from ivr.model import Menu
from voice_gateway.calls import machine as m
from voice_gateway.calls.runner import CallRunner

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 30.0  # calls draining at shutdown (drafts wait for their last decode)


async def render_prompts(settings: Settings, menu: Menu) -> None:
    """Speak every prompt of ``menu`` that has no audio yet with the configured offline TTS
    (in a thread); a failure is logged, and calls skip prompts without audio."""
    from ivr.errors import PromptError
    from ivr.prompts import render_missing

    stop = threading.Event()
    try:
        done = await asyncio.to_thread(render_missing, menu, settings.prompt_dir, settings.ivr,
                                       stop=stop)
    except asyncio.CancelledError:
        # A shutdown: the thread ends after the prompt it is speaking, so that stopping
        # the service (and its event loop's executor) does not wait for the whole menu.
        stop.set()
        raise
    except (PromptError, OSError) as exc:
        log.warning("prompts not rendered (%s): calls skip prompts without audio", exc)
        return
    if done:
        log.info("rendered %d prompt(s) into %s", len(done), settings.prompt_dir)


async def hang_up_all(runners: Iterable[CallRunner]) -> None:
    """Hang up every call for a shutdown and wait, up to ``CLOSE_TIMEOUT_S``, while each is
    drafted; calls still running then are cancelled (their rows stay active: the next
    start recovers them)."""
    runners = list(runners)
    for runner in runners:
        runner.post(m.HungUp("shutdown", by_caller=False))
    tasks = [r.task for r in runners if r.task is not None]
    if not tasks:
        return
    _done, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
    for task in stuck:
        task.cancel()
    if stuck:
        log.error("%d call(s) did not finish within %.0f s of shutdown", len(stuck),
                  CLOSE_TIMEOUT_S)
        await asyncio.wait(stuck, timeout=CLOSE_TIMEOUT_S)
