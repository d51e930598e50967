"""Plain functions behind ``voice-intake ivr show|validate|simulate`` (the CLI wires them to
argparse). ``FILE`` is a menu path or ``default`` for the shipped menu.

``python -m ivr.cli show default`` also works, for a quick look without the full CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.errors import MenuFormatError
from ivr.loader import load_menu
from ivr.model import Menu
from ivr.serialize import menu_to_data
from ivr.simulator import simulate
from ivr.validate import validate

TIMEZONE = "Asia/Shanghai"


def show(file: str | Path) -> dict[str, Any]:
    """The menu as JSON-ready data, defaults filled in. Raises :class:`MenuFormatError`."""
    return menu_to_data(load_menu(file))


def validate_file(file: str | Path) -> list[str]:
    """Every problem of the menu file, one line each naming its node; empty when the menu
    may be published. The CLI exits non-zero when this is not empty."""
    try:
        menu = load_menu(file)
    except MenuFormatError as exc:
        return [str(e) for e in exc.errors]
    return [str(e) for e in validate(menu)]


def checked_menu(file: str | Path) -> Menu:
    """Load a menu and refuse it unless it validates (raises :class:`MenuFormatError`)."""
    menu = load_menu(file)
    errors = validate(menu)
    if errors:
        raise MenuFormatError(errors)
    return menu


def simulate_file(file: str | Path, inputs: list[str], now: datetime | None = None,
                  caller_number: str | None = "13800138000") -> list[dict[str, Any]]:
    """Simulate a call (see :mod:`ivr.simulator` for the input syntax); one dict per node.
    ``now`` defaults to the current time in China: this is the edge where a clock is read."""
    when = now or datetime.now(zoneinfo.ZoneInfo(TIMEZONE))
    return simulate(checked_menu(file), inputs, when, caller_number)


def json_lines(records: list[dict[str, Any]]) -> str:
    """One compact JSON object per line, Chinese left readable."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show").add_argument("file")
    sub.add_parser("validate").add_argument("file")
    sim = sub.add_parser("simulate")
    sim.add_argument("file")
    sim.add_argument("--input", action="append", default=[])
    sim.add_argument("--at", help="ISO time of the call (default: now)")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            print(json.dumps(show(args.file), ensure_ascii=False, indent=2))
        elif args.command == "validate":
            problems = validate_file(args.file)
            for line in problems:
                print(line, file=sys.stderr)
            return 1 if problems else 0
        else:
            when = datetime.fromisoformat(args.at) if args.at else None
            sys.stdout.write(json_lines(simulate_file(args.file, args.input, when)))
    except MenuFormatError as exc:
        for e in exc.errors:
            print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
