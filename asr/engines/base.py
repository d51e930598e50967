"""What an engine does: decode utterances of 16 kHz mono PCM into text.

Engines run inside worker processes (see :mod:`asr.pool`); they are built there from an
:class:`EngineSpec`, which is plain data so it crosses the process boundary.

Two shapes of engine exist. Every engine decodes whole utterances (``decode_batch``: one
or more at once, so that Whisper can share one ``generate`` call between concurrent
calls). Streaming engines (Vosk) also hold recognizer *sessions*: state that lives in
one worker process, fed audio as it arrives and answering with interim and final
results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

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
    # Whisper: encoder windows (s) from min_window_s up to window_s in 4 s steps, the
    # smallest that fits the utterance; longer utterances get 30 s.
    window_s: float = 30.0
    min_window_s: float = 30.0
    # Free-form options for the fake engine used in tests.
    options: tuple[tuple[str, str], ...] = ()
    # Prompt used for requests that carry none (e.g. a hot-word prompt, see asr.hotwords).
    prompt: str | None = None
    # Hypotheses asked of the engine per utterance (n-best): the best is the text, the
    # others come back as ``DecodeResult.alternatives`` (at most beam_size for Whisper).
    nbest: int = 1


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
    # What was said just before, when the VAD cut this utterance from it: its audio,
    # heard again at the start of the window, and its text, forced as the decoder's
    # prefix, so that only the text of ``pcm`` comes back (Whisper; others ignore it).
    context_pcm: bytes = field(default=b"", repr=False)
    context_text: str = ""
    # Work no caller waits for (the second pass's biased readings): decoded only when no
    # other utterance is waiting, and it takes no slot of the pool's queue.
    background: bool = False


@dataclass(frozen=True)
class DecodeResult:
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default_factory=tuple)
    # Words the engine heard but could not name (Vosk's [unk] under a grammar), left out
    # of ``text``: a reading with any is not the whole utterance.
    unknown_words: int = 0
    # The engine's other hypotheses for the same audio, best first, each different from
    # ``text`` (n-best; empty when only one was asked for or the others said the same).
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionUpdate:
    """What a recognizer session says after being fed audio.

    ``finals`` are segments the engine has closed (Vosk's own endpointing inside a long
    utterance); ``partial`` is the running hypothesis of the open segment. Word times are
    relative to the first sample fed to the session.
    """

    finals: tuple[DecodeResult, ...] = ()
    partial: str = ""


class Engine(Protocol):
    def decode(self, request: DecodeRequest) -> DecodeResult: ...

    def decode_batch(self, requests: list[DecodeRequest]) -> list[DecodeResult]: ...


@runtime_checkable
class StreamingEngine(Protocol):
    """An engine that keeps per-stream recognizer state (one worker holds each session)."""

    def open_session(self, session_id: int, grammar: tuple[str, ...] | None) -> None: ...

    def feed(self, session_id: int, pcm: bytes) -> SessionUpdate: ...

    def finish(self, session_id: int) -> DecodeResult: ...

    def close_session(self, session_id: int) -> None: ...


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
