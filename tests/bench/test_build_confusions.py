"""scripts/build_confusions.py: counts from call folders given on the command line, added to
an existing table's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_confusions", REPO / "scripts" / "build_confusions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_from_given_calls_add_to_an_existing_table(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "calls.tsv").write_text("X1\t朝阳区的路灯坏了\t3.0\n", encoding="utf-8")
    (calls / "cases.jsonl").write_text(json.dumps(
        {"id": "X1", "text": "朝阳区的路灯坏了", "expect": {}}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps({"k": {"id": "X1", "pipeline": "潮洋七的路灯坏了"}},
                                ensure_ascii=False), encoding="utf-8")
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"source": "earlier", "pairs": [["qu", "qi", 3]],
                                "totals": {"qu": 9}}), encoding="utf-8")
    out = tmp_path / "out.json"
    assert _script().main(["--calls", str(calls), "--cache", str(cache),
                           "--add-to", str(base), "--out", str(out)]) == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    pairs = {(a, b): n for a, b, n in table["pairs"]}
    assert pairs[("qu", "qi")] == 4  # 3 before, 区 → 七 once more
    assert len(pairs) == 1  # 朝阳 is chao yang: 潮洋 sounds the same
    assert table["totals"]["qu"] == 10
    assert table["source"].startswith("earlier; plus 1 transcripts")
