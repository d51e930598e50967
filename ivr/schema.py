"""Menu data (decoded JSON/TOML) → :class:`ivr.model.Menu`, checking shapes and types.

The schema, informally::

    {"id": str, "name": str?, "version": int?, "start": node id,
     "defaults": {timeout_s, retries, invalid_prompt, timeout_prompt, barge_in,
                  speech_timeout_s}?,
     "prompts": {prompt id: text}?,            # merged over the shipped catalogue
     "nodes": {node id: {"type": one of NODE_TYPES, "prompt": id | "prompts": [id],
                         <the node type's fields, see ivr.model>}}}

Hours are written ``"weekly": {"mon-fri": ["08:30-12:00", "13:30-17:30"], "sat": []}``,
``"closed_dates": ["2026-02-17"]``, ``"open_dates": {"2026-02-28": ["08:30-17:30"]}``.

Unknown fields are errors (a typo such as ``"nxt"`` would otherwise silently route
nowhere). Every problem is collected, and :class:`MenuFormatError` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from ivr.errors import MenuFormatError, ValidationError
from ivr.model import (
    INTAKE_PROMPTS,
    NODE_TYPES,
    WEEKDAYS,
    CollectNode,
    HangupNode,
    HoursNode,
    IntakeNode,
    Interval,
    Menu,
    MenuNode,
    Node,
    Option,
    PlayNode,
    TransferNode,
)

T = TypeVar("T")
_MISSING = object()
_COMMON = ("timeout_s", "retries", "invalid_prompt", "timeout_prompt", "barge_in",
           "speech_timeout_s")
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "play": ("next",),
    "menu": ("options", "no_match", "on_fail", "min_confidence"),
    "collect": ("variable", "min_digits", "max_digits", "terminator",
                "inter_digit_timeout_s", "next", "on_fail"),
    "intake": ("ask", "step_prompts", "end_of_turn_s", "phone_min_digits",
               "phone_max_digits", "inter_digit_timeout_s", "next"),
    "transfer": ("target", "next"),
    "queue": ("target", "next"),
    "hours": ("timezone", "weekly", "closed_dates", "open_dates", "open", "closed"),
    "hangup": (),
}
_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class _Reader:
    """Reads typed fields of one JSON object, recording problems instead of raising."""

    def __init__(self, errors: list[ValidationError], node: str | None, obj: Mapping[str, Any],
                 where: str = "") -> None:
        self.errors, self.node, self.obj, self.where = errors, node, obj, where

    def error(self, key: str, message: str) -> None:
        self.errors.append(ValidationError(self.node, "schema", f"{self.where}{key}: {message}"))

    def get(self, key: str, kind: type[T] | tuple[type[Any], ...], default: Any = _MISSING,
            *, what: str) -> Any:
        if key not in self.obj:
            if default is _MISSING:
                self.error(key, "is required")
            return None if default is _MISSING else default
        value = self.obj[key]
        # bool is an int in Python; a menu saying "retries": true is a mistake.
        bad_bool = isinstance(value, bool) and kind in (int, float, (int, float))
        if not isinstance(value, kind) or bad_bool:
            self.error(key, f"must be {what}, not {type(value).__name__}")
            return None if default is _MISSING else default
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        return self.get(key, str, default, what="a string")

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        value = self.get(key, (int, float), default, what="a number")
        if value < minimum:
            self.error(key, f"must be at least {minimum}")
            return default
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.get(key, int, default, what="an integer")
        if value < minimum:
            self.error(key, f"must be at least {minimum}")
            return default
        return int(value)

    def texts(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(key, list, list(default), what="a list of strings")
        if not all(isinstance(v, str) for v in value):
            self.error(key, "must be a list of strings")
            return default
        return tuple(value)

    def unknown(self, allowed: tuple[str, ...]) -> None:
        for key in self.obj:
            if key not in allowed:
                self.error(key, "unknown field")


def parse_menu(data: Any, catalogue: Mapping[str, str] | None = None) -> Menu:
    """Build a :class:`Menu` from decoded data; raise :class:`MenuFormatError` listing every
    shape or type problem. ``catalogue`` is the base prompt catalogue (the shipped texts);
    the menu's own ``prompts`` are laid over it."""
    errors: list[ValidationError] = []
    if not isinstance(data, Mapping):
        raise MenuFormatError([ValidationError(None, "schema", "a menu must be an object")])
    top = _Reader(errors, None, data)
    top.unknown(("id", "name", "version", "start", "defaults", "prompts", "nodes",
                 "description"))
    menu_id = top.text("id", "menu")
    start = top.text("start")
    version = top.get("version", int, None, what="an integer")
    prompts = dict(catalogue or {})
    own = top.get("prompts", Mapping, {}, what="an object")
    for pid, text in own.items():
        if isinstance(text, str):
            prompts[str(pid)] = text
        else:
            top.error(f"prompts.{pid}", "must be a string")
    defaults = _defaults(_Reader(errors, None, top.get("defaults", Mapping, {}, what="an object"),
                                 "defaults."))
    nodes: dict[str, Node] = {}
    raw_nodes = top.get("nodes", Mapping, {}, what="an object")
    for node_id, raw in raw_nodes.items():
        if not isinstance(raw, Mapping):
            errors.append(ValidationError(str(node_id), "schema", "a node must be an object"))
            continue
        node = _node(errors, str(node_id), raw, defaults)
        if node is not None:
            nodes[str(node_id)] = node
    if errors:
        raise MenuFormatError(errors)
    return Menu(id=menu_id, start=start, nodes=nodes, prompts=prompts,
                name=top.text("name", ""), version=version)


def _defaults(r: _Reader) -> dict[str, Any]:
    r.unknown(_COMMON)
    base = {"timeout_s": 6.0, "retries": 2, "speech_timeout_s": 25.0}
    out: dict[str, Any] = {
        "timeout_s": r.number("timeout_s", base["timeout_s"], 0.5),
        "retries": r.integer("retries", int(base["retries"])),
        "speech_timeout_s": r.number("speech_timeout_s", base["speech_timeout_s"], 1.0),
        "barge_in": r.get("barge_in", bool, True, what="true or false"),
        "invalid_prompt": r.get("invalid_prompt", (str, type(None)), "invalid_input",
                                what="a prompt id or null"),
        "timeout_prompt": r.get("timeout_prompt", (str, type(None)), None,
                                what="a prompt id or null"),
    }
    return out


def _node(errors: list[ValidationError], node_id: str, raw: Mapping[str, Any],
          defaults: dict[str, Any]) -> Node | None:
    r = _Reader(errors, node_id, raw)
    kind = r.text("type")
    if kind is None:
        return None
    if kind not in NODE_TYPES:
        r.error("type", f"unknown node type {kind!r} (one of {', '.join(NODE_TYPES)})")
        return None
    r.unknown(("type", "prompt", "prompts", "description", *_COMMON, *_FIELDS[kind]))
    prompts = r.texts("prompts")
    if "prompt" in raw:
        one = r.text("prompt")
        prompts = (one, *prompts) if one else prompts
    common: dict[str, Any] = {
        "id": node_id,
        "prompts": prompts,
        "description": r.text("description", ""),
        "timeout_s": r.number("timeout_s", defaults["timeout_s"], 0.5),
        "retries": r.integer("retries", defaults["retries"]),
        "speech_timeout_s": r.number("speech_timeout_s", defaults["speech_timeout_s"], 1.0),
        "barge_in": r.get("barge_in", bool, defaults["barge_in"], what="true or false"),
        "invalid_prompt": r.get("invalid_prompt", (str, type(None)), defaults["invalid_prompt"],
                                what="a prompt id or null"),
        "timeout_prompt": r.get("timeout_prompt", (str, type(None)), defaults["timeout_prompt"],
                                what="a prompt id or null"),
    }
    before = len(errors)
    node = _BUILDERS[kind](r, common)
    return node if len(errors) == before else None


def _play(r: _Reader, c: dict[str, Any]) -> Node:
    return PlayNode(next=r.text("next"), **c)


def _menu(r: _Reader, c: dict[str, Any]) -> Node:
    options: list[Option] = []
    for i, raw in enumerate(r.get("options", list, [], what="a list of options")):
        if not isinstance(raw, Mapping):
            r.error(f"options[{i}]", "must be an object")
            continue
        o = _Reader(r.errors, r.node, raw, f"options[{i}].")
        o.unknown(("key", "keywords", "label", "next"))
        options.append(Option(next=o.text("next"), key=o.get("key", str, None, what="a string"),
                              keywords=o.texts("keywords"), label=o.text("label", "")))
    return MenuNode(options=tuple(options), no_match=r.get("no_match", (str, type(None)), None,
                                                               what="a node id or null"),
                    on_fail=r.text("on_fail"),
                    min_confidence=r.number("min_confidence", 0.0), **c)


def _collect(r: _Reader, c: dict[str, Any]) -> Node:
    return CollectNode(variable=r.text("variable"), min_digits=r.integer("min_digits", 1, 1),
                       max_digits=r.integer("max_digits", 20, 1),
                       terminator=r.text("terminator", "#"),
                       inter_digit_timeout_s=r.number("inter_digit_timeout_s", 5.0, 0.5),
                       next=r.text("next"), on_fail=r.text("on_fail"), **c)


def _intake(r: _Reader, c: dict[str, Any]) -> Node:
    step_prompts = dict(INTAKE_PROMPTS)
    for role, pid in r.get("step_prompts", Mapping, {}, what="an object").items():
        if role not in INTAKE_PROMPTS:
            r.error(f"step_prompts.{role}", f"unknown role (one of {', '.join(INTAKE_PROMPTS)})")
        elif not isinstance(pid, str):
            r.error(f"step_prompts.{role}", "must be a prompt id")
        else:
            step_prompts[role] = pid
    return IntakeNode(ask=r.texts("ask", ("problem", "name", "phone", "address")),
                      step_prompts=step_prompts,
                      end_of_turn_s=r.number("end_of_turn_s", 3.0, 0.5),
                      phone_min_digits=r.integer("phone_min_digits", 7, 1),
                      phone_max_digits=r.integer("phone_max_digits", 12, 1),
                      inter_digit_timeout_s=r.number("inter_digit_timeout_s", 5.0, 0.5),
                      next=r.text("next"), **c)


def _transfer(r: _Reader, c: dict[str, Any]) -> Node:
    if "timeout_s" not in r.obj:
        c = {**c, "timeout_s": 60.0}  # waiting for an agent takes longer than for a key
    return TransferNode(type="queue" if r.obj.get("type") == "queue" else "transfer",
                        target=r.text("target"), next=r.text("next"), **c)


def _hours(r: _Reader, c: dict[str, Any]) -> Node:
    weekly: dict[str, tuple[Interval, ...]] = {}
    for days, spans in r.get("weekly", Mapping, {}, what="an object").items():
        intervals = _intervals(r, f"weekly.{days}", spans)
        for day in _days(r, str(days)):
            weekly[day] = weekly.get(day, ()) + intervals
    closed: set[date] = set()
    for text in r.texts("closed_dates"):
        d = _date(r, "closed_dates", text)
        if d is not None:
            closed.add(d)
    open_dates: dict[date, tuple[Interval, ...]] = {}
    for text, spans in r.get("open_dates", Mapping, {}, what="an object").items():
        d = _date(r, "open_dates", str(text))
        if d is not None:
            open_dates[d] = _intervals(r, f"open_dates.{text}", spans)
    return HoursNode(timezone=r.text("timezone", "Asia/Shanghai"), weekly=weekly,
                     closed_dates=frozenset(closed), open_dates=open_dates,
                     open=r.text("open"), closed=r.text("closed"), **c)


def _hangup(r: _Reader, c: dict[str, Any]) -> Node:
    return HangupNode(**c)


_BUILDERS: Mapping[str, Callable[[_Reader, dict[str, Any]], Node]] = {
    "play": _play, "menu": _menu, "collect": _collect, "intake": _intake,
    "transfer": _transfer, "queue": _transfer, "hours": _hours, "hangup": _hangup,
}


def _days(r: _Reader, spec: str) -> list[str]:
    if spec == "daily":
        return list(WEEKDAYS)
    out: list[str] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            r.error(f"weekly.{spec}", "days must be mon…sun, a range mon-fri, a list, or daily")
            return []
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        out.extend(WEEKDAYS[a : b + 1] if a <= b else WEEKDAYS[a:] + WEEKDAYS[: b + 1])
    return out


def _intervals(r: _Reader, key: str, spans: Any) -> tuple[Interval, ...]:
    if not isinstance(spans, list):
        r.error(key, 'must be a list of "HH:MM-HH:MM"')
        return ()
    out: list[Interval] = []
    for span in spans:
        m = _INTERVAL.match(span) if isinstance(span, str) else None
        if m is None:
            r.error(key, f'{span!r} is not "HH:MM-HH:MM"')
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or end > 1440 or start >= end:
            r.error(key, f"{span!r} is not a time range within one day")
            continue
        out.append(Interval(start, end))
    return tuple(out)


def _date(r: _Reader, key: str, text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        r.error(key, f"{text!r} is not a date YYYY-MM-DD")
        return None
