"""IVR settings. Meant to become ``Settings.ivr`` in :mod:`config.settings` (the loader
then makes every field configurable as ``ivr.<field>`` / ``VOICE_INTAKE_IVR_<FIELD>``);
until then callers build it themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IvrSettings:
    # The menu new calls start with: "default" (the shipped one) or a file path.
    menu: str = "default"
    # Prompt audio (<id>.wav, 8 kHz μ-law); empty: <data_dir>/prompts.
    prompt_dir: Path | None = None
    # Offline TTS for prompt texts: {text} is the text (else stdin), {out} an output file
    # (else stdout). espeak-ng's Mandarin voice is the default; any command that writes
    # common audio works (e.g. a local piper or sherpa-onnx binary).
    tts_command: tuple[str, ...] = ("espeak-ng", "-v", "cmn", "-s", "150", "--stdout", "{text}")
    tts_timeout_s: float = 30.0
