"""Menu → plain data (the JSON shape :func:`ivr.schema.parse_menu` reads), for ``ivr show``,
storing versions and the admin editor. ``parse_menu(menu_to_data(m))`` gives ``m`` back."""

from __future__ import annotations

from typing import Any

from ivr.model import (
    INTAKE_PROMPTS,
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
    prompt_refs,
)


def menu_to_data(menu: Menu) -> dict[str, Any]:
    """Self-contained data: every field explicit, and the texts of the prompts it uses."""
    used = [pid for node in menu.nodes.values() for pid in prompt_refs(node)]
    data: dict[str, Any] = {"id": menu.id, "name": menu.name}
    if menu.version is not None:
        data["version"] = menu.version
    data["start"] = menu.start
    data["prompts"] = {pid: menu.prompts[pid] for pid in dict.fromkeys(used)
                       if pid in menu.prompts}
    data["nodes"] = {node_id: node_to_data(node) for node_id, node in menu.nodes.items()}
    return data


def node_to_data(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.type}
    if node.description:
        out["description"] = node.description
    out.update(prompts=list(node.prompts), timeout_s=node.timeout_s, retries=node.retries,
               invalid_prompt=node.invalid_prompt, timeout_prompt=node.timeout_prompt,
               barge_in=node.barge_in, speech_timeout_s=node.speech_timeout_s)
    match node:
        case PlayNode():
            out["next"] = node.next
        case MenuNode():
            out["options"] = [_option(o) for o in node.options]
            if node.no_match is not None:
                out["no_match"] = node.no_match
            out.update(on_fail=node.on_fail, min_confidence=node.min_confidence)
        case CollectNode():
            out.update(variable=node.variable, min_digits=node.min_digits,
                       max_digits=node.max_digits, terminator=node.terminator,
                       inter_digit_timeout_s=node.inter_digit_timeout_s, next=node.next,
                       on_fail=node.on_fail)
        case IntakeNode():
            changed = {r: p for r, p in node.step_prompts.items() if INTAKE_PROMPTS[r] != p}
            out.update(ask=list(node.ask), step_prompts=changed, end_of_turn_s=node.end_of_turn_s,
                       phone_min_digits=node.phone_min_digits,
                       phone_max_digits=node.phone_max_digits,
                       inter_digit_timeout_s=node.inter_digit_timeout_s, next=node.next)
        case TransferNode():
            out.update(target=node.target, next=node.next)
        case HoursNode():
            out.update(timezone=node.timezone,
                       weekly={d: [_span(i) for i in node.weekly[d]]
                               for d in WEEKDAYS if d in node.weekly},
                       closed_dates=sorted(d.isoformat() for d in node.closed_dates),
                       open_dates={d.isoformat(): [_span(i) for i in spans]
                                   for d, spans in sorted(node.open_dates.items())},
                       open=node.open, closed=node.closed)
        case HangupNode():
            pass
    return out


def _option(o: Option) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if o.key is not None:
        out["key"] = o.key
    if o.label:
        out["label"] = o.label
    if o.keywords:
        out["keywords"] = list(o.keywords)
    out["next"] = o.next
    return out


def _span(i: Interval) -> str:
    return f"{i.start // 60:02d}:{i.start % 60:02d}-{i.end // 60:02d}:{i.end % 60:02d}"
