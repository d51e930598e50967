"""The category probe (bench/category_probe.py): its rows name real categories and
subcategories, and the bench runs against another taxonomy file too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import category_probe
from workorders.knowledge import knowledge


def test_every_row_names_a_subcategory_of_its_category() -> None:
    rows = category_probe.load()
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    subs = {(s.category, s.name) for s in knowledge().taxonomy.subcategories}
    for row in rows:
        cats = row["category"] if isinstance(row["category"], list) else [row["category"]]
        assert (cats[0], row["subcategory"]) in subs, row["id"]
        assert all(c in {c for c, _ in subs} for c in cats), row["id"]


def test_the_bench_measures_another_taxonomy_beside_the_shipped_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(category_probe.__file__).resolve().parents[1] / "config/data/taxonomy.toml"
    other = tmp_path / "taxonomy.toml"
    other.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    assert category_probe.main(["--taxonomy", str(other)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1:] == lines[1].split()[1:]
