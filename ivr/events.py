"""What goes into the IVR runtime (events) and what comes out (actions).

All are frozen dataclasses. Every event carries ``at``: seconds on any monotonic clock the
call session chooses (seconds since the call started is simplest). The runtime never reads a
clock; it copies ``at`` into the analytics actions (:class:`NodeEntered`,
:class:`NodeExited`, :class:`InputFailed`) so that time spent per node can be computed from
the action log alone. :func:`action_to_dict` / :func:`action_from_dict` give the JSON form
that storage persists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# ---------------------------------------------------------------------------- events


@dataclass(frozen=True)
class CallStarted:
    """The call was answered. ``now`` is the wall-clock time (business hours are checked
    against it); ``caller_number`` is the caller ID, ``None`` when withheld."""

    now: datetime
    caller_number: str | None = None
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class Dtmf:
    """One key: ``0``-``9``, ``*``, ``#`` (RFC 4733 or SIP INFO)."""

    digit: str
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class SpeechStarted:
    """VAD detected the start of speech: interrupts an interruptible prompt (barge-in)."""

    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class Utterance:
    """A final transcript of one utterance (empty text: noise, treated as no input).

    ``alternatives`` are other readings of the same audio that a menu may match when
    ``text`` matches no option: the recognizer run again, constrained to the menu's
    keywords (a Vosk grammar). ``text`` stays what is kept for the appeal."""

    text: str
    confidence: float = 1.0
    at: float = field(default=0.0, kw_only=True)
    alternatives: tuple[str, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True)
class PromptFinished:
    """The session finished playing ``prompt_id`` (not sent for stopped prompts)."""

    prompt_id: str
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class Timeout:
    """A timer started with :class:`StartTimer` expired. Stale ids are ignored."""

    timer_id: str
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class TransferResult:
    """Outcome of a :class:`Transfer` (REFER accepted and NOTIFY 200, or a failure)."""

    ok: bool
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class FieldsHeard:
    """Optional hint from the session (e.g. the drafter run on the transcript so far):
    these intake fields (``name``, ``address``) are already known, so do not ask."""

    fields: frozenset[str]
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class Hangup:
    """The caller hung up (BYE, or the transport died)."""

    at: float = field(default=0.0, kw_only=True)


Event = (
    CallStarted | Dtmf | SpeechStarted | Utterance | PromptFinished | Timeout
    | TransferResult | FieldsHeard | Hangup
)

# ---------------------------------------------------------------------------- actions

ExitReason = Literal[
    "key",  # a DTMF choice (``key`` holds it)
    "speech",  # a spoken choice (``key`` holds the option's key or label)
    "no_match",  # speech matching no option, routed on (default menu: to intake)
    "timeout",  # no input after the retries
    "invalid",  # invalid input after the retries
    "done",  # the node finished normally (prompt played, digits collected, intake done)
    "open",  # business hours: open branch
    "closed",  # business hours: closed branch
    "transferred",  # the call left us to an agent
    "transfer_failed",
    "hangup",  # the caller hung up here: drop-off
    "end",  # we hung up (a hangup node)
]
FailReason = Literal["timeout", "invalid"]


@dataclass(frozen=True)
class PlayPrompt:
    """Queue a prompt after any already playing. ``text`` is its catalogue text (for TTS
    or a log); the audio is ``<prompt_id>.wav`` in the prompt directory."""

    prompt_id: str
    interruptible: bool
    text: str


@dataclass(frozen=True)
class StopPrompt:
    """Stop the playing prompt and drop all queued ones (barge-in)."""


@dataclass(frozen=True)
class StartTimer:
    """Start (or restart) a timer; on expiry send :class:`Timeout` with this id."""

    timer_id: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True)
class CollectDigits:
    """Digits are now being collected (the session may e.g. ignore short noises)."""

    node_id: str
    min_digits: int
    max_digits: int
    terminator: str


@dataclass(frozen=True)
class StartIntake:
    """The appeal dialogue starts: the session should record and transcribe everything."""

    node_id: str


@dataclass(frozen=True)
class RecordUtterance:
    """An utterance kept for the draft, tagged with what was asked (``problem``, ``name``,
    ``phone``, ``address``, or ``menu`` for speech heard at a menu)."""

    node_id: str
    field: str
    text: str
    confidence: float


@dataclass(frozen=True)
class DigitsCollected:
    """A ``collect`` node finished: ``variable`` = ``digits``."""

    node_id: str
    variable: str
    digits: str


@dataclass(frozen=True)
class KeptUtterance:
    node_id: str
    field: str
    text: str
    confidence: float


@dataclass(frozen=True)
class IntakeFields:
    """What the intake dialogue hands to the drafter.

    ``transcript`` joins every kept utterance (menu speech included) in order; pass it as
    the drafter's transcript. ``keypad_phone`` is a number the caller confirmed with key 1
    (keyed in, the caller ID chosen with ``#``, or a spoken number read back and confirmed):
    pass it as the drafter's ``keypad_phone``. ``unconfirmed_phone`` was keyed but never
    confirmed. ``menu_choices`` are the labels of the options chosen on the way.
    """

    utterances: tuple[KeptUtterance, ...]
    transcript: str
    keypad_phone: str | None
    phone_source: Literal["keypad", "caller_id", "speech"] | None
    unconfirmed_phone: str | None
    caller_number: str | None
    menu_choices: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]
    complete: bool  # False when the caller hung up before the end of the dialogue


@dataclass(frozen=True)
class SubmitIntake:
    """Draft a work order from ``fields`` (sent once per intake, also on hang-up)."""

    node_id: str
    fields: IntakeFields


@dataclass(frozen=True)
class Transfer:
    """Transfer the call: SIP REFER to ``target`` (``mode="refer"``) or put it in the
    agent queue ``target`` (``mode="queue"``). Answer with :class:`TransferResult`."""

    node_id: str
    target: str
    mode: Literal["refer", "queue"]


@dataclass(frozen=True)
class HangUp:
    """Hang up the call (after the queued prompts have played)."""


@dataclass(frozen=True)
class NodeEntered:
    node_id: str
    node_type: str
    at: float


@dataclass(frozen=True)
class NodeExited:
    node_id: str
    reason: ExitReason
    key: str | None
    at: float


@dataclass(frozen=True)
class InputFailed:
    """A timeout or an invalid input in a node (counted even when a retry follows)."""

    node_id: str
    reason: FailReason
    at: float


Action = (
    PlayPrompt | StopPrompt | StartTimer | CancelTimer | CollectDigits | StartIntake
    | RecordUtterance | DigitsCollected | SubmitIntake | Transfer | HangUp
    | NodeEntered | NodeExited | InputFailed
)

_ACTION_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        PlayPrompt, StopPrompt, StartTimer, CancelTimer, CollectDigits, StartIntake,
        RecordUtterance, DigitsCollected, SubmitIntake, Transfer, HangUp,
        NodeEntered, NodeExited, InputFailed,
    )
}


def action_to_dict(action: Action) -> dict[str, Any]:
    """JSON-ready form: ``{"action": "PlayPrompt", "prompt_id": ..., ...}`` (lists, not
    tuples, so that it equals what comes back from ``json.loads``)."""
    body = _plain(dataclasses.asdict(action))
    return {"action": type(action).__name__, **body}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def action_from_dict(data: dict[str, Any]) -> Action:
    """Inverse of :func:`action_to_dict` (for logs read back from storage)."""
    name = data.get("action")
    cls = _ACTION_TYPES.get(str(name))
    if cls is None:
        raise ValueError(f"unknown IVR action {name!r}")
    body = {k: v for k, v in data.items() if k != "action"}
    if cls is SubmitIntake:
        f = dict(body["fields"])
        f["utterances"] = tuple(KeptUtterance(**u) for u in f["utterances"])
        f["menu_choices"] = tuple(f["menu_choices"])
        f["variables"] = tuple(tuple(v) for v in f["variables"])
        body["fields"] = IntakeFields(**f)
    action: Action = cls(**body)
    return action
