"""The call machine: one call's whole life as a pure state machine, events in, actions out.

How it works. Whatever brought the call (a SIP trunk, a browser, a file, crash recovery),
a :class:`CallMachine` decides what happens to it; a runner (:mod:`voice_gateway.calls.
runner`) performs the actions and feeds back what came of them. Nothing here touches a
socket, a clock, a task or the database: time comes in each event's ``at`` (seconds since
the call was offered) and wall time in :class:`Answered`.

A call moves through phases::

    offered ──Offered──▶ setting_up ──CallStored(ok) + RingElapsed──▶ answering
    answering ──Answered──▶ live ──HungUp / our hang-up──▶ ending ──MediaDrained──▶ drafting
    drafting ──Drafted──▶ done
    setting_up ──CallStored(failed)──▶ done (503 + Retry-After)
    setting_up / answering ──Cancelled──▶ abandoning ──(store settled)──▶ done

:data:`TRANSITIONS` is the table of every legal (phase, event); an event with no row is
ignored and counted in :attr:`CallMachine.ignored` (a late timer, a key after hang-up).
While the call is live the IVR's own pure runtime (:func:`ivr.step`) runs inside: its
actions are mapped to the call's (prompts, timers, REFER, stored analytics) here. Finals
keep their order: while a final waits for its grammar reading (Vosk menus), later ones
wait behind it. Transcripts that arrive after the hang-up are still stored and drafted;
the draft is made only once the media has drained, so no final is lost.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ivr import CallState, Menu, grammar_for, new_call, step
from ivr import events as ivr
from ivr.errors import MenuError
from ivr.model import MenuNode, Node
from ivr.speech import normalise

# An intake answer decoded again for its question, as calls carry it: (question, free
# decode, biased decode, asked: whether the IVR had asked that question when it was said).
AnswerRow = tuple[str, str, str, bool]

Phase = Literal["offered", "setting_up", "answering", "live", "ending", "abandoning",
                "drafting", "done"]

# ------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Offered:
    """A new call; the transport has its media ready and has sent 180."""

    at: float = 0.0


@dataclass(frozen=True)
class Recover:
    """A call a previous process accepted and never drafted (crash): it is finished from
    its recording with the IVR results stored while it ran."""

    keypad_phone: str | None
    menu_choices: tuple[str, ...]
    next_seq: int = 0  # utterance numbers already taken by stored utterances
    at: float = 0.0


@dataclass(frozen=True)
class CallStored:
    """The call's row is in the database (``ok``), or storage could not take it."""

    ok: bool
    error: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class Answered:
    """The transport answered (200 OK sent). ``now`` is wall time, for business hours."""

    now: datetime
    ok: bool = True
    at: float = 0.0


@dataclass(frozen=True)
class Dtmf:
    digit: str
    via: str
    at: float = 0.0


@dataclass(frozen=True)
class MediaStarted:
    """The caller's first audio arrived (``source``: where from, e.g. the latched RTP
    address). A call answered with no media is a network fault, not a silent caller."""

    source: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class SpeechBegan:
    at: float = 0.0


@dataclass(frozen=True)
class TranscriptFinal:
    """A final transcript from the call's recognizer (``stored``: already in storage, as
    in crash recovery). ``pcm`` is the utterance's 16 kHz audio, for a grammar reading."""

    start: float
    end: float
    text: str
    confidence: float
    words: tuple[tuple[str, float, float, float], ...] = ()
    error: str | None = None
    pcm: bytes = field(default=b"", repr=False)
    stored: bool = False
    at: float = 0.0
    # The recognizer's other hypotheses (n-best), for the drafter only.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScriptedSpeech:
    """Text the caller 'said' in a simulated call: heard by the IVR, not transcribed."""

    text: str
    confidence: float = 0.9
    at: float = 0.0


@dataclass(frozen=True)
class ChoiceReading:
    """What a grammar decode (see :class:`DecodeChoice`) read: text, confidence, and
    whether it contained words outside the grammar. ``text`` empty: no reading."""

    ref: int
    text: str = ""
    confidence: float = 0.0
    unknown_words: bool = False
    at: float = 0.0


@dataclass(frozen=True)
class AnswerReading:
    """What the biased decode of an intake answer (see :class:`DecodeAnswer`) read;
    ``text`` empty: no reading."""

    ref: int
    text: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class PromptDone:
    """A :class:`Play` ended: played to the end (``completed``) or stopped."""

    seq: int
    completed: bool = True
    at: float = 0.0


@dataclass(frozen=True)
class TimerFired:
    """A timer ran out; ``gen`` is the :class:`StartTimer`'s, so an expiry already on its
    way when the timer was restarted is recognised as stale."""

    name: str
    gen: int = 0
    at: float = 0.0


@dataclass(frozen=True)
class TransferUpdate:
    """REFER progress: 202 accepted, then NOTIFYs until ``done`` (``ok`` for a 2xx)."""

    status: int | None
    done: bool
    ok: bool = False
    at: float = 0.0


@dataclass(frozen=True)
class HungUp:
    """The call ends. ``by_caller``: the caller hung up (BYE, CANCEL); otherwise the
    service ends it (RTP timeout, shutdown, end of file) and must say so to the peer."""

    reason: str
    by_caller: bool = True
    at: float = 0.0


@dataclass(frozen=True)
class MediaDrained:
    """After :class:`EndMedia`: the recording is closed and every final was delivered."""

    duration_s: float = 0.0
    recording_complete: bool = True
    at: float = 0.0


@dataclass(frozen=True)
class Drafted:
    ok: bool
    at: float = 0.0


@dataclass(frozen=True)
class StorageFailed:
    """A write of this call failed after its retries (logged by the runner)."""

    what: str
    at: float = 0.0


Event = (
    Offered | Recover | CallStored | Answered | MediaStarted | Dtmf | SpeechBegan
    | TranscriptFinal
    | ScriptedSpeech | ChoiceReading | PromptDone | TimerFired | TransferUpdate | HungUp
    | MediaDrained | Drafted | StorageFailed | AnswerReading
)

# ------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class StoreCall:
    """Insert the call's row (before it is answered: an accepted call is a stored one)."""


@dataclass(frozen=True)
class StartTimer:
    name: str
    seconds: float
    gen: int = 0


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Reject:
    status: int
    reason: str
    retry_after: int | None = None


@dataclass(frozen=True)
class Play:
    """Queue a prompt after those already queued; answer with :class:`PromptDone`."""

    seq: int
    prompt_id: str
    text: str


@dataclass(frozen=True)
class StopPlayback:
    """Barge-in: stop the prompt playing and drop the queued ones (no PromptDone)."""


@dataclass(frozen=True)
class StoreEvent:
    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class StoreUtterance:
    seq: int
    final: TranscriptFinal


@dataclass(frozen=True)
class DecodeChoice:
    """Decode this utterance again under the menu's grammar; answer with ChoiceReading."""

    ref: int
    pcm: bytes = field(repr=False)
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class DecodeAnswer:
    """Decode the answer to an intake question again, biased for it (``question``: name,
    address or problem; ``heard``: the call's transcript so far); answer with
    :class:`AnswerReading`. The free decode stays the record."""

    ref: int
    question: str
    pcm: bytes = field(repr=False)
    heard: str = ""


@dataclass(frozen=True)
class Refer:
    """Blind transfer; answer with TransferUpdate (done, not ok, if it cannot start)."""

    target: str


@dataclass(frozen=True)
class AbandonTransfer:
    pass


@dataclass(frozen=True)
class SendBye:
    """The service hangs up: tell the peer."""


@dataclass(frozen=True)
class EndMedia:
    """Stop taking audio: close the recording, end the recognizer; answer with
    :class:`MediaDrained` once every final has been delivered."""


@dataclass(frozen=True)
class Draft:
    """End the call in storage and draft its work order from what was heard."""

    reason: str
    transcript: str
    keypad_phone: str | None
    menu_choices: tuple[str, ...]
    duration_s: float
    recording_complete: bool
    # Each utterance of the transcript, in order, with its other hypotheses (n-best).
    readings: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The intake answers decoded again for their question: (question, free, biased,
    # asked: the IVR had asked that question).
    answers: tuple[AnswerRow, ...] = ()


@dataclass(frozen=True)
class CloseUnanswered:
    """A stored call that was never answered (cancelled, failed answer): end its row."""

    reason: str


@dataclass(frozen=True)
class Finished:
    """The call is over: the runner releases its slot and media and exits."""

    reason: str


Action = (
    StoreCall | StartTimer | CancelTimer | Answer | Reject | Play | StopPlayback | StoreEvent
    | StoreUtterance | DecodeChoice | Refer | AbandonTransfer | SendBye | EndMedia | Draft
    | CloseUnanswered | Finished | DecodeAnswer
)

# ------------------------------------------------------------------------------ the machine

ANALYTICS_KINDS: dict[type[Any], str] = {
    ivr.NodeEntered: "ivr_node", ivr.NodeExited: "ivr_exit", ivr.InputFailed: "ivr_input",
}
RING = "ring"
IVR_TIMER = "ivr"
# How long a hung-up call's draft waits for biased readings still under way (background
# work that a loaded pool decodes last): then it is drafted with those it has.
READINGS_TIMER = "readings"
READINGS_WAIT_S = 60.0
# The intake steps whose answers are decoded again for their question (DecodeAnswer).
ANSWERED_QUESTIONS = frozenset({"name", "address", "problem"})


@dataclass(frozen=True)
class CallPlan:
    """What the machine is told about a call when it is created.

    ``menu`` None: no IVR, everything said is the appeal. ``ring_s``: ringing before the
    answer (the window in which a CANCEL gets 487). ``grammar_choices``: the engine takes
    a runtime grammar (Vosk), so menu utterances get a constrained second reading.
    ``transfer_target`` maps a ``queue``/``transfer`` node's target to a SIP URI, or None
    when no agent is reachable."""

    caller_number: str | None
    menu: Menu | None = None
    ring_s: float = 0.0
    retry_after_s: int = 30
    grammar_choices: bool = False
    # Answers to the intake's name, address and problem questions are decoded again with
    # a bias for the question (asr.question_decoding); the biased reading feeds the draft.
    decode_answers: bool = False
    # Questions (name, address, problem) for which every utterance of free speech (not
    # the answer to an intake question) is decoded a second time, biased for it; each
    # biased reading feeds only its question's fields (asr.second_pass).
    second_pass: tuple[str, ...] = ()
    transfer_target: Callable[[str], str | None] = lambda _target: None
    # Keywords of the menu node a transcript sounds like, offered to the menu as other
    # readings when the text itself matches no option (the survey: Whisper's confusions).
    heard_as: Callable[[Node, str], tuple[str, ...]] | None = None


class CallMachine:
    """One call (see the module docstring). ``handle(event) -> actions``."""

    def __init__(self, plan: CallPlan) -> None:
        self.plan = plan
        self.phase: Phase = "offered"
        self.ivr: CallState | None = None
        self.ivr_failed = False
        self.end_reason = ""
        self.stored = False
        self.ring_over = False
        self.answered = False
        self.answered_at = 0.0
        self.media_started = False
        self.transferring = False
        self.transferred = False
        self.hangup_pending = False
        self.ivr_timer: str | None = None
        self.playing: dict[int, str] = {}  # Play seq -> prompt id
        self._play_seq = 0
        self._seq_base = 0  # the next stored utterance's number
        self._timer_gen = 0
        self.utterances: list[TranscriptFinal] = []
        self.dtmf: list[str] = []
        self.keypad_phone: str | None = None
        self.menu_choices: tuple[str, ...] = ()
        self.ignored = 0
        self.storage_failures = 0
        # Finals held in order behind one waiting for its grammar reading.
        self._held: deque[TranscriptFinal] = deque()
        self._reading: tuple[int, TranscriptFinal, str | None] | None = None
        self._refs = 0
        # Biased decodes of intake answers: under way (ref -> question, free text) and
        # read (question, free, biased); the draft waits for those under way.
        # ref -> question, free, utterance, asked
        self._asked: dict[int, tuple[str, str, int, bool]] = {}
        self.answers: list[AnswerRow] = []
        self._answer_order: list[int] = []  # the utterance each of ``answers`` reads
        self._drain: MediaDrained | None = None
        # The simulator's trace of the IVR: one record per node visited; and every action
        # the IVR took, in order (what ivr.analytics takes).
        self.trace: list[dict[str, Any]] = []
        self.ivr_log: list[ivr.Action] = []
        self._at = 0.0

    def choose_menu(self, menu: Menu | None) -> None:
        """The menu this call walks, chosen before it is offered (looked up by the
        runner); it keeps it for its whole life."""
        if self.phase != "offered":
            raise RuntimeError("a call's menu is chosen before it is offered")
        self.plan = dataclasses.replace(self.plan, menu=menu)

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; the actions to perform, in order."""
        handler = TRANSITIONS.get((self.phase, type(event)))
        if handler is None:
            self.ignored += 1
            return []
        self._at = event.at
        out: list[Action] = []
        handler(self, event, out)
        return out

    # --- setting up ---------------------------------------------------------------------

    def _offered(self, ev: Offered, out: list[Action]) -> None:
        self.phase = "setting_up"
        out.append(StoreCall())
        if self.plan.ring_s > 0:
            out.append(StartTimer(RING, self.plan.ring_s))
        else:
            self.ring_over = True

    def _recover(self, ev: Recover, out: list[Action]) -> None:
        # Already stored and long since answered: only the ending is left to do.
        self.phase, self.stored, self.answered = "live", True, True
        self.keypad_phone, self.menu_choices = ev.keypad_phone, ev.menu_choices
        self._seq_base = ev.next_seq

    def _stored(self, ev: CallStored, out: list[Action]) -> None:
        if not ev.ok:
            out.append(Reject(503, f"storage unavailable: {ev.error}", self.plan.retry_after_s))
            self._finish("storage_unavailable", out)
            return
        self.stored = True
        self._answer_when_ready(out)

    def _ring_over(self, ev: TimerFired, out: list[Action]) -> None:
        if ev.name != RING:
            self.ignored += 1
            return
        self.ring_over = True
        self._answer_when_ready(out)

    def _answer_when_ready(self, out: list[Action]) -> None:
        if self.stored and self.ring_over:
            self.phase = "answering"
            out.append(Answer())

    def _answered(self, ev: Answered, out: list[Action]) -> None:
        if not ev.ok:  # the transaction was gone (a CANCEL crossed the answer)
            self.phase = "abandoning"
            self._settle_abandoned("not-answered", out)
            return
        self.phase, self.answered, self.answered_at = "live", True, ev.at
        # Stored, so that recovery can tell an answered call from one that only rang.
        out.append(StoreEvent("answered", {}))
        if self.plan.menu is not None:
            try:
                self.ivr = new_call(self.plan.menu)
            except (MenuError, KeyError):
                self.ivr_failed = True
                out.append(StoreEvent("ivr_failed", {"menu": self.plan.menu.id}))
                return
            self._ivr(ivr.CallStarted(ev.now, self.plan.caller_number, at=ev.at), out)

    def _cancelled(self, ev: HungUp, out: list[Action]) -> None:
        """The call ends before its answer: the caller gave up (CANCEL), or the service
        ends it (shutdown), which must give the INVITE its final response."""
        self.end_reason = ev.reason
        self.phase = "abandoning"
        out.append(CancelTimer(RING))
        if not ev.by_caller:
            out.append(Reject(503, ev.reason, self.plan.retry_after_s))
        self._settle_abandoned(ev.reason, out)

    def _abandoned_stored(self, ev: CallStored, out: list[Action]) -> None:
        self.stored = ev.ok
        self._settle_abandoned(self.end_reason or "cancelled", out, store_settled=True)

    def _settle_abandoned(self, reason: str, out: list[Action], *,
                          store_settled: bool = False) -> None:
        # A row still being inserted is waited for, so that it never stays 'active'.
        if self.stored:
            out.append(CloseUnanswered(reason))
            self._finish(reason, out)
        elif store_settled:
            self._finish(reason, out)

    # --- live ---------------------------------------------------------------------------

    def _dtmf(self, ev: Dtmf, out: list[Action]) -> None:
        self.dtmf.append(ev.digit)
        out.append(StoreEvent("dtmf", {"digit": ev.digit, "via": ev.via}))
        self._label(f"dtmf {ev.digit}")
        self._ivr(ivr.Dtmf(ev.digit, at=ev.at), out)

    def _media_started(self, ev: MediaStarted, out: list[Action]) -> None:
        if self.media_started:
            return
        self.media_started = True
        after = round(max(0.0, ev.at - self.answered_at), 3)
        out.append(StoreEvent("media_started", {"after_s": after, "source": ev.source}))

    def _speech_began(self, ev: SpeechBegan, out: list[Action]) -> None:
        self._ivr(ivr.SpeechStarted(at=ev.at), out)

    def _final(self, ev: TranscriptFinal, out: list[Action]) -> None:
        if not ev.stored:
            self._seq_base += 1
            out.append(StoreUtterance(self._seq_base - 1, ev))
        self.utterances.append(ev)
        self._decode_again(ev, out)
        if self.phase != "live" or not self._ivr_listening():
            return
        if self._reading is not None:
            self._held.append(ev)
            return
        self._hear(ev, out)

    def _hear(self, ev: TranscriptFinal, out: list[Action]) -> None:
        phrases = self._grammar() if self.plan.grammar_choices and ev.pcm else None
        if ev.text:
            self._label(f"speech {ev.text}")
        if phrases is None:
            if ev.text:
                heard = self.plan.heard_as
                node = self.ivr.node if self.ivr is not None else None
                alternatives = heard(node, ev.text) if heard and node is not None else ()
                self._ivr(ivr.Utterance(ev.text, ev.confidence, at=ev.at,
                                        alternatives=alternatives), out)
            return
        self._refs += 1
        node_id = self.ivr.node_id if self.ivr is not None else None
        self._reading = (self._refs, ev, node_id)
        out.append(DecodeChoice(self._refs, ev.pcm, phrases))

    def _intake_step(self) -> str | None:
        state = self.ivr
        return state.intake.step if state is not None and state.intake is not None else None

    def _ask(self, question: str, ev: TranscriptFinal, out: list[Action], *,
             asked: bool = False) -> None:
        self._refs += 1
        self._asked[self._refs] = (question, ev.text, len(self.utterances) - 1, asked)
        out.append(DecodeAnswer(self._refs, question, ev.pcm, self.transcript))

    def _decode_again(self, ev: TranscriptFinal, out: list[Action]) -> None:
        """Have the final decoded again, biased: for the intake question it answers (with
        per-question decoding on), and for each of the plan's second-pass questions
        whatever the IVR was doing (a caller who tells it all in one go talks over the
        intake's prompts: the name or the address may come at any step). Decided when the
        final arrives, heard by the IVR or not (after a hang-up too)."""
        if not (ev.pcm and ev.text):
            return
        step = self._intake_step() if self.plan.decode_answers else None
        if step not in ANSWERED_QUESTIONS:
            step = None
        questions = ((step,) if step else ()) + tuple(
            q for q in self.plan.second_pass if q != step)
        for question in questions:
            self._ask(question, ev, out, asked=question == step)

    def _answer_read(self, ev: AnswerReading, out: list[Action]) -> None:
        asked = self._asked.pop(ev.ref, None)
        if asked is None:
            self.ignored += 1
            return
        question, free, utterance, was_asked = asked
        if ev.text:
            self.answers.append((question, free, ev.text, was_asked))
            self._answer_order.append(utterance)
        if self._drain is not None and not self._asked:
            out.append(CancelTimer(READINGS_TIMER))
            self._drained(self._drain, out)

    def _readings_overdue(self, ev: TimerFired, out: list[Action]) -> None:
        """The readings still under way took too long (a pool busy with callers decodes
        background work last): draft with those that came."""
        if ev.name != READINGS_TIMER or self._drain is None or not self._asked:
            self.ignored += 1
            return
        self._asked.clear()
        self._drained(self._drain, out)

    def _choice_read(self, ev: ChoiceReading, out: list[Action]) -> None:
        if self._reading is None or self._reading[0] != ev.ref:
            self.ignored += 1
            return
        _ref, final, node_id = self._reading
        self._reading = None
        alternatives: tuple[str, ...] = ()
        still_there = self.ivr is not None and self.ivr.node_id == node_id
        if still_there and self._whole_reading(ev, final.text):
            alternatives = (ev.text,)
        if final.text or alternatives:
            self._ivr(ivr.Utterance(final.text, final.confidence, at=final.at,
                                    alternatives=alternatives), out)
        while self._held and self._reading is None and self.phase == "live":
            self._hear(self._held.popleft(), out)

    def _whole_reading(self, reading: ChoiceReading, free_text: str) -> bool:
        """A grammar reading counts only as a reading of the whole utterance: Vosk drops
        [unk] words, so a sentence that only contains 一 (一号楼漏水) must not come back
        as key 1."""
        if not reading.text or reading.unknown_words:
            return False
        node = self.ivr.node if self.ivr is not None else None
        if reading.confidence < (node.min_confidence if isinstance(node, MenuNode) else 0.0):
            return False
        return len(normalise(reading.text)) * 2 >= len(normalise(free_text))

    def _grammar(self) -> tuple[str, ...] | None:
        state = self.ivr
        if state is None or self.ivr_failed or state.ended or not isinstance(state.node,
                                                                            MenuNode):
            return None
        phrases = grammar_for(state.node)
        return tuple(phrases) if len(phrases) > 1 else None  # more than [unk] alone

    def _scripted(self, ev: ScriptedSpeech, out: list[Action]) -> None:
        self._label(f"speech {ev.text}")
        self._ivr(ivr.Utterance(ev.text, ev.confidence, at=ev.at), out)

    def _prompt_done(self, ev: PromptDone, out: list[Action]) -> None:
        prompt_id = self.playing.pop(ev.seq, None)
        if prompt_id is None:
            self.ignored += 1  # stopped by a barge-in: stale
            return
        if ev.completed:
            self._ivr(ivr.PromptFinished(prompt_id, at=ev.at), out)
        if self.hangup_pending and not self.playing and self.phase == "live":
            self._end("ivr-hangup", by_caller=False, out=out)

    def _timer(self, ev: TimerFired, out: list[Action]) -> None:
        if ev.name != IVR_TIMER or self.ivr_timer is None or ev.gen != self._timer_gen:
            self.ignored += 1
            return
        timer_id, self.ivr_timer = self.ivr_timer, None
        self._label("silence")
        self._ivr(ivr.Timeout(timer_id, at=ev.at), out)

    def _transfer_update(self, ev: TransferUpdate, out: list[Action]) -> None:
        if ev.done or ev.status == 202:
            out.append(StoreEvent("transfer", {"target": None, "status": ev.status,
                                               "done": ev.done}))
        if not ev.done:
            return
        self.transferring = False
        self._ivr(ivr.TransferResult(ev.ok, at=ev.at), out)
        if ev.ok:
            # RFC 5589: the transferee talks to the agent now; our leg is ended by us.
            self.transferred = True
            if self.phase == "live":
                self._end("transferred", by_caller=False, out=out)

    def _hung_up(self, ev: HungUp, out: list[Action]) -> None:
        if ev.by_caller:
            self._label("hangup")
        self._end(ev.reason, by_caller=ev.by_caller, out=out)

    def _end(self, reason: str, *, by_caller: bool, out: list[Action]) -> None:
        if self.phase != "live":
            return
        self.phase = "ending"
        self.end_reason = "transferred" if self.transferred else reason
        if self.ivr is not None and not self.ivr.ended and not self.ivr_failed:
            self._ivr(ivr.Hangup(at=self._at), out)  # the menu's drop-off and intake
        self._silence_ivr(out)
        if self.transferring:
            self.transferring = False
            out.append(AbandonTransfer())
        # Finals held for a grammar reading are kept for the draft; the menu is over.
        self._held.clear()
        self._reading = None
        if not by_caller:
            out.append(SendBye())
        out.append(EndMedia())

    def _drained(self, ev: MediaDrained, out: list[Action]) -> None:
        if self._asked:  # the draft waits for the answers' biased decodes, for a while
            if self._drain is None:
                out.append(StartTimer(READINGS_TIMER, READINGS_WAIT_S))
            self._drain = ev
            return
        self.phase = "drafting"
        out.append(Draft(self.end_reason, self.transcript, self.keypad_phone,
                         self.menu_choices, ev.duration_s, ev.recording_complete,
                         self.readings, answers=self.sorted_answers))

    def _drafted(self, ev: Drafted, out: list[Action]) -> None:
        self._finish(self.end_reason, out)

    def _storage_failed(self, ev: StorageFailed, out: list[Action]) -> None:
        self.storage_failures += 1

    def _finish(self, reason: str, out: list[Action]) -> None:
        self.phase = "done"
        self.end_reason = self.end_reason or reason
        out.append(Finished(self.end_reason))

    @property
    def prompts_played(self) -> int:
        """Prompts asked for so far (a simulated caller waits for the next one)."""
        return self._play_seq

    @property
    def transcript(self) -> str:
        return "".join(u.text for u in self.utterances if u.text)

    @property
    def readings(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The transcript's utterances with their other hypotheses (n-best)."""
        return tuple((u.text, u.alternatives) for u in self.utterances if u.text)

    @property
    def sorted_answers(self) -> tuple[AnswerRow, ...]:
        """The biased readings, in the order their utterances were said (by utterance,
        not by text: 对 said twice around another utterance keeps each in its place)."""
        order = sorted(range(len(self.answers)), key=lambda i: self._answer_order[i])
        return tuple(self.answers[i] for i in order)

    # --- the IVR inside ------------------------------------------------------------------

    def _silence_ivr(self, out: list[Action]) -> None:
        """No more prompts or IVR timer (the call ends, or the IVR failed)."""
        if self.playing:
            self.playing.clear()
            out.append(StopPlayback())
        if self.ivr_timer is not None:
            self.ivr_timer = None
            out.append(CancelTimer(IVR_TIMER))

    def _ivr_listening(self) -> bool:
        return self.ivr is not None and not self.ivr_failed and not self.ivr.ended

    def _ivr(self, event: ivr.Event, out: list[Action]) -> None:
        """Step the IVR runtime and map its actions to the call's. Follow-up events the
        mapping produces (a transfer that cannot start) are stepped after."""
        pending: deque[ivr.Event] = deque([event])
        while pending:
            if self.ivr is None or self.ivr_failed:
                return
            try:
                self.ivr, actions = step(self.ivr, pending.popleft())
            except (MenuError, KeyError):
                # A menu the validator should have refused: the IVR stops, the call goes
                # on as a plain intake (everything said is still the appeal).
                self.ivr_failed = True
                out.append(StoreEvent("ivr_failed", {"menu": self.plan.menu.id
                                                     if self.plan.menu else None}))
                self._silence_ivr(out)
                return
            for action in actions:
                self.ivr_log.append(action)
                self._trace(action)
                self._map(action, out, pending)
            self._note_intake(out)

    def _note_intake(self, out: list[Action]) -> None:
        """Store the IVR's results as soon as they change (a choice made, a number
        confirmed), so that a crash loses none of them."""
        state = self.ivr
        if state is None:
            return
        phone = state.intake.keypad_phone if state.intake is not None else None
        phone = phone or self.keypad_phone
        if (phone, state.choices) == (self.keypad_phone, self.menu_choices):
            return
        self.keypad_phone, self.menu_choices = phone, state.choices
        out.append(StoreEvent("intake", {"keypad_phone": phone,
                                         "menu_choices": list(state.choices),
                                         "complete": False}))

    def _map(self, action: ivr.Action, out: list[Action], pending: deque[ivr.Event]) -> None:
        menu = self.plan.menu
        if isinstance(action, ivr.PlayPrompt):
            self._play_seq += 1
            self.playing[self._play_seq] = action.prompt_id
            out.append(Play(self._play_seq, action.prompt_id, action.text))
        elif isinstance(action, ivr.StopPrompt):
            if self.playing:
                self.playing.clear()
                out.append(StopPlayback())
            if self.hangup_pending:
                self._end("ivr-hangup", by_caller=False, out=out)
        elif isinstance(action, ivr.StartTimer):
            self.ivr_timer = action.timer_id
            self._timer_gen += 1
            out.append(StartTimer(IVR_TIMER, action.seconds, self._timer_gen))
        elif isinstance(action, ivr.CancelTimer):
            if self.ivr_timer is not None:
                self.ivr_timer = None
                out.append(CancelTimer(IVR_TIMER))
        elif isinstance(action, ivr.Transfer):
            target = self.plan.transfer_target(action.target)
            if target is None or self.phase != "live":
                pending.append(ivr.TransferResult(False, at=self._at))
            else:
                self.transferring = True
                out.append(StoreEvent("transfer", {"node_id": action.node_id,
                                                   "target": target, "status": None,
                                                   "done": False}))
                out.append(Refer(target))
        elif isinstance(action, ivr.HangUp):
            if self.playing:
                self.hangup_pending = True
            else:
                self._end("ivr-hangup", by_caller=False, out=out)
        elif isinstance(action, ivr.SubmitIntake):
            f = action.fields
            self.keypad_phone = f.keypad_phone or self.keypad_phone
            self.menu_choices = f.menu_choices
            # Stored when collected, so crash recovery drafts with it.
            out.append(StoreEvent("intake", {"keypad_phone": f.keypad_phone,
                                             "menu_choices": list(f.menu_choices),
                                             "complete": f.complete}))
        if (isinstance(action, ivr.NodeExited) and action.reason == "transfer_failed"
                and self.transferring):
            self.transferring = False  # the node timed out on a transfer under way
            out.append(AbandonTransfer())
        kind = ANALYTICS_KINDS.get(type(action))
        if kind is not None and menu is not None:
            out.append(StoreEvent(kind, {**ivr.action_to_dict(action), "menu": menu.id,
                                         "menu_version": menu.version}))

    # --- the simulator's trace -----------------------------------------------------------

    def _label(self, text: str) -> None:
        if self.trace and self._ivr_listening():
            self.trace[-1]["inputs"].append(text)

    def _trace(self, action: ivr.Action) -> None:
        if isinstance(action, ivr.NodeEntered):
            self.trace.append({"node": action.node_id, "type": action.node_type,
                               "entered_at": round(action.at, 2), "inputs": [],
                               "actions": [], "exit": None, "key": None, "left_at": None})
        elif isinstance(action, ivr.NodeExited):
            if self.trace:
                self.trace[-1].update(exit=action.reason, key=action.key,
                                      left_at=round(action.at, 2))
        elif self.trace:
            self.trace[-1]["actions"].append(ivr.action_to_dict(action))

    def label_input(self, text: str) -> None:
        """Note an input in the trace (simulated calls label keys and speech)."""
        self._label(text)

    def trace_json(self) -> dict[str, Any] | None:
        menu = self.plan.menu
        if menu is None:
            return None
        return {"menu": menu.id, "menu_version": menu.version, "path": self.trace}


Handler = Callable[[CallMachine, Any, list[Action]], None]
M = CallMachine

# Every legal (phase, event) and what it does. Anything else is ignored and counted.
TRANSITIONS: dict[tuple[Phase, type[Any]], Handler] = {
    ("offered", Offered): M._offered,
    ("offered", Recover): M._recover,
    ("setting_up", CallStored): M._stored,
    ("setting_up", TimerFired): M._ring_over,
    ("setting_up", HungUp): M._cancelled,
    ("answering", Answered): M._answered,
    ("answering", HungUp): M._cancelled,
    ("abandoning", CallStored): M._abandoned_stored,
    ("live", Dtmf): M._dtmf,
    ("live", MediaStarted): M._media_started,
    ("live", SpeechBegan): M._speech_began,
    ("live", TranscriptFinal): M._final,
    ("live", ScriptedSpeech): M._scripted,
    ("live", ChoiceReading): M._choice_read,
    ("live", AnswerReading): M._answer_read,
    ("ending", AnswerReading): M._answer_read,
    ("live", PromptDone): M._prompt_done,
    ("live", TimerFired): M._timer,
    ("live", TransferUpdate): M._transfer_update,
    ("live", HungUp): M._hung_up,
    ("live", StorageFailed): M._storage_failed,
    ("ending", TranscriptFinal): M._final,
    ("ending", MediaDrained): M._drained,
    ("ending", TimerFired): M._readings_overdue,
    ("ending", StorageFailed): M._storage_failed,
    ("ending", Dtmf): lambda m, ev, out: m.dtmf.append(ev.digit),
    ("drafting", Drafted): M._drafted,
    ("drafting", StorageFailed): M._storage_failed,
}


def replace_at(event: Event, at: float) -> Event:
    """The event stamped with the runner's clock."""
    return dataclasses.replace(event, at=at)
