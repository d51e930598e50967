"""Shared fixtures: paths to ../shared, isolated settings per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
CALLS_DIR = SHARED / "audio" / "calls" / "dev"
MODEL_DIR = Path(os.environ.get("VOICE_INTAKE_MODEL_DIR", SHARED / "models"))


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
