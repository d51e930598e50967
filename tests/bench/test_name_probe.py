"""The name probe (bench/name_probe.py): its rows are consistent and the bench runs."""

from __future__ import annotations

import pytest

from bench import name_probe


def test_every_row_says_its_surname_and_name() -> None:
    rows = name_probe.load()
    assert len(rows) == 240 and len({r["id"] for r in rows}) == 240
    for row in rows:
        text = row["text"].replace(" ", "")
        if row["surname"] is not None:
            assert row["surname"] in text, row["id"]
        if row["name"] is not None:
            assert row["name"] in text and row["name"].startswith(row["surname"]), row["id"]


def test_the_bench_prints_both_readers(capsys: pytest.CaptureFixture[str]) -> None:
    assert name_probe.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["find_name", "answer_name",
                                                   "answer_name(bare=False)"]
