"""After a crash or restart: draft every accepted call that never got its draft.

A call's recording is on disk as its audio arrives, so a call interrupted by a crash still
has (nearly) all its audio. On start-up each call left ``active`` or ``ended`` is
transcribed again from its recording and drafted, exactly as if the caller had just hung up.
"""

from __future__ import annotations

import asyncio
import logging

from asr.audio import AudioFormatError, load_audio
from asr.stream import UtteranceRecognizeStream
from storage import StoredUtterance
from storage.models import Call
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.calls.file_call import feed_audio
from voice_gateway.services import Services

log = logging.getLogger(__name__)


async def recover_unfinished_calls(services: Services) -> list[str]:
    """Draft every call the store holds as unfinished; return their ids."""
    recovered: list[str] = []
    for call in await services.store.unfinished_calls():
        try:
            await _recover(services, call)
        except (AudioFormatError, OSError) as exc:
            log.error("call %s: recording unreadable, drafting without speech: %s",
                      call.id[:8], exc)
            await _draft(services, call, [])
        recovered.append(call.id)
    if recovered:
        log.info("recovered %d unfinished call(s)", len(recovered))
    return recovered


async def _recover(services: Services, call: Call) -> None:
    assert services.pool is not None
    utterances: list[StoredUtterance] = []
    if call.recording_path:
        # A missing or unreadable file raises AudioFormatError: drafted without speech.
        audio = await asyncio.to_thread(load_audio, call.recording_path)
        stream = UtteranceRecognizeStream(services.pool.decode, services.settings.vad,
                                          audio.sample_rate)
        await feed_audio(stream.push, audio)
        stream.end()
        async for ev in stream:
            if ev.kind == "final":
                utterances.append(StoredUtterance(
                    len(utterances), round(ev.start, 3), round(ev.end, 3), ev.text,
                    round(ev.confidence, 3), [], ev.error))
        await services.store.replace_utterances(call.id, utterances)
        if call.status == "active":
            await services.store.end_call(call.id, "recovered", audio.duration)
    await _draft(services, call, utterances)


async def _draft(services: Services, call: Call, utterances: list[StoredUtterance]) -> None:
    transcript = "".join(u.text for u in utterances if u.text)
    await draft_and_store(services, call.id, transcript, call.caller_number)
