"""A simulated inbound call from an audio file, through the same pipeline as a live call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from asr.audio import load_audio
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
    step = audio.sample_rate * FRAME_MS // 1000 * 2
    for i, offset in enumerate(range(0, len(audio.pcm), step)):
        session.push(audio.pcm[offset : offset + step])
        if i % 50 == 49:
            await asyncio.sleep(0)  # let finished utterances be stored as we go
    return await session.finish("end_of_file")


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
