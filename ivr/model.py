"""The menu model: a menu is a start node id, a set of typed nodes and a prompt catalogue.

Objects here are frozen and hold whatever the menu file said, even when it is wrong (a key
``"11"``, a target that does not exist): :mod:`ivr.schema` only checks shapes and types, and
:func:`ivr.validate.validate` reports the meaning errors, each naming its node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

DTMF_KEYS = frozenset("0123456789*#")
NODE_TYPES = ("play", "menu", "collect", "intake", "transfer", "queue", "hours", "hangup")
INTAKE_STEPS = ("problem", "name", "phone", "address")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Prompt roles of the intake dialogue → default prompt ids in the catalogue.
INTAKE_PROMPTS: Mapping[str, str] = {
    "problem": "intake_problem",
    "problem_continue": "intake_problem_continue",
    "name": "intake_name",
    "phone": "intake_phone",
    "phone_invalid": "intake_phone_invalid",
    "phone_no_caller_id": "intake_phone_no_caller_id",
    "phone_readback": "intake_phone_readback",
    "phone_confirm": "intake_phone_confirm",
    "address": "intake_address",
    "done": "intake_done",
}
DIGIT_PROMPTS: Mapping[str, str] = {d: f"digit_{d}" for d in "0123456789"}


@dataclass(frozen=True, kw_only=True)
class NodeBase:
    """Fields every node has. ``retries`` is how many times the node re-prompts after a
    timeout or invalid input before taking its failure branch."""

    id: str
    prompts: tuple[str, ...] = ()
    timeout_s: float = 6.0
    retries: int = 2
    invalid_prompt: str | None = "invalid_input"
    timeout_prompt: str | None = None
    barge_in: bool = True
    # How long to wait for the transcript after speech started (above the VAD's longest
    # utterance), so that a caller is never timed out while talking.
    speech_timeout_s: float = 25.0
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class PlayNode(NodeBase):
    type: Literal["play"] = "play"
    next: str


@dataclass(frozen=True)
class Option:
    """One menu choice: a DTMF key and/or spoken keywords. ``label`` is what the choice
    means (咨询, 投诉举报 …): it goes to the intake as a menu choice."""

    next: str
    key: str | None = None
    keywords: tuple[str, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        return self.key or self.label or self.next


@dataclass(frozen=True, kw_only=True)
class MenuNode(NodeBase):
    type: Literal["menu"] = "menu"
    options: tuple[Option, ...]
    # Where speech matching no option goes, keeping the utterance (the default menu: the
    # intake). ``None``: unmatched speech is an invalid input.
    no_match: str | None = None
    # Where a caller goes after ``retries`` timeouts/invalid inputs.
    on_fail: str
    # Spoken choices below this ASR confidence count as unmatched speech.
    min_confidence: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CollectNode(NodeBase):
    type: Literal["collect"] = "collect"
    variable: str
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"
    inter_digit_timeout_s: float = 5.0
    next: str
    on_fail: str


@dataclass(frozen=True, kw_only=True)
class IntakeNode(NodeBase):
    """The appeal dialogue: ask for each step in ``ask``, then submit and go to ``next``."""

    type: Literal["intake"] = "intake"
    ask: tuple[str, ...] = INTAKE_STEPS
    step_prompts: Mapping[str, str] = field(default_factory=lambda: dict(INTAKE_PROMPTS))
    # Silence after the caller's last utterance that ends the problem description.
    end_of_turn_s: float = 3.0
    phone_min_digits: int = 7
    phone_max_digits: int = 12
    inter_digit_timeout_s: float = 5.0
    next: str


@dataclass(frozen=True, kw_only=True)
class TransferNode(NodeBase):
    """``transfer``: SIP REFER to ``target``; ``queue``: wait for an agent of queue
    ``target``. ``timeout_s`` is how long to wait; ``next`` is where a failed or timed-out
    transfer goes."""

    type: Literal["transfer", "queue"] = "transfer"
    target: str
    next: str


@dataclass(frozen=True)
class Interval:
    """Minutes since midnight, ``start`` inclusive, ``end`` exclusive (1440 = 24:00)."""

    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class HoursNode(NodeBase):
    """Business hours: routes to ``open`` or ``closed`` without prompting.

    ``weekly`` maps mon…sun to opening intervals; ``closed_dates`` are holiday closures;
    ``open_dates`` override a day's intervals (the make-up working days of 调休).
    """

    type: Literal["hours"] = "hours"
    timezone: str = "Asia/Shanghai"
    weekly: Mapping[str, tuple[Interval, ...]]
    closed_dates: frozenset[date] = frozenset()
    open_dates: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    open: str
    closed: str


@dataclass(frozen=True, kw_only=True)
class HangupNode(NodeBase):
    type: Literal["hangup"] = "hangup"


Node = PlayNode | MenuNode | CollectNode | IntakeNode | TransferNode | HoursNode | HangupNode


@dataclass(frozen=True)
class Menu:
    """A whole menu. ``prompts`` is the catalogue (prompt id → Mandarin text)."""

    id: str
    start: str
    nodes: Mapping[str, Node]
    prompts: Mapping[str, str]
    name: str = ""
    version: int | None = None

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


def edges(node: Node) -> list[tuple[str, str]]:
    """Outgoing edges of a node as (label, target) pairs."""
    match node:
        case PlayNode() | IntakeNode():
            return [("next", node.next)]
        case TransferNode():
            return [("next", node.next)]
        case MenuNode():
            out = [(f"option {o.name}", o.next) for o in node.options]
            if node.no_match is not None:
                out.append(("no_match", node.no_match))
            out.append(("on_fail", node.on_fail))
            return out
        case CollectNode():
            return [("next", node.next), ("on_fail", node.on_fail)]
        case HoursNode():
            return [("open", node.open), ("closed", node.closed)]
        case HangupNode():
            return []


def is_terminal(node: Node) -> bool:
    """Nodes where a call may end well: a hang-up, or leaving us to an agent."""
    return isinstance(node, HangupNode | TransferNode)


def prompt_refs(node: Node) -> list[str]:
    """Every prompt id a node may play."""
    refs = list(node.prompts)
    if node.invalid_prompt:
        refs.append(node.invalid_prompt)
    if node.timeout_prompt:
        refs.append(node.timeout_prompt)
    if isinstance(node, IntakeNode):
        refs.extend(node.step_prompts.values())
        if "phone" in node.ask:
            refs.extend(DIGIT_PROMPTS.values())
    return list(dict.fromkeys(refs))
