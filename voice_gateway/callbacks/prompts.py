"""The order's summary, read out in a survey call: rendered for that call alone.

The survey menu's ``survey_summary`` prompt is a template (``{summary}``). Before a call is
placed its text is filled in with the order's summary and spoken with the configured
offline TTS; :class:`CallPrompts` plays that audio for this call and takes every other
prompt from the process's :class:`~voice_gateway.calls.prompts.PromptLibrary`. Nothing is
written to the prompt directory (a summary is personal data). Without a summary, or when
the TTS fails, the prompt has no audio and the call goes on without it.
"""

from __future__ import annotations

import asyncio
import logging

from asr.g711 import ulaw_to_pcm
from config.settings import IvrSettings
from ivr import Menu
from ivr.errors import PromptError
from ivr.prompts import render_text, ulaw_payload
from voice_gateway.calls.prompts import PromptLibrary

log = logging.getLogger(__name__)
SUMMARY_PROMPT = "survey_summary"
MAX_SUMMARY_CHARS = 120  # about 30 s of speech


def summary_text(menu: Menu, summary: str | None) -> str | None:
    """The menu's summary prompt with ``summary`` filled in, or None."""
    template = menu.prompts.get(SUMMARY_PROMPT)
    summary = (summary or "").strip()
    if not template or not summary:
        return None
    return template.replace("{summary}", summary[:MAX_SUMMARY_CHARS])


async def render_summary(text: str, settings: IvrSettings) -> bytes | None:
    """16-bit 8 kHz PCM of ``text`` spoken by the TTS command, or None (logged)."""
    try:
        wav = await asyncio.to_thread(render_text, text, settings)
        return ulaw_to_pcm(ulaw_payload(wav))
    except (PromptError, OSError) as exc:
        log.warning("summary prompt not rendered (%s): the survey goes on without it", exc)
        return None


class CallPrompts(PromptLibrary):
    """One call's prompts: its own audio for some ids, the shared library for the rest."""

    def __init__(self, base: PromptLibrary, own: dict[str, bytes]) -> None:
        super().__init__(base.prompt_dir)
        self._base = base
        self._own = own

    async def pcm(self, prompt_id: str) -> bytes | None:
        if prompt_id in self._own:
            return self._own[prompt_id]
        return await self._base.pcm(prompt_id)
