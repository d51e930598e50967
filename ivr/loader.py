"""Reading menus and the prompt catalogue from files; ``default`` is the shipped menu."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from config.data import shipped
from ivr.errors import MenuFormatError, ValidationError
from ivr.model import Menu
from ivr.schema import parse_menu

DEFAULT = "default"
DEFAULT_MENU = shipped("menus/default.json")
DEFAULT_CATALOGUE = shipped("prompts/default.toml")


def menu_path(source: str | Path) -> Path:
    """``default`` → the shipped menu file; anything else is a path."""
    return DEFAULT_MENU if str(source) == DEFAULT else Path(source)


@lru_cache(maxsize=4)
def _catalogue(path: Path) -> Mapping[str, str]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    prompts = data.get("prompts", {})
    return {str(k): str(v) for k, v in prompts.items()}


def load_catalogue(path: Path | None = None) -> dict[str, str]:
    """The prompt catalogue (id → text), by default the shipped one."""
    return dict(_catalogue(path or DEFAULT_CATALOGUE))


def read_menu_data(source: str | Path) -> Any:
    """Decode a menu file (``.toml`` or JSON) without interpreting it. Duplicate keys, which
    JSON decoders silently collapse, are errors naming the key."""
    path = menu_path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuFormatError([ValidationError(None, "io", f"cannot read {path}: {exc}")]) from exc
    return decode_menu_text(text, toml=path.suffix == ".toml")


def decode_menu_text(text: str, *, toml: bool = False) -> Any:
    """Decode menu text (JSON, or TOML), refusing duplicate keys."""
    try:
        if toml:
            return tomllib.loads(text)  # TOML itself forbids duplicate keys
        duplicates: list[str] = []
        data = json.loads(text, object_pairs_hook=lambda pairs: _no_duplicates(pairs, duplicates))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MenuFormatError([ValidationError(None, "syntax", f"not valid: {exc}")]) from exc
    except RecursionError as exc:  # "[[[[…" thousands deep: a bad menu, not a crash
        raise MenuFormatError([ValidationError(None, "syntax", "not valid: nested too deeply")]
                              ) from exc
    if duplicates:
        raise MenuFormatError([ValidationError(key, "duplicate_id",
                                               f"'{key}' is defined twice in the file")
                               for key in duplicates])
    return data


def _no_duplicates(pairs: list[tuple[str, Any]], duplicates: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            duplicates.append(key)
        seen[key] = value
    return seen


def load_menu(source: str | Path, catalogue: Mapping[str, str] | None = None) -> Menu:
    """Read and parse a menu (``default`` for the shipped one) over the shipped prompt
    catalogue. Raises :class:`MenuFormatError`; does not run :func:`ivr.validate.validate`."""
    data = read_menu_data(source)
    return parse_menu(data, load_catalogue() if catalogue is None else catalogue)


def default_menu() -> Menu:
    """The shipped default 12345 menu."""
    return load_menu(DEFAULT)
