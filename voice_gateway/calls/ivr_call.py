"""One call's walk through the IVR: the pure runtime's actions, carried out.

How it works. Inputs (keys, speech starts, final transcripts, the caller hanging up) are
turned into :mod:`ivr.events` and stepped through :func:`ivr.step`; the actions that come
back are performed here: prompts are queued and played over the call's media (a prompt
that finishes feeds ``PromptFinished`` back, a barge-in stops it), one timer runs at a
time on the loop clock, node entries and exits are stored as events for analytics, and
``SubmitIntake`` hands the confirmed keypad number to the call session. ``HangUp`` waits
for the queued prompts, then asks the transport to end the call.

If the runtime fails (a menu the validator should have refused), the IVR stops and the
call carries on as a plain intake: everything the caller says is still the appeal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from asr.audio import AudioFormatError, load_audio
from asr.engines.base import DecodeResult
from ivr import CallState, Menu, grammar_for, new_call, step
from ivr.errors import MenuError
from ivr.events import (
    Action,
    CallStarted,
    CancelTimer,
    Dtmf,
    HangUp,
    Hangup,
    InputFailed,
    IntakeFields,
    NodeEntered,
    NodeExited,
    PlayPrompt,
    PromptFinished,
    SpeechStarted,
    StartTimer,
    StopPrompt,
    SubmitIntake,
    Timeout,
    Transfer,
    TransferResult,
    Utterance,
    action_to_dict,
)
from ivr.events import (
    Event as IvrEvent,
)
from ivr.model import MenuNode
from ivr.prompts import prompt_path
from ivr.speech import normalise
from storage import Event, Store

log = logging.getLogger(__name__)

ANALYTICS_KINDS = {NodeEntered: "ivr_node", NodeExited: "ivr_exit", InputFailed: "ivr_input"}


# Decodes an utterance's audio (16 kHz PCM) under a grammar of phrases.
ChoiceDecoder = Callable[[bytes, tuple[str, ...]], Awaitable[DecodeResult]]


class Playback(Protocol):
    """What the IVR needs from the media: play 8 kHz PCM, and stop it (barge-in)."""

    async def play(self, pcm: bytes) -> object: ...

    def stop_playback(self) -> None: ...


class PromptLibrary:
    """Prompt audio from ``<prompt_dir>/<id>.wav`` as 8 kHz PCM, read once per process."""

    def __init__(self, prompt_dir: Path) -> None:
        self.prompt_dir = prompt_dir
        self._cache: dict[str, bytes | None] = {}

    def pcm(self, prompt_id: str) -> bytes | None:
        if prompt_id not in self._cache:
            try:
                audio = load_audio(prompt_path(self.prompt_dir, prompt_id)).resampled(8000)
                self._cache[prompt_id] = audio.pcm
            except (AudioFormatError, MenuError, OSError) as exc:
                log.warning("prompt %s has no usable audio (%s); skipped", prompt_id, exc)
                return None  # not cached: it may be rendered or uploaded later
        return self._cache[prompt_id]


class IvrCall:
    """Drives :mod:`ivr` for one call (see module docstring)."""

    def __init__(
        self,
        menu: Menu,
        *,
        call_id: str,
        caller_number: str | None,
        media: Playback,
        prompts: PromptLibrary,
        store: Store,
        end_call: Callable[[], None],
        on_intake: Callable[[IntakeFields], None],
        transfer: Callable[[Transfer], bool] | None = None,
        choice_decoder: ChoiceDecoder | None = None,
        abandon_transfer: Callable[[], None] | None = None,
    ) -> None:
        """``transfer`` starts a transfer to agents (SIP REFER) and says whether it could;
        its outcome comes back through :meth:`transfer_result`. Without it (a call from a
        file) every transfer fails at once and the menu goes on to the node's ``next``.
        ``abandon_transfer`` is called when the menu stops waiting for a transfer that is
        still under way (the node's timeout). ``choice_decoder`` decodes an utterance's
        audio again under a grammar of the current menu's words (Vosk); see :meth:`final`."""
        self.menu = menu
        self.call_id = call_id
        self.caller_number = caller_number
        self.media = media
        self.prompts = prompts
        self.store = store
        self.end_call = end_call
        self.on_intake = on_intake
        self.transfer = transfer
        self.choice_decoder = choice_decoder
        self.abandon_transfer = abandon_transfer
        self._transferring = False
        self._hearing: asyncio.Task[None] | None = None  # finals reach the runtime in order
        self._hearings: set[asyncio.Task[None]] = set()
        self._closed = False
        self.state: CallState | None = None
        self.path: list[str] = []
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        self._queue: deque[PlayPrompt] = deque()
        self._player: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._hangup_requested = False
        self._writes: list[asyncio.Task[None]] = []
        self.failed = False

    @property
    def now(self) -> float:
        return self._loop.time() - self._t0

    # --- inputs ---------------------------------------------------------------------

    def start(self) -> None:
        self.state = new_call(self.menu)
        self.feed(CallStarted(datetime.now(UTC), self.caller_number, at=0.0))

    def dtmf(self, digit: str) -> None:
        self.feed(Dtmf(digit, at=self.now))

    def speech_started(self) -> None:
        self.feed(SpeechStarted(at=self.now))

    def utterance(self, text: str, confidence: float,
                  alternatives: tuple[str, ...] = ()) -> None:
        if text or alternatives:
            self.feed(Utterance(text, confidence, at=self.now, alternatives=alternatives))

    def final(self, text: str, confidence: float, pcm: bytes = b"") -> None:
        """A final transcript. At a menu that takes spoken choices, with a
        ``choice_decoder`` and the utterance's audio, the audio is first decoded again
        under the menu's grammar (its keywords and key names, plus ``[unk]``): free
        recognition of a short word like 人工 is the weak case, and the constrained
        reading goes along as an alternative. The free text is still what is kept."""
        if self._closed:
            return
        phrases = self.grammar() if self.choice_decoder is not None and pcm else None
        previous = self._hearing
        if phrases is None and (previous is None or previous.done()):
            self.utterance(text, confidence)
            return
        node_id = self.state.node_id if self.state is not None else None

        async def hear() -> None:
            alternatives: tuple[str, ...] = ()
            if phrases is not None and self.choice_decoder is not None:
                try:
                    result = await self.choice_decoder(pcm, phrases)
                except Exception as exc:
                    log.warning("call %s: grammar decode failed (%s)", self.call_id[:8], exc)
                else:
                    if self._whole_reading(result, text):
                        alternatives = (result.text,)
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            if self.state is None or self.state.node_id != node_id:
                alternatives = ()  # the menu moved on (a key): the reading is stale
            self.utterance(text, confidence, alternatives)

        self._hearing = task = asyncio.ensure_future(hear())
        self._hearings.add(task)
        task.add_done_callback(self._hearings.discard)

    def _whole_reading(self, reading: DecodeResult, free_text: str) -> bool:
        """A grammar reading counts only as a reading of the whole utterance: Vosk drops
        [unk] words and a model without [unk] forces speech onto the grammar, so a
        sentence that only contains 一 (一号楼漏水) must not come back as key 1."""
        if not reading.text or reading.unknown_words:
            return False
        if reading.confidence < self._min_confidence():
            return False
        heard, read = normalise(free_text), normalise(reading.text)
        return len(read) * 2 >= len(heard)  # not a scrap of a longer free reading

    def grammar(self) -> tuple[str, ...] | None:
        """The grammar for the node the caller is at, if it takes spoken choices."""
        state = self.state
        if state is None or self.failed or state.ended or not isinstance(state.node, MenuNode):
            return None
        phrases = grammar_for(state.node)
        return tuple(phrases) if len(phrases) > 1 else None  # more than [unk] alone

    def _min_confidence(self) -> float:
        node = self.state.node if self.state is not None else None
        return node.min_confidence if isinstance(node, MenuNode) else 0.0

    def transfer_result(self, ok: bool) -> None:
        """The transfer started by a :class:`Transfer` action succeeded or failed."""
        self._transferring = False
        self.feed(TransferResult(ok, at=self.now))

    def caller_hung_up(self) -> None:
        self.feed(Hangup(at=self.now))
        self._stop()

    def feed(self, event: IvrEvent) -> None:
        if self.state is None or self.failed or self._closed:
            return
        try:
            self.state, actions = step(self.state, event)
        except (MenuError, KeyError) as exc:
            log.error("call %s: IVR stopped (%s); the call continues as intake",
                      self.call_id[:8], exc)
            self.failed = True
            self._stop()
            return
        for action in actions:
            self._perform(action)

    # --- actions --------------------------------------------------------------------

    def _perform(self, action: Action) -> None:
        if isinstance(action, PlayPrompt):
            self._queue.append(action)
            if self._player is None or self._player.done():
                self._player = asyncio.ensure_future(self._play_queue())
        elif isinstance(action, StopPrompt):
            self._queue.clear()
            self.media.stop_playback()
        elif isinstance(action, StartTimer):
            self._cancel_timer()
            timer_id = action.timer_id
            self._timer = self._loop.call_later(
                action.seconds, lambda: self.feed(Timeout(timer_id, at=self.now)))
        elif isinstance(action, CancelTimer):
            self._cancel_timer()
        elif isinstance(action, Transfer):
            if self.transfer is not None and self.transfer(action):
                self._transferring = True
            else:
                # No agents reachable: the runtime goes on (to intake), the caller is heard.
                self._loop.call_soon(self.feed, TransferResult(False, at=self.now))
        elif isinstance(action, HangUp):
            self._hangup_requested = True
            if self._player is None or self._player.done():
                self.end_call()
        elif isinstance(action, SubmitIntake):
            self.on_intake(action.fields)
        if isinstance(action, NodeEntered):
            self.path.append(action.node_id)
        if (isinstance(action, NodeExited) and action.reason == "transfer_failed"
                and self._transferring):
            # The node timed out on a transfer still under way: stop waiting for it.
            self._transferring = False
            if self.abandon_transfer is not None:
                self.abandon_transfer()
        kind = ANALYTICS_KINDS.get(type(action))
        if kind is not None:
            payload = {**action_to_dict(action), "menu": self.menu.id,
                       "menu_version": self.menu.version}
            # One write after another, so the stored (and published) order is the call's.
            previous = self._writes[-1] if self._writes else None
            self._writes.append(asyncio.ensure_future(
                self._record_after(previous, Event(kind, self.call_id, payload))))

    async def _record_after(self, previous: asyncio.Task[None] | None, event: Event) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        await self.store.record_event(event)

    async def _play_queue(self) -> None:
        while self._queue:
            prompt = self._queue.popleft()
            pcm = self.prompts.pcm(prompt.prompt_id)
            if pcm is not None:
                try:
                    result = await self.media.play(pcm)
                except RuntimeError:  # the media closed under us: the call is ending
                    return
                if not getattr(result, "completed", True):
                    # Stopped (barge-in): the stop cleared the queue, so what is in it now
                    # was queued after, e.g. the next node's prompt. It plays.
                    continue
            self.feed(PromptFinished(prompt.prompt_id, at=self.now))
        if self._hangup_requested:
            self.end_call()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _stop(self) -> None:
        self._cancel_timer()
        self._queue.clear()
        if self._player is not None and not self._player.done():
            self._player.cancel()

    async def close(self) -> None:
        """Stop timers and playback; wait until the analytics events are stored."""
        self._stop()
        self._closed = True
        for task in list(self._hearings):
            task.cancel()
        if self._player is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
