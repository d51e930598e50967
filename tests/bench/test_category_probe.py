"""The category probe (bench/category_probe.py): its rows name real categories and
subcategories, and the bench runs against another taxonomy file too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import category_probe
from workorders.knowledge import knowledge


@pytest.mark.parametrize(("path", "size"), [(category_probe.PROBE, 300),
                                            (category_probe.RAMBLING, 180),
                                            (category_probe.THIRD, 360)])
def test_every_row_names_a_subcategory_of_its_category(path: Path, size: int) -> None:
    rows = category_probe.load(path)
    assert len(rows) == size and len({r["id"] for r in rows}) == size
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
    assert len(lines) == 9  # per file: its name, the shipped taxonomy, the other one
    for first in (1, 4, 7):
        assert lines[first].split()[1:] == lines[first + 1].split()[1:]
