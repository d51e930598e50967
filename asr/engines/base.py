"""What an engine does: decode one utterance of 16 kHz mono PCM into text.

Engines run inside worker processes (see :mod:`asr.pool`); they are built there from an
:class:`EngineSpec`, which is plain data so it crosses the process boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class EngineSpec:
    """How to build an engine in a worker process."""

    kind: Literal["whisper", "vosk", "fake"]
    model_path: str = ""
    threads: int = 1
    language: str = "zh"
    beam_size: int = 5
    compute_type: str = "int8"
    # Free-form options for the fake engine used in tests.
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float = 1.0


@dataclass(frozen=True)
class DecodeRequest:
    """One utterance to decode. Times in the result are relative to the utterance."""

    pcm: bytes
    prompt: str | None = None
    grammar: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DecodeResult:
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default_factory=tuple)


class Engine(Protocol):
    def decode(self, request: DecodeRequest) -> DecodeResult: ...


def build_engine(spec: EngineSpec) -> Engine:
    """Construct the engine a spec names (in the calling process)."""
    if spec.kind == "whisper":
        from asr.engines.whisper import WhisperEngine

        return WhisperEngine(spec)
    if spec.kind == "vosk":
        from asr.engines.vosk import VoskEngine

        return VoskEngine(spec)
    from asr.engines.fake import FakeEngine

    return FakeEngine(spec)
