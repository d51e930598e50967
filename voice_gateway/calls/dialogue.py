"""A dialogue call from a script: each turn waits for an IVR prompt, then speaks or keys.

``voice-intake call --script TURNS.json`` plays the caller's side of a call through the
real IVR and call machine on the virtual clock, as :mod:`voice_gateway.calls.file_call`
does for one file. The script is a JSON list of turns::

    [{"after": "intake_problem", "say": "problem.wav"},
     {"after": "intake_phone", "keys": "13800001111#"}, ...]

Each turn waits until the IVR plays the prompt ``after`` (its next play after the previous
turn's), letting the IVR's timers run out meanwhile on the virtual clock (the end of the
caller's turn, a question not answered). Then it presses ``keys`` (DTMF, one every 0.5 s)
and/or plays ``say``, a WAV file relative to the script's folder. The caller's audio is one
stream: the gaps between turns are silence, so a final's time in the audio is its time in
the call. After a turn's speech the recognizer's finals are all handed to the machine
before the next turn. A turn whose prompt never comes (the menu ended the call) is not
played; after the last turn the caller is silent until the menu ends the call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.audio import PcmAudio, load_audio
from ivr import Menu
from ivr import events as ivr
from voice_gateway.calls import machine as m
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.file_call import (
    FileCallResult,
    _expire,
    _menu_over,
    feed_audio,
    run_virtual_call,
)
from voice_gateway.calls.runner import CallRunner
from voice_gateway.services import Services

KEY_GAP_S = 0.5  # between two keys of one turn
TAIL_S = 1.0  # silence after a turn's speech, so that the VAD ends the utterance itself
_MAX_WAITS = 200  # timers run out while waiting for one prompt: more than a menu needs


@dataclass(frozen=True)
class DialogueResult(FileCallResult):
    """The call, plus what its draft was made from beside the transcript and the answers
    decoded again for their question: the IVR's results."""

    keypad_phone: str | None = None
    menu_choices: tuple[str, ...] = ()


class ScriptError(ValueError):
    """A script that cannot be played; the message says which turn and why."""


@dataclass(frozen=True)
class Turn:
    after: str  # the prompt id the turn answers
    say: Path | None = None
    keys: str = ""


def load_script(path: Path) -> list[Turn]:
    """The turns of ``path`` (see the module docstring), files resolved and checked."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScriptError(f"{path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise ScriptError(f"{path}: expected a non-empty JSON list of turns")
    turns: list[Turn] = []
    for i, item in enumerate(raw, 1):
        where = f"{path.name}: turn {i}"
        if not isinstance(item, dict) or not isinstance(item.get("after"), str):
            raise ScriptError(f"{where}: expected an object with 'after' (a prompt id)")
        unknown = set(item) - {"after", "say", "keys"}
        if unknown:
            raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
        say, keys = item.get("say"), item.get("keys", "")
        if say is None and not keys:
            raise ScriptError(f"{where}: needs 'say' (a WAV file) or 'keys'")
        if not isinstance(keys, str) or any(k not in "0123456789*#" for k in keys):
            raise ScriptError(f"{where}: 'keys' must be DTMF digits (0-9, *, #)")
        wav = None
        if say is not None:
            if not isinstance(say, str):
                raise ScriptError(f"{where}: 'say' must be a file name")
            wav = path.parent / say
            if not wav.is_file():
                raise ScriptError(f"{where}: no such file {wav}")
        turns.append(Turn(item["after"], wav, keys))
    return turns


def _load_turn_audio(turns: list[Turn]) -> dict[Path, PcmAudio]:
    """Every file the script says, at the first one's sample rate."""
    audio: dict[Path, PcmAudio] = {}
    rate = 0
    for turn in turns:
        if turn.say is None or turn.say in audio:
            continue
        a = load_audio(turn.say)
        rate = rate or a.sample_rate
        audio[turn.say] = a if a.sample_rate == rate else a.resampled(rate)
    return audio


class _Caller:
    """The caller's side of the call: one audio stream, silence between turns."""

    def __init__(self, runner: CallRunner, media: CallAudio, rate: int) -> None:
        self.runner, self.media, self.rate = runner, media, rate
        self.fed = 0  # samples pushed
        self.started = self.finished = 0  # recognizer events handed to the machine
        inner = runner.deliver

        async def counted(event: m.Event, raw: Any = None) -> None:
            self.started += 1
            try:
                await inner(event, raw)
            finally:
                self.finished += 1

        runner.deliver = counted  # type: ignore[method-assign]
        self.prompts_seen = 0  # IVR actions already looked through for prompts

    async def until_prompt(self, prompt_id: str) -> bool:
        """Wait (running timers out) until the IVR plays ``prompt_id``; False if the
        menu ends first."""
        runner = self.runner
        for _ in range(_MAX_WAITS):
            await runner.idle()
            log = runner.machine.ivr_log
            for i in range(self.prompts_seen, len(log)):
                action = log[i]
                if isinstance(action, ivr.PlayPrompt) and action.prompt_id == prompt_id:
                    self.prompts_seen = i + 1
                    return True
            self.prompts_seen = len(log)
            if _menu_over(runner) or runner.next_deadline() is None:
                return False
            await _expire(runner)
        return False

    async def keys(self, digits: str) -> None:
        runner = self.runner
        for digit in digits:
            runner.clock += KEY_GAP_S
            runner.post(m.Dtmf(digit, "script"))
            await runner.idle()

    async def silence_until(self, seconds: float) -> None:
        """Silence until ``seconds`` into the caller's audio."""
        samples = int(seconds * self.rate) - self.fed
        if samples > 0:
            await self.push(PcmAudio(b"\x00\x00" * samples, self.rate))

    async def push(self, audio: PcmAudio) -> None:
        await feed_audio(self.media.push, audio)
        self.fed += len(audio.pcm) // 2

    async def say(self, audio: PcmAudio) -> None:
        """The turn's speech now, then every final it makes handed to the machine."""
        runner = self.runner
        await self.silence_until(runner.clock - runner.audio_offset)
        await self.push(audio)
        await self.silence_until(self.fed / self.rate + TAIL_S)
        stream = self.media.stream
        if stream is not None:
            stream.flush()
        await self._settle()

    async def _settle(self) -> None:
        stream = self.media.stream
        before = len(self.runner.machine.utterances)
        while True:
            pending = getattr(stream, "pending", None)
            if pending is None:  # a stream that cannot say (Vosk): one final at least
                if len(self.runner.machine.utterances) > before:
                    break
            elif pending == 0 and self.started == self.finished:
                break
            if self.runner.finished.is_set():
                return
            await asyncio.sleep(0.01)
        await self.runner.idle()


async def call_with_script(services: Services, script: Path, caller_number: str | None,
                           menu: Menu) -> DialogueResult:
    """Play ``script`` (see the module docstring) into a new call through ``menu``."""
    if services.pool is None:
        raise RuntimeError("a call needs the ASR worker pool")
    turns = await asyncio.to_thread(load_script, script)
    audio = await asyncio.to_thread(_load_turn_audio, turns)
    rate = next(iter(audio.values())).sample_rate if audio else 8000
    plan = m.CallPlan(caller_number, menu,
                      decode_answers=services.settings.asr.question_decoding,
                      second_pass=services.settings.asr.second_pass)
    machine = m.CallMachine(plan)

    def caller(runner: CallRunner, media: CallAudio) -> Callable[[], Awaitable[None]]:
        side = _Caller(runner, media, rate)  # counts deliveries: before the call starts

        async def play() -> None:
            runner.audio_offset = runner.clock
            runner.post(m.MediaStarted("file"))
            for turn in turns:
                if not await side.until_prompt(turn.after):
                    break
                if turn.keys:
                    await side.keys(turn.keys)
                if turn.say is not None:
                    await side.say(audio[turn.say])

        return play

    outcome = await run_virtual_call(services, machine, caller_number, rate, caller)
    return DialogueResult(outcome, machine.trace_json(), machine.sorted_answers,
                          machine.keypad_phone, machine.menu_choices)
