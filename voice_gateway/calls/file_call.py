"""A simulated inbound call from an audio file, through the same pipeline as a live call.

With a menu, the call walks the IVR too (:class:`FileIvrCall`). A file has no real-time
media, so the IVR runs on a virtual clock: prompts are over as soon as they start, scripted
inputs (``--input``, the simulator's syntax: keys, ``<silence>``, ``<hangup>`` or speech
text) come first, one turn each, then the file's speech, at its own times in the audio. A
timer fires when the virtual clock passes its deadline, not after real seconds, so the path
does not depend on how fast the machine recognises speech. When the file ends the caller is
silent: timers run out until the menu ends the call. The IVR is done before the draft is
made, so a number keyed in and confirmed reaches the drafter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.audio import PcmAudio, load_audio
from asr.stream import TranscriptEvent
from ivr import Menu, parse_menu, validate
from ivr.events import (
    Action,
    CancelTimer,
    IntakeFields,
    NodeEntered,
    NodeExited,
    PlayPrompt,
    StartTimer,
    Timeout,
    action_to_dict,
)
from ivr.loader import load_catalogue
from ivr.simulator import HANGUP, SILENCE, is_keypad
from storage import Store
from storage.menus import DEFAULT_MENU_ID, MenuVersions
from voice_gateway.calls.ivr_call import IvrCall, PromptLibrary
from voice_gateway.calls.session import CallOutcome, CallSession
from voice_gateway.services import Services

log = logging.getLogger(__name__)

FRAME_MS = 20
_MAX_TIMEOUTS = 200  # silence after the file: more than any valid menu needs to end


async def call_from_file(services: Services, path: Path, caller_number: str | None,
                         ) -> CallOutcome:
    """Play ``path`` into a new call as 20 ms frames, then hang up and draft (no IVR)."""
    return (await call_through_menu(services, path, caller_number, None)).outcome


@dataclass(frozen=True)
class FileCallResult:
    outcome: CallOutcome
    ivr: dict[str, Any] | None  # menu, menu_version and the path taken; None without IVR


async def call_through_menu(services: Services, path: Path, caller_number: str | None,
                            menu: Menu | None, inputs: Sequence[str] = ()) -> FileCallResult:
    """A call from a file that walks ``menu`` first with the scripted ``inputs`` (see the
    module docstring); without a menu, the plain intake pipeline."""
    audio = await asyncio.to_thread(load_audio, path)
    session = CallSession(
        services, source="file", caller_number=caller_number, input_rate=audio.sample_rate
    )
    await session.start()
    if menu is None:
        await feed_audio(session.push, audio)
        return FileCallResult(await session.finish("end_of_file"), None)

    ivr = FileIvrCall(menu, call_id=session.call_id, caller_number=caller_number,
                      prompts=SilentPrompts(services.settings.prompt_dir),
                      store=services.store, on_intake=session.apply_intake)
    session.listeners.append(ivr.hear)
    ivr.start()
    await ivr.settle()
    for text in inputs:
        await ivr.give(text)
    driver = asyncio.create_task(ivr.follow_audio())
    try:
        await feed_audio(session.push, audio)
        session.stream.end()
        # Every final must have reached the IVR before the caller falls silent; the
        # session's consumer task is what delivers them.
        if session._consumer is not None:
            await session._consumer
    finally:
        ivr.hear_end()
        await driver
    await ivr.run_out()
    await ivr.close()
    outcome = await session.finish("end_of_file")
    return FileCallResult(outcome, ivr.trace_json())


async def configured_menu(services: Services) -> Menu | None:
    """The menu calls start with: the version published in the database (slot
    ``default``) if there is one and it validates, else the configured file
    (``ivr.menu``); ``None`` when the IVR is off or no menu is usable."""
    settings = services.settings.ivr
    if not settings.enabled:
        return None
    published = await MenuVersions(services.store.engine).published_menu(DEFAULT_MENU_ID)
    if published is not None:
        data, version = published
        try:
            menu = parse_menu(data, load_catalogue())
        except ValueError as exc:
            log.error("published menu version %d unusable (%s); using %s", version, exc,
                      settings.menu)
        else:
            if not validate(menu):
                return menu
            log.error("published menu version %d fails validation; using %s", version,
                      settings.menu)
    from voice_gateway.calls.sip_gateway import load_valid_menu

    return load_valid_menu(settings)


async def feed_audio(push: Callable[[bytes], None], audio: PcmAudio) -> None:
    """Push ``audio`` as 20 ms frames, yielding to the loop every second of audio so that
    finished utterances are decoded and stored as we go."""
    step = audio.sample_rate * FRAME_MS // 1000 * 2
    for i, offset in enumerate(range(0, len(audio.pcm), step)):
        push(audio.pcm[offset : offset + step])
        if i % 50 == 49:
            await asyncio.sleep(0)


def outcome_json(outcome: CallOutcome, *, ivr: dict[str, Any] | None = None,
                 with_ivr: bool = False) -> dict[str, Any]:
    """The call as ``voice-intake call`` prints it; ``with_ivr`` adds the ``ivr`` key
    (``null`` when the call did not walk a menu)."""
    out: dict[str, Any] = {
        "call_id": outcome.call_id,
        "transcript": outcome.transcript,
        "utterances": [
            {"start": u.start, "end": u.end, "text": u.text, "confidence": u.confidence,
             **({"error": u.error} if u.error else {})}
            for u in outcome.utterances
        ],
        "draft": outcome.draft,
    }
    if with_ivr or ivr is not None:
        out["ivr"] = ivr
    return out


# --------------------------------------------------------------------------- the IVR side


@dataclass(frozen=True)
class _Played:
    completed: bool = True


class InstantPlayback:
    """The media of a file call: a prompt is over as soon as it starts."""

    async def play(self, pcm: bytes) -> object:
        return _Played()

    def stop_playback(self) -> None:
        pass


class SilentPrompts(PromptLibrary):
    """No audio is sent anywhere in a file call: every prompt is an empty clip."""

    def pcm(self, prompt_id: str) -> bytes | None:
        return b""


class FileIvrCall(IvrCall):
    """:class:`IvrCall` on a virtual clock (see the module docstring). ``trace`` is the path
    taken, one record per node, in the simulator's shape."""

    def __init__(self, menu: Menu, *, call_id: str, caller_number: str | None,
                 prompts: PromptLibrary, store: Store,
                 on_intake: Callable[[IntakeFields], None]) -> None:
        self.clock = 0.0
        self.ended_by_ivr = False
        super().__init__(menu, call_id=call_id, caller_number=caller_number,
                         media=InstantPlayback(), prompts=prompts, store=store,
                         end_call=self._end_call, on_intake=on_intake)
        self.trace: list[dict[str, Any]] = []
        self._deadline: tuple[str, float] | None = None
        self._prompted = False
        self._audio_start = 0.0
        self._heard: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()

    @property
    def now(self) -> float:
        return self.clock

    @property
    def finished(self) -> bool:
        return (self.failed or self.ended_by_ivr or self.state is None or self.state.ended)

    def _end_call(self) -> None:
        self.ended_by_ivr = True

    # --- actions: timers are virtual, the rest as on a live call ----------------------

    def _perform(self, action: Action) -> None:
        if isinstance(action, StartTimer):
            self._deadline = (action.timer_id, self.clock + action.seconds)
        elif isinstance(action, CancelTimer):
            self._deadline = None
        else:
            super()._perform(action)
        if isinstance(action, NodeEntered):
            self.trace.append({"node": action.node_id, "type": action.node_type,
                               "entered_at": round(action.at, 2), "inputs": [],
                               "actions": [], "exit": None, "key": None, "left_at": None})
        elif isinstance(action, NodeExited):
            if self.trace:
                self.trace[-1].update(exit=action.reason, key=action.key,
                                      left_at=round(action.at, 2))
        elif self.trace:
            self.trace[-1]["actions"].append(action_to_dict(action))
        if isinstance(action, PlayPrompt):
            self._prompted = True

    def _label(self, text: str) -> None:
        if self.trace:
            self.trace[-1]["inputs"].append(text)

    async def settle(self) -> None:
        """Let the prompt player (and a failed transfer's answer) run until the IVR waits."""
        while True:
            await asyncio.sleep(0)
            player = self._player
            if player is None or player.done():
                return
            await player

    async def advance(self, to: float) -> None:
        """Move the clock to ``to``, firing every timer that runs out on the way."""
        await self.settle()
        while self._deadline is not None and self._deadline[1] <= to and not self.finished:
            timer_id, when = self._deadline
            self._deadline = None
            self.clock = max(self.clock, when)
            self._label("silence")
            self.feed(Timeout(timer_id, at=self.clock))
            await self.settle()
        self.clock = max(self.clock, to)

    async def expire(self) -> None:
        if self._deadline is not None:
            await self.advance(self._deadline[1])

    # --- scripted inputs ----------------------------------------------------------------

    async def give(self, text: str) -> None:
        """One scripted turn (the simulator's syntax); then the caller waits for an answer."""
        if self.finished:
            return
        self._prompted = False
        if text in SILENCE:
            await self.expire()
            return
        if text == HANGUP:
            self.clock += 1.0
            self._label("hangup")
            self.caller_hung_up()
            return
        if is_keypad(text):
            for digit in text:
                self.clock += 0.5
                self._label(f"dtmf {digit}")
                self.dtmf(digit)
                await self.settle()
        else:
            self.clock += 0.3
            self.speech_started()
            self.clock += 0.2 * len(text) + 0.7
            self._label(f"speech {text}")
            self.utterance(text, 0.9)
        await self.settle()
        if not self._prompted:
            await self.expire()  # end of turn, inter-digit timer: the IVR answers then

    # --- the file's speech ----------------------------------------------------------------

    def hear(self, ev: TranscriptEvent) -> None:
        """Session listener: speech starts and finals, handled in order by
        :meth:`follow_audio`."""
        self._heard.put_nowait(ev)

    def hear_end(self) -> None:
        self._heard.put_nowait(None)

    async def follow_audio(self) -> None:
        self._audio_start = self.clock
        while (ev := await self._heard.get()) is not None:
            if self.finished:
                continue
            if ev.kind == "speech_started":
                await self.advance(self._audio_start + ev.start)
                self.speech_started()
            elif ev.kind == "final" and ev.text:
                await self.advance(self._audio_start + ev.end)
                self._label(f"speech {ev.text}")
                self.utterance(ev.text, ev.confidence)
            await self.settle()

    async def run_out(self) -> None:
        """The caller is silent after the file: the menu runs until it ends the call; if
        it never does, the caller hangs up."""
        for _ in range(_MAX_TIMEOUTS):
            await self.settle()
            if self.finished or self._deadline is None:
                break
            await self.expire()
        if not self.finished:
            self.clock += 1.0
            self._label("hangup")
            self.caller_hung_up()

    def trace_json(self) -> dict[str, Any]:
        return {"menu": self.menu.id, "menu_version": self.menu.version, "path": self.trace}
