"""Every validation case, each naming its node; and the schema's messages."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ivr import MenuFormatError, default_menu, parse_menu, validate
from ivr.loader import decode_menu_text, load_menu

from .support import SMALL


def errors_of(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e.node, e.code) for e in validate(parse_menu(data))]


def with_nodes(**nodes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL)
    for node_id, node in nodes.items():
        if node is None:
            del data["nodes"][node_id]
        else:
            data["nodes"][node_id] = node
    return data


MAIN = SMALL["nodes"]["main"]
OPTS = MAIN["options"]

CASES: list[tuple[str, dict[str, Any], list[tuple[str | None, str]]]] = [
    ("the shipped-style small menu is clean", copy.deepcopy(SMALL), []),
    ("unknown target",
     with_nodes(code={**SMALL["nodes"]["code"], "next": "nowhere"}),
     [("code", "unknown_target")]),
    # Without a start, reachability means nothing: only the start itself is reported.
    ("unknown start", {**copy.deepcopy(SMALL), "start": "nope"}, [(None, "unknown_target")]),
    ("unreachable node",
     with_nodes(orphan={"type": "play", "prompt": "hello", "next": "bye"}),
     [("orphan", "unreachable")]),
    ("loop with no way out",
     with_nodes(main={**MAIN, "options": [{"key": "1", "next": "a"}], "no_match": None,
                      "on_fail": "a"},
                a={"type": "play", "prompt": "hello", "next": "b"},
                b={"type": "play", "prompt": "hello", "next": "a"},
                code=None, xfer=None, bye=None),
     [("main", "dead_end"), ("a", "loop_no_exit"), ("b", "loop_no_exit")]),
    ("a menu that only leads back to itself",
     with_nodes(main={**MAIN, "options": [{"key": "1", "next": "main"}], "no_match": None,
                      "on_fail": "main"}, code=None, xfer=None, bye=None),
     [("main", "loop_no_exit")]),
    ("menu with no options is a dead end",
     with_nodes(main={**MAIN, "options": []}),
     [("code", "unreachable"), ("xfer", "unreachable"), ("main", "dead_end")]),
    ("missing prompt",
     with_nodes(code={**SMALL["nodes"]["code"], "prompt": "p_nope"}),
     [("code", "missing_prompt")]),
    ("menu without any prompt",
     with_nodes(main={k: v for k, v in MAIN.items() if k != "prompt"}),
     [("main", "missing_prompt")]),
    ("duplicate key",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "1", "next": "bye"}]}),
     [("main", "duplicate_key")]),
    ("duplicate keyword across options (also in traditional characters)",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "4", "keywords": ["諮詢"],
                                                  "next": "bye"}]}),
     [("main", "duplicate_keyword")]),
    ("bad key name",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "11", "next": "bye"}]}),
     [("main", "bad_key")]),
    ("option without key or keyword",
     with_nodes(main={**MAIN, "options": [*OPTS, {"label": "空", "next": "bye"}]}),
     [("main", "unreachable_option")]),
    ("bad terminator",
     with_nodes(code={**SMALL["nodes"]["code"], "terminator": "5"}),
     [("code", "bad_key")]),
    ("min > max digits",
     with_nodes(code={**SMALL["nodes"]["code"], "min_digits": 6, "max_digits": 4}),
     [("code", "bad_length")]),
    ("transfer target not a SIP URI",
     with_nodes(xfer={**SMALL["nodes"]["xfer"], "target": "agent@somewhere"}),
     [("xfer", "bad_target")]),
    ("bad time zone",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "9", "next": "h"}]},
                h={"type": "hours", "timezone": "Mars/Olympus", "weekly": {}, "open": "bye",
                   "closed": "bye"}),
     [("h", "bad_timezone")]),
    ("hours nodes routing in a circle",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "9", "next": "h1"}]},
                h1={"type": "hours", "weekly": {"daily": ["08:00-20:00"]}, "open": "h2",
                    "closed": "bye"},
                h2={"type": "hours", "weekly": {"daily": ["08:00-20:00"]}, "open": "h1",
                    "closed": "bye"}),
     [("h1", "instant_loop")]),
    ("unknown intake step",
     with_nodes(main={**MAIN, "options": [*OPTS, {"key": "9", "next": "in"}]},
                **{"in": {"type": "intake", "ask": ["problem", "age"], "next": "bye"}}),
     [("in", "bad_step")]),
]


@pytest.mark.parametrize(("data", "expected"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_validation_case(data: dict[str, Any], expected: list[tuple[str | None, str]]) -> None:
    if any(n.get("type") == "intake" for n in data["nodes"].values()):
        data["prompts"] = {**default_menu().prompts, **data["prompts"]}
    assert sorted(errors_of(data), key=str) == sorted(expected, key=str)


def test_every_error_message_names_its_node() -> None:
    data = with_nodes(main={**MAIN, "options": [*OPTS, {"key": "1", "next": "gone"}]})
    for error in validate(parse_menu(data)):
        assert str(error).startswith("node 'main': ")
    assert any("key 1 is used twice" in str(e) for e in validate(parse_menu(data)))


def test_the_default_menu_is_valid() -> None:
    assert validate(default_menu()) == []


def test_loop_message_shows_the_loop() -> None:
    data = with_nodes(main={**MAIN, "options": [{"key": "1", "next": "main"}], "no_match": None,
                            "on_fail": "main"}, code=None, xfer=None, bye=None)
    (error,) = validate(parse_menu(data))
    assert "main → main" in str(error)


# ---------------------------------------------------------------------------- schema

SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field (typo)", {"nxt": "bye"}, "node 'code': nxt: unknown field"),
    ("wrong type", {"retries": "two"}, "node 'code': retries: must be an integer, not str"),
    ("boolean for a number", {"timeout_s": True}, "timeout_s: must be a number, not bool"),
    ("negative retries", {"retries": -1}, "retries: must be at least 0"),
    ("missing required", {"variable": None}, "variable: must be a string"),
    ("unknown node type", {"type": "ask"}, "unknown node type 'ask'"),
]


@pytest.mark.parametrize(("change", "message"), [(c[1], c[2]) for c in SCHEMA_CASES],
                         ids=[c[0] for c in SCHEMA_CASES])
def test_schema_errors(change: dict[str, Any], message: str) -> None:
    data = copy.deepcopy(SMALL)
    data["nodes"]["code"].update(change)
    with pytest.raises(MenuFormatError) as info:
        parse_menu(data)
    assert any(message in str(e) for e in info.value.errors), info.value.errors


def test_schema_reports_every_problem_at_once() -> None:
    data = copy.deepcopy(SMALL)
    data["nodes"]["code"]["retries"] = "x"
    data["nodes"]["xfer"]["target"] = 5
    del data["nodes"]["main"]["on_fail"]
    with pytest.raises(MenuFormatError) as info:
        parse_menu(data)
    assert {e.node for e in info.value.errors} == {"code", "xfer", "main"}


@pytest.mark.parametrize(("hours", "message"), [
    ({"weekly": {"monday": ["08:00-17:00"]}}, "days must be mon…sun"),
    ({"weekly": {"mon": ["8-17"]}}, "is not \"HH:MM-HH:MM\""),
    ({"weekly": {"mon": ["18:00-08:00"]}}, "not a time range within one day"),
    ({"weekly": {}, "closed_dates": ["2025-02-30"]}, "is not a date"),
])
def test_hours_schema(hours: dict[str, Any], message: str) -> None:
    data = with_nodes(h={"type": "hours", "open": "bye", "closed": "bye", **hours})
    with pytest.raises(MenuFormatError) as info:
        parse_menu(data)
    assert message in str(info.value)


def test_duplicate_node_ids_in_json_are_refused() -> None:
    text = '{"id": "x", "start": "a", "nodes": {"a": {"type": "hangup"}, "a": {"type": "hangup"}}}'
    with pytest.raises(MenuFormatError) as info:
        decode_menu_text(text)
    assert str(info.value.errors[0]) == "node 'a': 'a' is defined twice in the file"


def test_syntax_error_is_reported() -> None:
    with pytest.raises(MenuFormatError, match="not valid"):
        decode_menu_text("{nope")


def test_toml_menu_file(tmp_path: Any) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        'id = "t"\nstart = "bye"\n[prompts]\nbye = "再见"\n'
        '[nodes.bye]\ntype = "hangup"\nprompt = "bye"\n', encoding="utf-8")
    menu = load_menu(path)
    assert validate(menu) == [] and menu.prompts["bye"] == "再见"


def test_json_round_trip_of_the_default_menu() -> None:
    from ivr.serialize import menu_to_data

    menu = default_menu()
    data = json.loads(json.dumps(menu_to_data(menu), ensure_ascii=False))
    assert parse_menu(data) == parse_menu(data, {}) == parse_menu(menu_to_data(menu))
    assert parse_menu(data, default_menu().prompts) == menu
