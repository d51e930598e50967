"""Locations of the data files shipped in ``config/data``."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def shipped(name: str) -> Path:
    """Path of a file shipped in ``config/data``."""
    return DATA_DIR / name
