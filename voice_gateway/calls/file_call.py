"""A simulated inbound call from an audio file: the call machine on a virtual clock.

The same :class:`~voice_gateway.calls.machine.CallMachine` and
:class:`~voice_gateway.calls.runner.CallRunner` as a live call, with a file for transport.
A file has no real-time media, so the call runs on a virtual clock: prompts are over as
soon as they start, scripted inputs (``--input``, the simulator's syntax: keys,
``<silence>``, ``<hangup>`` or speech text) come first, one turn each, then the file's
speech, at its own times in the audio. A timer fires when the virtual clock passes its
deadline, not after real seconds, so the path does not depend on how fast the machine
recognises speech. When the file ends the caller is silent: timers run out until the menu
ends the call, else the caller hangs up. Every word of the file is transcribed and
drafted, even after the menu has ended the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.audio import PcmAudio, load_audio
from ivr import Menu
from ivr.simulator import HANGUP, SILENCE, is_keypad
from storage import StoredUtterance
from storage.repository import new_id
from voice_gateway.calls import machine as m
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.machine import AnswerRow
from voice_gateway.calls.menus import MenuSource
from voice_gateway.calls.runner import CallRunner, stored_utterance
from voice_gateway.services import Services

log = logging.getLogger(__name__)

FRAME_MS = 20
_MAX_TIMEOUTS = 200  # silence after the file: more than any valid menu needs to end


class CallNotStored(RuntimeError):
    """Storage could not take the call (the CLI says so and exits 1)."""


@dataclass(frozen=True)
class CallOutcome:
    call_id: str
    transcript: str
    utterances: list[StoredUtterance]
    draft: dict[str, Any]


@dataclass(frozen=True)
class FileCallResult:
    outcome: CallOutcome
    ivr: dict[str, Any] | None  # menu, menu_version and the path taken; None without IVR
    # The utterances decoded again for a question (question, free, biased): intake
    # answers and the second pass (asr.second_pass), in the order they were said.
    answers: tuple[AnswerRow, ...] = ()


class FileTransport:
    """A file as the call's transport: answered at once, prompts instant, no peer."""

    def __init__(self) -> None:
        self.fed = asyncio.Event()

    async def prepare(self) -> None:
        pass

    def answer(self) -> bool:
        return True

    def reject(self, status: int, reason: str, retry_after: int | None) -> None:
        pass

    def send_bye(self) -> None:
        pass

    def refer(self, target: str) -> bool:
        return False  # no agents behind a file: the menu goes on to the node's next

    def abandon_transfer(self) -> None:
        pass

    async def play(self, pcm: bytes) -> bool:
        return True

    def stop_playback(self) -> None:
        pass

    async def end_media(self) -> None:
        await self.fed.wait()  # the whole file is the caller's audio

    def close(self) -> None:
        self.fed.set()


async def call_from_file(services: Services, path: Path, caller_number: str | None,
                         ) -> CallOutcome:
    """Play ``path`` into a new call as 20 ms frames, then hang up and draft (no IVR)."""
    return (await call_through_menu(services, path, caller_number, None)).outcome


async def call_through_menu(services: Services, path: Path, caller_number: str | None,
                            menu: Menu | None, inputs: Sequence[str] = ()) -> FileCallResult:
    """A call from a file that walks ``menu`` first with the scripted ``inputs`` (see the
    module docstring); without a menu, the plain intake pipeline."""
    if services.pool is None:
        raise RuntimeError("a call needs the ASR worker pool")
    audio = await asyncio.to_thread(load_audio, path)
    machine = m.CallMachine(m.CallPlan(caller_number, menu,
                                       second_pass=services.settings.asr.second_pass))

    def caller(runner: CallRunner, media: CallAudio) -> Callable[[], Awaitable[None]]:
        async def play() -> None:
            for text in inputs:
                await _give(runner, text)
            runner.audio_offset = runner.clock
            runner.post(m.MediaStarted("file"))
            await feed_audio(media.push, audio)

        return play

    outcome = await run_virtual_call(services, machine, caller_number, audio.sample_rate,
                                     caller)
    return FileCallResult(outcome, machine.trace_json(), machine.sorted_answers)


async def run_virtual_call(
    services: Services,
    machine: m.CallMachine,
    caller_number: str | None,
    sample_rate: int,
    caller: Callable[[CallRunner, CallAudio], Callable[[], Awaitable[None]]],
) -> CallOutcome:
    """Run ``machine`` as a call on the virtual clock with a file transport. ``caller`` is
    given the runner and the call's audio before the call starts and returns the caller's
    side, run once the call is answered and stored; when that returns the caller is
    silent, the menu runs out (if there is one) and the caller hangs up. The call is
    drafted however the caller's side ends (an error, Ctrl-C)."""
    assert services.pool is not None
    call_id = new_id()
    transport = FileTransport()
    media = CallAudio.open(services.settings, services.pool, call_id, sample_rate)
    runner = CallRunner(services, machine, transport, media, call_id=call_id, source="file",
                        caller_number=caller_number, virtual_clock=True)
    play = caller(runner, media)
    task = runner.start(m.Offered())
    try:
        await _until_answered(runner)
        if not runner.stored_ok:
            raise CallNotStored("storage could not take the call")
        await runner.idle()
        await play()
        transport.fed.set()
        await media.drained()  # every final has reached the machine, at its audio time
        if machine.plan.menu is not None:
            await _run_out(runner)
        if machine.phase == "live":
            runner.clock += 1.0
            runner.post(m.HungUp("end_of_file"))
    finally:
        transport.fed.set()
        if not task.done() and machine.phase == "live":
            # Interrupted (an error, Ctrl-C): the call still ends and is drafted.
            runner.post(m.HungUp("interrupted", by_caller=False))
        await task
    if runner.drafted is None:
        raise CallNotStored("the call's draft could not be stored")
    utterances = [stored_utterance(i, u) for i, u in enumerate(machine.utterances)]
    return CallOutcome(call_id, machine.transcript, utterances, runner.drafted)


async def _until_answered(runner: CallRunner) -> None:
    live = asyncio.ensure_future(runner.live.wait())
    done = asyncio.ensure_future(runner.finished.wait())
    try:
        await asyncio.wait({live, done}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        live.cancel()
        done.cancel()


def _menu_over(runner: CallRunner) -> bool:
    mc = runner.machine
    return mc.phase != "live" or mc.ivr is None or mc.ivr_failed or mc.ivr.ended


async def _expire(runner: CallRunner) -> None:
    deadline = runner.next_deadline()
    if deadline is not None:
        await runner.advance(deadline)


async def _give(runner: CallRunner, text: str) -> None:
    """One scripted turn (the simulator's syntax); then the caller waits for an answer."""
    if _menu_over(runner):
        return
    prompted = runner.machine.prompts_played
    if text in SILENCE:
        await _expire(runner)
        return
    if text == HANGUP:
        runner.clock += 1.0
        runner.post(m.HungUp("end_of_file"))
        await runner.idle()
        return
    if is_keypad(text):
        for digit in text:
            runner.clock += 0.5
            runner.post(m.Dtmf(digit, "script"))
            await runner.idle()
    else:
        runner.clock += 0.3
        runner.post(m.SpeechBegan())
        await runner.idle()
        runner.clock += 0.2 * len(text) + 0.7
        runner.post(m.ScriptedSpeech(text))
    await runner.idle()
    if runner.machine.prompts_played == prompted:
        await _expire(runner)  # end of turn, inter-digit timer: the IVR answers then


async def _run_out(runner: CallRunner) -> None:
    """The caller is silent after the file: the menu runs until it ends the call."""
    for _ in range(_MAX_TIMEOUTS):
        await runner.idle()
        if _menu_over(runner) or runner.next_deadline() is None:
            return
        await _expire(runner)


async def configured_menu(services: Services) -> Menu | None:
    """The menu a call starts with now, exactly as for a live call
    (:class:`~voice_gateway.calls.menus.MenuSource`)."""
    return await MenuSource(services.settings.ivr, services.store).current()


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


