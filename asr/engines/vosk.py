"""Vosk (Kaldi): one ``Model`` per worker process, one ``KaldiRecognizer`` per session.

A session is a live recognizer fed a call's speech as it arrives (see
:class:`asr.stream.VoskRecognizeStream`); it answers each feed with the segments Kaldi
has closed (its own endpointing) and the running partial hypothesis. ``decode`` is the
same thing for one whole utterance.

The native library segfaults on a malformed grammar (bad JSON, an empty array, an
object), taking the worker with it, so a grammar only reaches it through
:func:`grammar_json`, which validates and re-serialises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from asr.engines.base import (
    SAMPLE_RATE,
    DecodeRequest,
    DecodeResult,
    EngineSpec,
    SessionUpdate,
    Word,
)

CHUNK_BYTES = 8000  # 0.25 s
MAX_GRAMMAR_PHRASES = 2000


class GrammarError(ValueError):
    """A grammar that must not reach the native recognizer."""


def grammar_json(grammar: Sequence[str] | str) -> str:
    """The grammar as the JSON array of phrases Vosk expects, or :class:`GrammarError`.

    Accepts a list of phrases or a JSON string holding one. ``[unk]`` is allowed (it lets
    out-of-grammar speech come back as ``[unk]`` instead of a forced match).
    """
    if isinstance(grammar, str):
        try:
            parsed: Any = json.loads(grammar)
        except json.JSONDecodeError as exc:
            raise GrammarError(f"grammar is not valid JSON: {exc.msg}") from exc
    else:
        parsed = list(grammar)
    if not isinstance(parsed, list) or not parsed:
        raise GrammarError("grammar must be a non-empty array of phrases")
    if len(parsed) > MAX_GRAMMAR_PHRASES:
        raise GrammarError(f"grammar has more than {MAX_GRAMMAR_PHRASES} phrases")
    phrases: list[str] = []
    for item in parsed:
        if not isinstance(item, str):
            raise GrammarError(f"grammar phrase {item!r} is not a string")
        phrase = " ".join(item.split())
        if not phrase or any(ord(c) < 32 for c in phrase):
            raise GrammarError(f"grammar phrase {item!r} is empty or has control characters")
        phrases.append(phrase)
    return json.dumps(phrases, ensure_ascii=False)


class VoskEngine:
    def __init__(self, spec: EngineSpec) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(spec.model_path)
        self._sessions: dict[int, Any] = {}
        self._nbest = spec.nbest

    def recognizer(self, grammar: tuple[str, ...] | None = None) -> Any:
        if grammar:
            rec = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE, grammar_json(grammar))
        else:
            rec = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
            if self._nbest > 1:
                # n-best for free speech only: a grammar reading picks among a menu's words.
                rec.SetMaxAlternatives(self._nbest)
        rec.SetWords(True)
        return rec

    def decode(self, request: DecodeRequest) -> DecodeResult:
        rec = self.recognizer(request.grammar)
        pieces: list[dict[str, Any]] = []
        for i in range(0, len(request.pcm), CHUNK_BYTES):
            if rec.AcceptWaveform(request.pcm[i : i + CHUNK_BYTES]):
                pieces.append(json.loads(rec.Result()))
        pieces.append(json.loads(rec.FinalResult()))
        return result_from_pieces(pieces)

    def decode_batch(self, requests: list[DecodeRequest]) -> list[DecodeResult]:
        return [self.decode(r) for r in requests]

    # Sessions: the recognizer stays in this process between feeds.

    def open_session(self, session_id: int, grammar: tuple[str, ...] | None) -> None:
        self._sessions[session_id] = self.recognizer(grammar)

    def feed(self, session_id: int, pcm: bytes) -> SessionUpdate:
        rec = self._sessions[session_id]
        finals: list[DecodeResult] = []
        for i in range(0, len(pcm), CHUNK_BYTES):
            if rec.AcceptWaveform(pcm[i : i + CHUNK_BYTES]):
                result = result_from_pieces([json.loads(rec.Result())])
                if result.text:
                    finals.append(result)
        partial = partial_text(json.loads(rec.PartialResult()))
        return SessionUpdate(tuple(finals), partial)

    def finish(self, session_id: int) -> DecodeResult:
        """Close the open segment; the recognizer stays for the stream's next utterance."""
        rec = self._sessions[session_id]
        return result_from_pieces([json.loads(rec.FinalResult())])

    def close_session(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)


def partial_text(partial: dict[str, Any]) -> str:
    """The running hypothesis of a partial result (with or without alternatives)."""
    if "alternatives" in partial:
        alternatives = partial["alternatives"] or [{}]
        return str(alternatives[0].get("text", ""))
    return str(partial.get("partial", ""))


def _best_first(piece: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A result with alternatives (SetMaxAlternatives) as the plain result of its best
    reading, with word confidences the best reading's share of the alternatives' scores
    (Kaldi gives none per word then), and the other readings' texts."""
    if "alternatives" not in piece:
        return piece, []
    alternatives = [a for a in piece["alternatives"] if isinstance(a, dict)] or [{}]
    scores = [float(a.get("confidence", 0.0)) for a in alternatives]
    top = max(scores)
    share = 1.0 / sum(math.exp(s - top) for s in scores)
    best = dict(alternatives[0])
    best["result"] = [dict(w, conf=w.get("conf", share)) for w in best.get("result", [])]
    others = [str(a.get("text", "")) for a in alternatives[1:]]
    return best, [t for t in others if t and t != best.get("text")]


def result_from_pieces(pieces: list[dict[str, Any]]) -> DecodeResult:
    """Vosk result JSON objects → one result; ``[unk]`` words are dropped. With n-best
    (results holding ``alternatives``), each other reading of one piece, with the
    other pieces as best read, is an alternative of the whole."""
    readings = [_best_first(p) for p in pieces]
    pieces = [best for best, _ in readings]
    best_texts = [str(p.get("text", "")) for p in pieces]
    alternatives = [
        " ".join(t for t in [*best_texts[:i], alt, *best_texts[i + 1 :]] if t)
        for i, (_best, others) in enumerate(readings)
        for alt in others
    ]
    words = [
        Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for p in pieces
        for w in p.get("result", [])
        if w.get("word") != "[unk]"
    ]
    text = " ".join(w.text for w in words) if words else ""
    if not words:
        # Results without word detail (SetWords off) still carry the text.
        text = " ".join(
            t for p in pieces if (t := str(p.get("text", ""))) and t != "[unk]"
        ).strip()
    confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
    unknown = sum(1 for p in pieces for w in p.get("result", []) if w.get("word") == "[unk]")
    if not any(p.get("result") for p in pieces):
        unknown = sum(str(p.get("text", "")).split().count("[unk]") for p in pieces)
    return DecodeResult(text, confidence, tuple(words), unknown,
                        tuple(a for a in dict.fromkeys(alternatives) if a and a != text))
