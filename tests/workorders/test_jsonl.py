"""``voice-intake draft`` core: JSON lines in, JSON lines out, bad lines reported."""

from __future__ import annotations

import io
import json
from datetime import datetime

from config.settings import DraftingSettings
from workorders import DRAFT_KEYS
from workorders.jsonl import run

NOW = datetime(2024, 5, 1, 9, 0)


def run_lines(*lines: str) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    status = run(io.StringIO("".join(line + "\n" for line in lines)), out, DraftingSettings(), NOW)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_line_gives_a_draft_with_the_design_keys() -> None:
    status, out = run_lines(
        json.dumps({"id": "a", "text": "我姓黄 电话幺三八幺幺二二三三四四", "caller_number": None}),
        json.dumps({"id": "b", "text": "朝阳区双井街道 暖气不热", "caller_number": "13900000000"}),
    )
    assert status == 0
    assert [tuple(o) for o in out] == [DRAFT_KEYS, DRAFT_KEYS]
    assert out[0]["id"] == "a" and out[0]["phone"] == "13811223344"
    assert out[1]["phone"] == "13900000000" and out[1]["street"] == "双井街道"


def test_bad_lines_are_reported_and_the_stream_goes_on() -> None:
    status, out = run_lines(
        "{not json",
        "[1, 2]",
        json.dumps({"id": "c", "text": 5}),
        "",
        json.dumps({"id": "d", "text": "通州区 中仓街道 停水了"}),
    )
    assert status == 1
    assert out[0]["line"] == 1 and "invalid JSON" in str(out[0]["error"])
    assert out[1]["line"] == 2
    assert out[2] == {"line": 3, "id": "c", "error": "'text' must be a string"}
    assert out[3]["id"] == "d" and out[3]["district"] == "通州区"


def test_errors_do_not_echo_the_transcript() -> None:
    _, out = run_lines(json.dumps({"id": "e", "text": "我姓黄", "caller_number": {"x": 1}}))
    assert "我姓黄" not in json.dumps(out, ensure_ascii=False)
    assert out[0]["id"] == "e"


def test_output_is_utf8_json_not_escaped() -> None:
    out = io.StringIO()
    run(io.StringIO(json.dumps({"id": 1, "text": "我姓黄"}) + "\n"), out, DraftingSettings(), NOW)
    assert "黄" in out.getvalue()
