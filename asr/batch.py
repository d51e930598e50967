"""Batch transcription of files through the streaming pipeline (``voice-intake transcribe``).

Each file is fed as 20 ms frames, exactly like a live call, so ``transcribe`` measures and
exercises the same path; a few files run at once to keep every worker busy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asr.audio import load_audio
from asr.pool import AsrWorkerPool
from asr.stream import open_recognize_stream
from config import VadSettings

FRAME_MS = 20


async def transcribe_file(pool: AsrWorkerPool, vad: VadSettings, path: Path) -> dict[str, Any]:
    """One file's text and timed utterances, fed as 20 ms frames like a live call."""
    audio = await asyncio.to_thread(load_audio, path)
    stream = open_recognize_stream(pool, vad, audio.sample_rate)
    step = audio.sample_rate * FRAME_MS // 1000 * 2
    for i, offset in enumerate(range(0, len(audio.pcm), step)):
        stream.push(audio.pcm[offset : offset + step])
        if i % 50 == 49:
            await asyncio.sleep(0)
    stream.end()
    utterances = [
        {"start": round(e.start, 3), "end": round(e.end, 3), "text": e.text,
         "confidence": round(e.confidence, 3), **({"error": e.error} if e.error else {})}
        async for e in stream
        if e.kind == "final"
    ]
    return {"path": str(path), "text": "".join(str(u["text"]) for u in utterances),
            "duration": round(audio.duration, 3), "utterances": utterances}


async def transcribe_files(
    pool: AsrWorkerPool, vad: VadSettings, files: list[Path],
    on_done: Callable[[Path], None] = lambda _p: None,
) -> list[dict[str, Any]]:
    """Transcribe files a few at a time (enough to keep every worker busy), in input order."""
    gate = asyncio.Semaphore(pool.workers * 2)

    async def one(path: Path) -> dict[str, Any]:
        async with gate:
            try:
                return await transcribe_file(pool, vad, path)
            finally:
                on_done(path)

    return list(await asyncio.gather(*(one(f) for f in files)))
