"""Checks a menu must pass before it is published. Every error names its node.

The graph checks work on :func:`ivr.model.edges`: targets must exist, every node must be
reachable from the start, and from every reachable node some path must end well (a hang-up
or a transfer); a node from which none does is a dead end, or part of a loop with no way
out. The rest are per-node checks: prompts in the catalogue, DTMF key names, duplicate keys
and keywords, digit lengths, time zones, transfer targets.
"""

from __future__ import annotations

import zoneinfo
from collections import deque
from collections.abc import Callable, Iterable

from ivr.errors import ValidationError
from ivr.model import (
    DTMF_KEYS,
    INTAKE_STEPS,
    CollectNode,
    HoursNode,
    IntakeNode,
    Menu,
    MenuNode,
    Node,
    TransferNode,
    edges,
    is_terminal,
    prompt_refs,
)
from ivr.speech import normalise


def validate(menu: Menu) -> list[ValidationError]:
    """All problems of ``menu``, graph problems first; an empty list means publishable."""
    errors: list[ValidationError] = []
    if menu.start not in menu.nodes:
        errors.append(ValidationError(None, "unknown_target",
                                      f"start node '{menu.start}' does not exist"))
    for node in menu.nodes.values():
        for label, target in edges(node):
            if target not in menu.nodes:
                errors.append(ValidationError(node.id, "unknown_target",
                                              f"{label} goes to unknown node '{target}'"))
    errors.extend(_graph(menu))
    for node in menu.nodes.values():
        errors.extend(_prompts(menu, node))
        errors.extend(_node_checks(node))
    return errors


def _successors(menu: Menu, node_id: str) -> list[str]:
    return [t for _, t in edges(menu.nodes[node_id]) if t in menu.nodes]


def _graph(menu: Menu) -> Iterable[ValidationError]:
    if menu.start not in menu.nodes:
        return
    reachable = _closure([menu.start], lambda n: _successors(menu, n))
    for node_id in menu.nodes:
        if node_id not in reachable:
            yield ValidationError(node_id, "unreachable",
                                  f"unreachable: no path from the start node '{menu.start}'")
    predecessors: dict[str, list[str]] = {n: [] for n in menu.nodes}
    for n in menu.nodes:
        for t in _successors(menu, n):
            predecessors[t].append(n)
    ends = [n for n, node in menu.nodes.items() if is_terminal(node)]
    can_end = _closure(ends, lambda n: predecessors[n])
    stuck = [n for n in menu.nodes if n in reachable and n not in can_end]
    stuck_set = set(stuck)
    for n in stuck:
        loop = _cycle_through(menu, n, stuck_set)
        if loop:
            path = " → ".join([*loop, loop[0]])
            yield ValidationError(n, "loop_no_exit",
                                  f"loop with no way out ({path}): no path to a hangup or transfer")
        else:
            yield ValidationError(n, "dead_end",
                                  "dead end: no path from here to a hangup or transfer")
    yield from _instant_loops(menu, reachable)


def _closure(seeds: list[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    seen = set(seeds)
    todo = deque(seeds)
    while todo:
        for nxt in step(todo.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle_through(menu: Menu, start: str, allowed: set[str]) -> list[str]:
    """A shortest cycle through ``start`` inside ``allowed``, or [] if there is none."""
    parents: dict[str, str] = {}
    todo = deque([start])
    while todo:
        n = todo.popleft()
        for t in _successors(menu, n):
            if t == start:
                path = [n]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1]
            if t in allowed and t not in parents:
                parents[t] = n
                todo.append(t)
    return []


def _instant_loops(menu: Menu, reachable: set[str]) -> Iterable[ValidationError]:
    # Hours nodes route without waiting for anything: a cycle of them spins forever.
    instant = {n for n, node in menu.nodes.items() if isinstance(node, HoursNode)}
    for n in sorted(instant & reachable):
        loop = _cycle_through(menu, n, instant)
        if loop and loop[0] == min(loop):
            yield ValidationError(n, "instant_loop",
                                  f"hours nodes route in a circle ({' → '.join(loop)})")


def _prompts(menu: Menu, node: Node) -> Iterable[ValidationError]:
    for pid in prompt_refs(node):
        if pid not in menu.prompts:
            yield ValidationError(node.id, "missing_prompt",
                                  f"prompt '{pid}' is not in the prompt catalogue")
    if isinstance(node, MenuNode | CollectNode) and not node.prompts:
        yield ValidationError(node.id, "missing_prompt",
                              f"a {node.type} node needs a prompt: callers hear nothing")


def _node_checks(node: Node) -> Iterable[ValidationError]:
    match node:
        case MenuNode():
            yield from _menu_checks(node)
        case CollectNode():
            if node.terminator not in DTMF_KEYS - set("0123456789"):
                yield ValidationError(node.id, "bad_key",
                                      f"terminator {node.terminator!r} must be # or *")
            if node.min_digits > node.max_digits:
                yield ValidationError(node.id, "bad_length", f"min_digits {node.min_digits} > "
                                      f"max_digits {node.max_digits}")
        case IntakeNode():
            for step in node.ask:
                if step not in INTAKE_STEPS:
                    yield ValidationError(node.id, "bad_step",
                                          f"unknown intake step {step!r} "
                                          f"(one of {', '.join(INTAKE_STEPS)})")
            if len(set(node.ask)) != len(node.ask):
                yield ValidationError(node.id, "duplicate_step", "an intake step is asked twice")
            if node.phone_min_digits > node.phone_max_digits:
                yield ValidationError(node.id, "bad_length",
                                      f"phone_min_digits {node.phone_min_digits} > "
                                      f"phone_max_digits {node.phone_max_digits}")
        case HoursNode():
            try:
                zoneinfo.ZoneInfo(node.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                yield ValidationError(node.id, "bad_timezone",
                                      f"unknown time zone {node.timezone!r}")
        case TransferNode():
            if not node.target.strip():
                yield ValidationError(node.id, "bad_target", "transfer target is empty")
            elif node.type == "transfer" and not node.target.startswith(("sip:", "sips:", "tel:")):
                yield ValidationError(node.id, "bad_target",
                                      f"transfer target {node.target!r} is not a sip:, sips: "
                                      "or tel: URI")
        case _:
            pass


def _menu_checks(node: MenuNode) -> Iterable[ValidationError]:
    if not node.options:
        yield ValidationError(node.id, "dead_end", "menu offers no options")
    keys: dict[str, str] = {}
    words: dict[str, str] = {}
    for i, option in enumerate(node.options):
        name = f"option {option.key or option.label or i + 1}"
        if option.key is None and not option.keywords:
            yield ValidationError(node.id, "unreachable_option",
                                  f"{name} has neither a key nor keywords")
        if option.key is not None:
            if option.key not in DTMF_KEYS:
                yield ValidationError(node.id, "bad_key",
                                      f"{name}: {option.key!r} is not a DTMF key (0-9, *, #)")
            elif option.key in keys:
                yield ValidationError(node.id, "duplicate_key",
                                      f"key {option.key} is used twice "
                                      f"({keys[option.key]} and {name})")
            else:
                keys[option.key] = name
        for word in option.keywords:
            norm = normalise(word)
            if not norm:
                yield ValidationError(node.id, "bad_keyword", f"{name}: empty keyword")
            elif norm in words and words[norm] != name:
                yield ValidationError(node.id, "duplicate_keyword",
                                      f"keyword {word!r} is used twice ({words[norm]} and {name})")
            else:
                words[norm] = name
