"""The shared dev set: per-field accuracy, printed, and the ≥95% target asserted.

``expect`` semantics (shared/README.md): a key present is checked, null means the field
must be empty, a list means any of these values.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from workorders import draft

DEV_SET = Path(__file__).resolve().parents[3] / "shared" / "samples" / "drafting_dev.jsonl"
TARGET = 0.95


def _matches(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return got in want
    return bool(got == want)


def field_accuracy(path: Path) -> tuple[dict[str, float], list[str]]:
    """Per-field accuracy over ``path`` and a line per miss (id, field, got, wanted)."""
    checked: Counter[str] = Counter()
    right: Counter[str] = Counter()
    misses: list[str] = []
    now = datetime(2024, 5, 1, 9, 0)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        got = draft(case["text"], case.get("caller_number"), now).to_dict(case["id"])
        for field, want in case["expect"].items():
            checked[field] += 1
            if _matches(got[field], want):
                right[field] += 1
            else:
                misses.append(f"{case['id']} {field}: got {got[field]!r}, want {want!r}")
    return {f: right[f] / checked[f] for f in sorted(checked)}, misses


@pytest.mark.skipif(not DEV_SET.exists(), reason="../shared/samples not present")
def test_dev_set_field_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    accuracy, misses = field_accuracy(DEV_SET)
    with capsys.disabled():
        print("\ndrafting dev set, per-field accuracy:")
        for field, value in accuracy.items():
            print(f"  {field:12s} {value:6.1%}")
        for miss in misses:
            print("  miss:", miss)
    below = {f: v for f, v in accuracy.items() if v < TARGET}
    assert not below, f"fields below {TARGET:.0%}: {below}; misses: {misses}"
