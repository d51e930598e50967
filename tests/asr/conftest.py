from __future__ import annotations

from pathlib import Path

import pytest

from tests.asr.signals import MODEL_DIR


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    path = MODEL_DIR / "whisper-base-ct2"
    if not (path / "model.bin").is_file():
        pytest.skip(f"no Whisper model in {MODEL_DIR} (set VOICE_INTAKE_MODEL_DIR)")
    return path
