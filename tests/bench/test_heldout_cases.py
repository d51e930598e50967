"""The committed blind held-out cases are what their generator writes, and pass its checks
(the first set unchanged by the option for the second)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.heldout import build, make_cases
from bench.heldout.second_set import CASES_B


def _committed(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_first_set_is_the_generated_one_and_passes_its_checks() -> None:
    cases = make_cases.build()
    assert make_cases.check(cases) == []
    assert _committed(make_cases.OUTS["a"]) == cases
    assert [c["id"] for c in cases] == [f"H{i:02d}" for i in range(1, 41)]


def test_second_set_is_the_generated_one_and_passes_its_checks_and_coverage() -> None:
    cases = make_cases.build(CASES_B)
    assert make_cases.check(cases, CASES_B) == []
    assert make_cases.coverage(cases, make_cases.CASES) == []
    assert _committed(make_cases.OUTS["b"]) == cases
    assert [c["id"] for c in cases] == [f"H{i}" for i in range(41, 101)]


def test_coverage_reports_what_is_missing() -> None:
    cases = make_cases.build(CASES_B)[:30]
    errors = make_cases.coverage(cases, make_cases.CASES)
    assert any(e.startswith("districts not covered") for e in errors)
    assert any("urgent cases, not 8-10" in e for e in errors)
    clash = make_cases.coverage(make_cases.build(CASES_B[:1] + make_cases.CASES[:1]),
                                make_cases.CASES)
    assert "ids also in an earlier set: ['H01']" in clash


def test_build_sets_pick_the_cases_and_the_folder() -> None:
    assert build.SETS["a"] == (build.HERE / "cases.jsonl", build.OUT)
    cases_b, out_b = build.SETS["b"]
    assert cases_b == make_cases.OUTS["b"]
    assert out_b.name == "calls_heldout_b"


def test_each_later_set_is_its_committed_file_and_checked_against_all_before(
        tmp_path: Path) -> None:
    for which in ("b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                  "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y"):
        out = tmp_path / f"{which}.jsonl"
        assert make_cases.main(out, which) == 0, which
        assert out.read_bytes() == make_cases.OUTS[which].read_bytes(), which
    # the fourth set's ids are checked against the first three
    d = make_cases.build(make_cases._source("d"))
    assert make_cases.coverage(d + d[:1], []) == ["ids not unique"]
    assert "ids also in an earlier set: ['H101']" in make_cases.coverage(
        make_cases.build(make_cases._source("c")[:1]), make_cases._source("b")
        + make_cases._source("c"))


def test_the_number_said_after_a_self_correction() -> None:
    said = make_cases._said_digits
    assert said("幺三八 幺零四五 七七二六") == "13810457726"
    assert said("幺三八 幺零四五 七七二六 不对 是 幺三八 幺零四五 七七六二") == "13810457762"
    assert said("幺三八 幺零四五 七七二六 不对 七七六二") == "13810457762"  # the last group
    # 不对 said twice before the corrected digits
    assert said("幺三八 幺零四五 七七二六 不对 不对 是 七七六二") == "13810457762"
