"""Plain functions behind ``voice-intake ivr show|validate|simulate`` (the CLI wires them to
argparse). ``FILE`` is a menu path or ``default`` for the shipped menu. The simulator runs
the call machine, a layer above this one: the CLI hands it to :func:`simulate_file`.

``python -m ivr.cli show default`` also works, for a quick look without the full CLI;
``python -m ivr.cli render default DIR`` renders the prompts that have no audio yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.errors import MenuFormatError, PromptError
from ivr.loader import load_menu
from ivr.model import Menu
from ivr.prompts import missing_prompts, render_missing
from ivr.serialize import menu_to_data
from ivr.settings import IvrSettings
from ivr.simulator import Simulate
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
                  caller_number: str | None = "13800138000", *,
                  simulate: Simulate) -> list[dict[str, Any]]:
    """Simulate a call with ``simulate`` (see :mod:`ivr.simulator` for the input syntax);
    one dict per node. ``now`` defaults to the current time in China: this is the edge
    where a clock is read."""
    when = now or datetime.now(zoneinfo.ZoneInfo(TIMEZONE))
    return simulate(checked_menu(file), inputs, when, caller_number)


def missing(file: str | Path, prompt_dir: Path) -> list[str]:
    """Prompt ids of the menu with no audio in ``prompt_dir`` (what the admin UI flags)."""
    return missing_prompts(load_menu(file), prompt_dir)


def render(file: str | Path, prompt_dir: Path, settings: IvrSettings | None = None) -> list[str]:
    """Render every prompt of the menu that has no audio yet with the offline TTS command;
    return the ids rendered. Run at build or deploy time (scripts), not per call."""
    return render_missing(load_menu(file), prompt_dir, settings or IvrSettings())


def json_lines(records: list[dict[str, Any]]) -> str:
    """One compact JSON object per line, Chinese left readable."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show").add_argument("file")
    sub.add_parser("validate").add_argument("file")
    for name in ("missing", "render"):
        p = sub.add_parser(name)
        p.add_argument("file")
        p.add_argument("prompt_dir", type=Path)
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
            ids = (missing if args.command == "missing" else render)(args.file, args.prompt_dir)
            print("\n".join(ids))
    except MenuFormatError as exc:
        for e in exc.errors:
            print(e, file=sys.stderr)
        return 1
    except PromptError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
