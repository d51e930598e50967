"""Shared fixtures: paths to ../shared, isolated settings per test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
CALLS_DIR = SHARED / "audio" / "calls" / "dev"


def dev_cases() -> dict[str, dict[str, Any]]:
    """The shared dev cases (``samples/drafting_dev.jsonl``) by id."""
    lines = (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    return {case["id"]: case for case in map(json.loads, filter(str.strip, lines))}


MODEL_DIR = Path(os.environ.get("VOICE_INTAKE_MODEL_DIR", SHARED / "models"))

# Switches of the test harness (scripts/test sets VOICE_INTAKE_REQUIRE_POSTGRES=1 and so
# on): a peer named there must be installed, its tests fail instead of skipping. Read once
# here, then taken out of the environment, since the code under test (and every
# subprocess a test starts) refuses VOICE_INTAKE_* variables that are not settings.
REQUIRED = frozenset(
    name.removeprefix("VOICE_INTAKE_REQUIRE_") for name in list(os.environ)
    if name.startswith("VOICE_INTAKE_REQUIRE_") and os.environ.pop(name) not in ("", "0"))


def required(peer: str) -> bool:
    """Whether the harness requires ``peer`` (POSTGRES, CHROMIUM, INTEROP)."""
    return peer in REQUIRED


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private data directory and the shared model directory."""
    return load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(tmp_path / "data"),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR),
        "VOICE_INTAKE_SIP_PORT": "0",
    })


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running ``voice-intake`` as a subprocess against a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_INTAKE_")}
    env["VOICE_INTAKE_DATA_DIR"] = str(tmp_path / "data")
    env["VOICE_INTAKE_MODEL_DIR"] = str(MODEL_DIR)
    env["VOICE_INTAKE_SIP_PORT"] = "0"
    return env
