"""One task per call: the call machine's actions performed, their outcomes fed back.

How it works. A :class:`CallRunner` owns one :class:`CallMachine`, one :class:`CallAudio`
and one transport (SIP, a file, recovery), and lives in one task, :meth:`run`, whose whole
body is a ``try/finally``: whatever raises, the transport is told (a final response to an
INVITE, a BYE to a live call), the media and recordings are closed, the slot is released,
and a call that was stored is drafted from what was heard (or left ``active`` for the
start-up recovery when even that fails).

- Events come in through :meth:`post` (transports' callbacks, timers; never dropped
  except floods of keys) and :meth:`deliver` (the recognizer's events, awaited, so the
  inbox is bounded and a slow call slows its own recognizer, nobody else).
- Everything the call stores goes through one ordered writer task, retried, so the stored
  order is the call's and a failed write is logged and reported, never raised.
- Prompts play in order from a queue; a stop (barge-in) clears it.
- Timers run on the loop clock, or on a virtual clock that a file call moves forward
  (:meth:`advance`), so a simulated call takes the path a live one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from asr.engines.base import DecodeRequest
from asr.stream import TranscriptEvent
from ivr import Menu
from storage import Event as StoredEvent
from storage import StoredUtterance
from storage.retry import with_retries
from voice_gateway import metrics
from voice_gateway.calls import machine as m
from voice_gateway.calls.answers import decode_answer
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.calls.prompts import PromptLibrary
from voice_gateway.logs import CALL_ID, IVR_NODE
from voice_gateway.services import Services

log = logging.getLogger(__name__)

INBOX_LIMIT = 256  # recognizer events waiting for the machine before the recognizer waits
WRITES_LIMIT = 512  # queued writes of one call beyond which keys and analytics are dropped
DROPPABLE_WRITES = frozenset({"dtmf", "ivr_node", "ivr_exit", "ivr_input", "transfer"})
WRITE_ATTEMPTS = 3
WRITE_RETRY_S = 0.2
DRAIN_TIMEOUT_S = 30.0
_DROPPABLE = (m.Dtmf, m.SpeechBegan)


class CallTransport(Protocol):
    """What a runner needs from whatever carries the call."""

    async def prepare(self) -> None:
        """Media ready (an RTP port bound, 180 sent); raising rejects the call with 503."""

    def answer(self) -> bool: ...

    def reject(self, status: int, reason: str, retry_after: int | None) -> None: ...

    def send_bye(self) -> None: ...

    def refer(self, target: str) -> bool: ...

    def abandon_transfer(self) -> None: ...

    async def play(self, pcm: bytes) -> bool:
        """Play 8 kHz PCM; True when played to the end, False when stopped."""

    def stop_playback(self) -> None: ...

    async def end_media(self) -> None:
        """Stop taking media; whatever is buffered is pushed to the call's audio first."""

    def close(self) -> None:
        """Release the media (port, sockets); called once, last."""


class CallRunner:
    """Drives one call (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        machine: m.CallMachine,
        transport: CallTransport,
        audio: CallAudio,
        *,
        call_id: str,
        source: str,
        caller_number: str | None,
        caller_raw: str | None = None,
        prompts: PromptLibrary | None = None,
        virtual_clock: bool = False,
        on_done: Callable[[CallRunner], None] | None = None,
        setup_deadline_s: float | None = None,
        draft_on_failure: bool = True,
        menu_source: Callable[[], Awaitable[Menu | None]] | None = None,
        conclude: Callable[[m.Draft], Awaitable[dict[str, object] | None]] | None = None,
    ) -> None:
        """``conclude`` replaces drafting a work order at the call's end (a survey
        callback stores its answers instead)."""
        self.services = services
        self.machine = machine
        self.transport = transport
        self.audio = audio
        self.call_id = call_id
        self.source = source
        self.caller_number = caller_number
        self.caller_raw = caller_raw
        self.prompts = prompts
        self.virtual = virtual_clock
        self.on_done = on_done
        self.setup_deadline_s = setup_deadline_s
        self.draft_on_failure = draft_on_failure
        self.menu_source = menu_source
        self.conclude = conclude
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.clock = 0.0  # virtual seconds since the call was offered
        self.audio_offset = 0.0  # virtual time at which the file's audio starts
        self._inbox: deque[m.Event] = deque()
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._idle = asyncio.Event()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._deadlines: dict[str, tuple[float, int]] = {}
        self._writes: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]] | None] = (
            asyncio.Queue())
        self._writer: asyncio.Task[None] | None = None
        self._plays: deque[m.Play] = deque()
        # Counts StopPlayback actions: a prompt still loading when one comes is not played.
        self._stops = 0
        self._player: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self.stored_ok = False
        self.drafted: dict[str, object] | None = None
        self.live = asyncio.Event()
        self.finished = asyncio.Event()
        self._stopping = False  # winding up: nobody waits on the inbox any more
        self.writes_dropped = 0
        self.task: asyncio.Task[None] | None = None
        # Captions for the caller (a browser call's page): ("prompt", text) as a prompt
        # starts, ("heard", text) for each final.
        self.on_caption: Callable[[str, str], None] | None = None

    # --- inputs -----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock if self.virtual else self.loop.time() - self.t0

    def post(self, event: m.Event) -> None:
        """An event for the machine. Control events are never dropped (each comes once per
        action); keys and speech starts beyond the inbox limit are (a flood)."""
        if len(self._inbox) >= INBOX_LIMIT and isinstance(event, _DROPPABLE):
            self.dropped += 1
            return
        self._inbox.append(event)
        self._idle.clear()
        self._wake.set()

    async def deliver(self, event: m.Event, raw: TranscriptEvent | None = None) -> None:
        """A recognizer event: waits while the inbox is full (back-pressure). On a
        virtual clock the event happens at its time in the audio: timers due before it
        fire first, and it is handled before the next one comes."""
        if self.virtual and raw is not None:
            offset = self.audio_offset
            await self.advance(offset + (raw.start if raw.kind == "speech_started"
                                         else raw.end))
            self.post(event)
            await self.idle()
            return
        while len(self._inbox) >= INBOX_LIMIT and not self._stopping:
            self._space.clear()
            await self._space.wait()
        self.post(event)

    async def idle(self) -> None:
        """Until the machine has handled everything posted so far (file calls)."""
        while self._inbox or not self._idle.is_set():
            if self._stopping:
                return
            self._idle.clear()
            await self._idle.wait()
            await asyncio.sleep(0)

    async def advance(self, to: float) -> None:
        """Virtual clock: move to ``to``, firing every timer due on the way, in order."""
        await self.idle()
        while self._deadlines and not self._stopping:
            name, (when, gen) = min(self._deadlines.items(), key=lambda kv: kv[1][0])
            if when > to:
                break
            del self._deadlines[name]
            self.clock = max(self.clock, when)
            self.post(m.TimerFired(name, gen))
            await self.idle()
        self.clock = max(self.clock, to)

    def next_deadline(self) -> float | None:
        return min(when for when, _gen in self._deadlines.values()) if self._deadlines else None

    # --- the task -----------------------------------------------------------------------

    def start(self, first: m.Event) -> asyncio.Task[None]:
        """Start the call's task with its first event (Offered, or Recover)."""
        self.post(first)
        if isinstance(first, m.Recover):  # answered and stored long ago
            self.live.set()
            self.stored_ok = True
        self.task = asyncio.create_task(self.run(), name=f"call-{self.call_id[:8]}")
        return self.task

    async def run(self) -> None:
        CALL_ID.set(self.call_id)  # every record of this task and its children names the call
        metrics.call_started(self.source)
        self._writer = asyncio.create_task(self._write_loop())
        failed: BaseException | None = None
        try:
            if isinstance(self._inbox[0], m.Offered):
                if self.menu_source is not None:
                    # The menu published now; the call keeps it. Bounded by the lookup's
                    # own timeout, after which the last good version is used.
                    self.machine.choose_menu(await self.menu_source())
                await self.transport.prepare()
            self.audio.start(self.deliver)
            while not self.machine.done:
                if not self._inbox:
                    self._idle.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                event = self._inbox.popleft()
                self._space.set()
                self._perform_all(self.machine.handle(m.replace_at(event, self.now())))
        except BaseException as exc:
            failed = exc
            raise
        finally:
            await self._wind_up(failed)

    def _perform_all(self, actions: list[m.Action]) -> None:
        for action in actions:
            self._perform(action)

    def _perform(self, action: m.Action) -> None:
        if isinstance(action, m.StoreCall):
            self._spawn(self._store_call())
        elif isinstance(action, m.StartTimer):
            self._start_timer(action.name, action.seconds, action.gen)
        elif isinstance(action, m.CancelTimer):
            self._cancel_timer(action.name)
        elif isinstance(action, m.Answer):
            ok = self.transport.answer()
            if ok:
                if not self.virtual:
                    metrics.CALL_SETUP.observe(self.now())  # the INVITE came at t0
                self.live.set()
                self.audio.open_recording()
            # Handled now, before anything already in the inbox: a hang-up queued behind
            # it must find the call answered (and send a BYE), not ringing.
            self._perform_all(self.machine.handle(
                m.Answered(datetime.now(UTC), ok, at=self.now())))
        elif isinstance(action, m.Reject):
            self.transport.reject(action.status, action.reason, action.retry_after)
        elif isinstance(action, m.Play):
            self._plays.append(action)
            if self._player is None or self._player.done():
                self._player = self._spawn(self._play_queue())
        elif isinstance(action, m.StopPlayback):
            self._plays.clear()
            self._stops += 1
            self.transport.stop_playback()
        elif isinstance(action, m.StoreEvent):
            if action.kind == "ivr_node":  # the call's later records say where it is
                IVR_NODE.set(str(action.payload.get("node_id")))
            event = StoredEvent(action.kind, self.call_id, dict(action.payload))
            self._write(action.kind, lambda: self.services.store.record_event(event))
        elif isinstance(action, m.StoreUtterance):
            self._store_utterance(action)
        elif isinstance(action, m.DecodeChoice):
            self._spawn(self._decode_choice(action))
        elif isinstance(action, m.DecodeAnswer):
            self._spawn(self._decode_answer(action))
        elif isinstance(action, m.Refer):
            if not self.transport.refer(action.target):
                self.post(m.TransferUpdate(None, done=True, ok=False))
        elif isinstance(action, m.AbandonTransfer):
            self.transport.abandon_transfer()
        elif isinstance(action, m.SendBye):
            self.transport.send_bye()
        elif isinstance(action, m.EndMedia):
            self._spawn(self._end_media())
        elif isinstance(action, m.Draft):
            self._write("draft", lambda: self._draft(action), own_outcome=True)
        elif isinstance(action, m.CloseUnanswered):
            reason = action.reason
            self._write("close", lambda: self._close_unanswered(reason))
        elif isinstance(action, m.Finished):
            log.info("call %s finished (%s)", self.call_id[:8], action.reason)

    # --- actions ----------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("call %s: a task failed", self.call_id[:8], exc_info=exc)

    async def _store_call(self) -> None:
        store = self.services.store
        try:
            # With a deadline the store gives up in time and leaves nothing stored (an
            # INSERT stuck in the driver is not waited for, and is taken back if it lands).
            await store.create_call(self.source, self.caller_number, str(self.audio.path),
                                    self.services.engine_label, call_id=self.call_id,
                                    deadline_s=self.setup_deadline_s)
        except Exception as exc:  # whatever it was, the INVITE gets its answer
            reason = "stalled" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.error("call %s: not stored (%s)", self.call_id[:8], reason,
                      exc_info=not isinstance(exc, SQLAlchemyError | OSError))
            self.post(m.CallStored(False, reason))
            return
        self.stored_ok = True
        if self.caller_raw is not None and self.caller_number is None:
            event = StoredEvent("caller_id_invalid", self.call_id, {"raw": self.caller_raw})
            self._write("caller_id", lambda: store.record_event(event))
        self.post(m.CallStored(True))

    def _start_timer(self, name: str, seconds: float, gen: int) -> None:
        self._cancel_timer(name)
        if self.virtual:
            self._deadlines[name] = (self.clock + seconds, gen)
        else:
            self._timers[name] = self.loop.call_later(seconds, self.post,
                                                      m.TimerFired(name, gen))

    def _cancel_timer(self, name: str) -> None:
        self._deadlines.pop(name, None)
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    async def _play_queue(self) -> None:
        while self._plays:
            play = self._plays.popleft()
            completed = True
            try:
                if not self.virtual:
                    stops = self._stops
                    pcm = await self.prompts.pcm(play.prompt_id) if self.prompts else None
                    if self._stops != stops:
                        # Stopped while it loaded (a key barged in): never started, so
                        # the transport's stop_playback had nothing to stop.
                        completed = False
                        continue
                    self._caption("prompt", play.text)  # as it starts
                    if pcm:
                        completed = await self.transport.play(pcm)
            except Exception as exc:  # the media closed under us, or a bug: never silence
                log.warning("call %s: prompt %s not played (%s)", self.call_id[:8],
                            play.prompt_id, exc)
                completed = False
            finally:
                self.post(m.PromptDone(play.seq, completed))

    def _caption(self, kind: str, text: str) -> None:
        if self.on_caption is not None and text:
            try:
                self.on_caption(kind, text)
            except Exception:
                log.exception("call %s: caption failed", self.call_id[:8])

    def _store_utterance(self, action: m.StoreUtterance) -> None:
        self._caption("heard", action.final.text)
        u = stored_utterance(action.seq, action.final)
        self._write("utterance", lambda: self.services.store.add_utterance(self.call_id, u))

    async def _decode_choice(self, action: m.DecodeChoice) -> None:
        pool = self.services.pool
        try:
            assert pool is not None
            result = await pool.decode(DecodeRequest(action.pcm, grammar=action.phrases))
        except Exception as exc:
            log.warning("call %s: grammar decode failed (%s)", self.call_id[:8], exc)
            self.post(m.ChoiceReading(action.ref))
            return
        self.post(m.ChoiceReading(action.ref, result.text, result.confidence,
                                  bool(result.unknown_words)))

    async def _decode_answer(self, action: m.DecodeAnswer) -> None:
        text = ""
        try:
            text = await decode_answer(self.services, action)
        finally:  # the draft waits for every answer's reading, even a failed one
            self.post(m.AnswerReading(action.ref, text))

    async def _end_media(self) -> None:
        try:
            await self.transport.end_media()
            await self.audio.drained()
        except Exception:
            log.exception("call %s: media did not end cleanly", self.call_id[:8])
        finally:
            self.post(m.MediaDrained(self.audio.duration, self.audio.complete))

    async def _draft(self, action: m.Draft) -> None:
        store = self.services.store
        try:
            await self.audio.close()
            await with_retries(lambda: store.end_call(
                self.call_id, action.reason, action.duration_s,
                recording_complete=action.recording_complete), what="end_call",
                attempts=WRITE_ATTEMPTS, delay_s=WRITE_RETRY_S)
            conclude = self.conclude
            self.drafted = await with_retries(lambda: conclude(action) if conclude else (
                draft_and_store(self.services, self.call_id, action.transcript,
                                self.caller_number, action.keypad_phone,
                                action.menu_choices, action.readings, answers=action.answers)),
                what="draft",
                attempts=WRITE_ATTEMPTS, delay_s=WRITE_RETRY_S)
        except Exception as exc:
            log.error("call %s: not drafted (%s); left for recovery", self.call_id[:8],
                      type(exc).__name__, exc_info=not isinstance(exc, SQLAlchemyError | OSError))
            self.post(m.Drafted(False))
            return
        log.info("call %s drafted (%d utterances)", self.call_id[:8],
                 len(self.machine.utterances))
        self.post(m.Drafted(True))

    async def _close_unanswered(self, reason: str) -> None:
        await self.services.store.close_unanswered(self.call_id, reason)

    # --- the ordered writer -----------------------------------------------------------

    def _write(self, what: str, op: Callable[[], Awaitable[None]], *,
               own_outcome: bool = False) -> None:
        """Queue ``op`` behind the call's earlier writes. It is retried, then logged and
        reported as StorageFailed, unless it has ``own_outcome`` (the draft: it retries
        its steps itself and reports Drafted)."""
        if self._writes.qsize() >= WRITES_LIMIT and what in DROPPABLE_WRITES:
            # The database is stalled and the call keeps producing keys and analytics:
            # those give way; utterances, IVR results and the draft never do.
            self.writes_dropped += 1
            if self.writes_dropped in (1, 100, 1000):
                log.warning("call %s: %d event write(s) dropped behind a stalled database",
                            self.call_id[:8], self.writes_dropped)
            return

        async def guarded() -> None:
            try:
                await with_retries(op, what=what, attempts=WRITE_ATTEMPTS,
                                   delay_s=WRITE_RETRY_S)
            except (SQLAlchemyError, OSError) as exc:
                log.error("call %s: %s not stored after %d attempts (%s)", self.call_id[:8],
                          what, WRITE_ATTEMPTS, type(exc).__name__)
                self.post(m.StorageFailed(what))

        self._writes.put_nowait((what, op if own_outcome else guarded))

    async def _write_loop(self) -> None:
        while (item := await self._writes.get()) is not None:
            _what, op = item
            try:
                await op()
            except Exception:
                log.exception("call %s: a write failed", self.call_id[:8])

    # --- the end ----------------------------------------------------------------------

    async def _wind_up(self, failed: BaseException | None) -> None:
        """Whatever happened: answer, hang up, close, store what can be, release."""
        machine = self.machine
        self._stopping = True
        self._idle.set()
        self._space.set()
        try:
            if failed is not None and not isinstance(failed, asyncio.CancelledError):
                log.error("call %s failed in phase %s", self.call_id[:8], machine.phase,
                          exc_info=failed)
            if not self.live.is_set():
                # Never answered: a final response (a no-op once it has one) and no row
                # left active.
                self.transport.reject(500 if failed else 503, "call setup failed", None)
                if self.stored_ok and machine.phase != "done":
                    self._write("close", lambda: self._close_unanswered("failed"))
            elif machine.phase in ("live", "ending") and failed is not None:
                with contextlib.suppress(Exception):
                    self.transport.send_bye()
            for name in list(self._timers):
                self._cancel_timer(name)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if machine.phase in ("live", "ending") and self.stored_ok and self.draft_on_failure:
                await self._last_draft()
        finally:
            self._writes.put_nowait(None)
            if self._writer is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._writer), DRAIN_TIMEOUT_S)
                except (TimeoutError, asyncio.CancelledError):
                    self._writer.cancel()
            await self.audio.close()
            try:
                self.transport.close()
            finally:
                metrics.call_ended(self.source, machine.end_reason)
                self.finished.set()
                self._idle.set()
                self._space.set()
                if self.on_done is not None:
                    self.on_done(self)

    async def _last_draft(self) -> None:
        """The call stopped before its draft (shutdown, a bug): draft what was heard."""
        machine = self.machine
        reason = machine.end_reason or "interrupted"
        with contextlib.suppress(Exception):
            await self.transport.end_media()
        await self.audio.close()
        self._write("draft", lambda: self._draft(m.Draft(
            reason, machine.transcript, machine.keypad_phone, machine.menu_choices,
            self.audio.duration, self.audio.complete, machine.readings,
            answers=machine.sorted_answers)), own_outcome=True)


def stored_utterance(seq: int, f: m.TranscriptFinal) -> StoredUtterance:
    """A final transcript as storage keeps it."""
    return StoredUtterance(seq=seq, start=f.start, end=f.end, text=f.text,
                           confidence=f.confidence, words=[list(w) for w in f.words],
                           error=f.error, alternatives=list(f.alternatives))
