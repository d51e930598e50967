"""Prompt audio for calls: ``<prompt_dir>/<id>.wav`` as 8 kHz PCM, loaded off the loop.

A prompt is decoded (possibly through ffmpeg) in a worker thread the first time a call
plays it, and kept. The cache is keyed by the file's size and modification time, so an
admin's upload, a re-render or a publish that brings new prompt files is heard by the next
prompt played, without a restart and without anyone having to tell this cache.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from asr.audio import AudioFormatError, load_audio
from ivr.errors import MenuError
from ivr.prompts import prompt_path

log = logging.getLogger(__name__)
SAMPLE_RATE = 8000


def _load(path: Path) -> bytes:
    return load_audio(path).resampled(SAMPLE_RATE).pcm


class PromptLibrary:
    """Prompt audio by id, for every call of a process."""

    def __init__(self, prompt_dir: Path) -> None:
        self.prompt_dir = prompt_dir
        self._cache: dict[str, tuple[tuple[int, int], bytes]] = {}
        self.loads = 0

    def _stamp(self, prompt_id: str) -> tuple[Path, tuple[int, int]] | None:
        try:
            path = prompt_path(self.prompt_dir, prompt_id)
            st = os.stat(path)
        except (MenuError, OSError):
            return None
        return path, (st.st_size, st.st_mtime_ns)

    async def pcm(self, prompt_id: str) -> bytes | None:
        """The prompt's audio, or None (logged) when it has none usable yet."""
        found = self._stamp(prompt_id)
        if found is None:
            log.warning("prompt %s has no audio file; skipped", prompt_id)
            return None
        path, stamp = found
        cached = self._cache.get(prompt_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            pcm = await asyncio.to_thread(_load, path)
        except (AudioFormatError, OSError) as exc:
            log.warning("prompt %s has no usable audio (%s); skipped", prompt_id, exc)
            return None  # not cached: it may be rendered or uploaded later
        self.loads += 1
        self._cache[prompt_id] = (stamp, pcm)
        return pcm

    def invalidate(self, prompt_id: str | None = None) -> None:
        """Forget one prompt's audio (or all): the next play reads the file again."""
        if prompt_id is None:
            self._cache.clear()
        else:
            self._cache.pop(prompt_id, None)
