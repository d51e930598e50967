"""One call from the moment it is accepted to its stored draft.

Audio pushed into the session goes two ways at once: to the recording on disk (so nothing
accepted is lost) and to the recognizer. Final transcripts are stored as utterances as they
arrive. ``finish()`` waits for the last final, closes the recording, drafts the work order
from what was said, and stores it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asr.stream import TranscriptEvent, open_recognize_stream
from ivr.events import IntakeFields
from storage import Event, RecordingWriter, StoredUtterance
from storage.repository import new_id
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.services import Services

log = logging.getLogger(__name__)


def mask_number(number: str | None) -> str:
    """A phone number fit for logs: only the last two digits are kept."""
    if not number:
        return "-"
    return "*" * max(0, len(number) - 2) + number[-2:]


@dataclass(frozen=True)
class CallOutcome:
    call_id: str
    transcript: str
    utterances: list[StoredUtterance]
    draft: dict[str, Any]


class CallSession:
    def __init__(
        self, services: Services, *, source: str, caller_number: str | None, input_rate: int
    ) -> None:
        if services.pool is None:
            raise RuntimeError("a call needs the ASR worker pool")
        self.services = services
        self.source = source
        self.caller_number = caller_number
        self.input_rate = input_rate
        self.call_id = new_id()
        settings = services.settings
        self.recording = RecordingWriter(
            settings.recordings_dir / f"{self.call_id}.wav", input_rate
        )
        self.stream = open_recognize_stream(services.pool, settings.vad, input_rate)
        self.utterances: list[StoredUtterance] = []
        self._consumer: asyncio.Task[None] | None = None
        self._finished = False
        # A contact number keyed in and confirmed in the IVR; it beats anything heard.
        self.keypad_phone: str | None = None
        # The labels of the IVR options the caller chose (投诉举报 …): the appeal type.
        self.menu_choices: tuple[str, ...] = ()
        self.dtmf: list[str] = []
        # Called with every speech start and final transcript (the IVR listens here).
        self.listeners: list[Callable[[TranscriptEvent], None]] = []

    async def start(self) -> str:
        await self.services.store.create_call(
            self.source, self.caller_number, str(self.recording.path),
            self.services.engine_label, call_id=self.call_id,
        )
        self._consumer = asyncio.create_task(self._consume())
        log.info("call %s started from %s (%s)", self.call_id[:8],
                 mask_number(self.caller_number), self.source)
        return self.call_id

    def push(self, pcm: bytes) -> None:
        """Caller audio at the session's input rate (16-bit mono PCM)."""
        self.recording.write(pcm)
        self.stream.push(pcm)

    def apply_intake(self, fields: IntakeFields) -> None:
        """What the IVR's intake hands over: the confirmed keypad number, the menu choices."""
        self.keypad_phone = fields.keypad_phone
        self.menu_choices = fields.menu_choices

    async def _consume(self) -> None:
        async for ev in self.stream:
            await self._on_event(ev)

    async def _on_event(self, ev: TranscriptEvent) -> None:
        store = self.services.store
        for listener in self.listeners:
            try:
                listener(ev)
            except Exception:
                log.exception("call %s: transcript listener failed", self.call_id[:8])
        if ev.kind == "speech_started":
            store.bus.publish(Event("speech_started", self.call_id, {"time": ev.start}))
            return
        if ev.kind != "final":
            return
        u = StoredUtterance(
            seq=len(self.utterances), start=round(ev.start, 3), end=round(ev.end, 3),
            text=ev.text, confidence=round(ev.confidence, 3),
            words=[[w.text, round(w.start, 3), round(w.end, 3), round(w.confidence, 3)]
                   for w in ev.words],
            error=ev.error,
        )
        self.utterances.append(u)
        await store.add_utterance(self.call_id, u)

    async def finish(self, reason: str = "hangup") -> CallOutcome:
        """End the call: last transcripts, recording closed, draft stored."""
        if self._finished:
            raise RuntimeError("call already finished")
        self._finished = True
        self.stream.end()
        if self._consumer is not None:
            await self._consumer
        self.recording.close()
        store = self.services.store
        await store.end_call(self.call_id, reason, self.recording.duration)
        transcript = "".join(u.text for u in self.utterances if u.text)
        stored = await draft_and_store(
            self.services, self.call_id, transcript, self.caller_number, self.keypad_phone,
            self.menu_choices,
        )
        log.info("call %s drafted (%d utterances)", self.call_id[:8], len(self.utterances))
        return CallOutcome(self.call_id, transcript, self.utterances, stored)

    async def abort(self) -> None:
        """Stop without drafting (service shutdown); the recording stays on disk."""
        self._finished = True
        await self.stream.aclose()
        if self._consumer is not None:
            self._consumer.cancel()
        self.recording.close()
