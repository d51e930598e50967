"""A simulated inbound call from an audio file, through the same pipeline as a live call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asr.audio import PcmAudio, load_audio
from voice_gateway.calls.session import CallOutcome, CallSession
from voice_gateway.services import Services

FRAME_MS = 20


async def call_from_file(services: Services, path: Path, caller_number: str | None) -> CallOutcome:
    """Play ``path`` into a new call as 20 ms frames, then hang up and draft."""
    audio = await asyncio.to_thread(load_audio, path)
    session = CallSession(
        services, source="file", caller_number=caller_number, input_rate=audio.sample_rate
    )
    await session.start()
    await feed_audio(session.push, audio)
    return await session.finish("end_of_file")


async def feed_audio(push: Callable[[bytes], None], audio: PcmAudio) -> None:
    """Push ``audio`` as 20 ms frames, yielding to the loop every second of audio so that
    finished utterances are decoded and stored as we go."""
    step = audio.sample_rate * FRAME_MS // 1000 * 2
    for i, offset in enumerate(range(0, len(audio.pcm), step)):
        push(audio.pcm[offset : offset + step])
        if i % 50 == 49:
            await asyncio.sleep(0)


def outcome_json(outcome: CallOutcome) -> dict[str, Any]:
    return {
        "call_id": outcome.call_id,
        "transcript": outcome.transcript,
        "utterances": [
            {"start": u.start, "end": u.end, "text": u.text, "confidence": u.confidence,
             **({"error": u.error} if u.error else {})}
            for u in outcome.utterances
        ],
        "draft": outcome.draft,
    }
