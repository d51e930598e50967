"""Names as callers say them: 240 answers to 您贵姓?, text only.

    .venv/bin/python -m bench.name_probe [--show-misses]

``bench/data/name_probe.jsonl`` holds 240 answers to the name question (plain 我姓王 and
王建国, descriptions 耳东陈 / 宋朝的宋, spellings by parts 三点水一个工, titles 王女士,
self-corrections, refusals, compound and rare surnames), written by a helper who read
neither the drafter nor any held-out case. Each gives the surname (or null) and the full
name where one is said. The bench prints surname and full-name accuracy of
``find_name`` (what a monologue is read with) beside ``answer_name`` (an answer read as
one to the name question) and ``answer_name(bare=False)`` (what the drafter does with every
short utterance decoded again for the name: a surname alone or with a title is not
taken). It is development data: ``answer_name`` was written against it, so its figure
shows coverage, not generalization.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workorders.names import CallerName, answer_name, find_name
from workorders.text import compact

PROBE = Path(__file__).resolve().parent / "data" / "name_probe.jsonl"


def load(path: Path = PROBE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def score(rows: list[dict[str, Any]], read: Callable[[str], CallerName]
          ) -> tuple[int, int, int, list[tuple[dict[str, Any], CallerName]]]:
    """Right surnames, right full names, rows with a full name, and the misses."""
    surnames = names = with_name = 0
    misses = []
    for row in rows:
        got = read(row["text"])
        ok = got.surname.value == row["surname"]
        surnames += ok
        if row["name"]:
            with_name += 1
            names += got.name.value == row["name"]
            ok = ok and got.name.value == row["name"]
        if not ok:
            misses.append((row, got))
    return surnames, names, with_name, misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    rows = load()
    readers: list[tuple[str, Callable[[str], CallerName]]] = [
        ("find_name", lambda text: find_name(compact(text))), ("answer_name", answer_name),
        ("answer_name(bare=False)", lambda text: answer_name(text, bare=False))]
    for label, read in readers:
        surnames, names, with_name, misses = score(rows, read)
        print(f"{label:<24} surname {100 * surnames / len(rows):5.1f}% ({surnames}/{len(rows)})"
              f"   full name {100 * names / with_name:5.1f}% ({names}/{with_name})")
        if args.show_misses:
            for row, got in misses:
                print(f"  {row['id']} {row['text']}  want {row['surname']}/{row['name']}, "
                      f"got {got.surname.value}/{got.name.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
