"""Vosk (Kaldi) decoding of one utterance, with an optional runtime grammar.

A malformed grammar crashes the native library, so the grammar is built here with
``json.dumps`` from a list of phrases, never passed through as a string.
"""

from __future__ import annotations

import json
from typing import Any

from asr.engines.base import SAMPLE_RATE, DecodeRequest, DecodeResult, EngineSpec, Word

CHUNK_BYTES = 8000  # 0.25 s


class VoskEngine:
    def __init__(self, spec: EngineSpec) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(spec.model_path)

    def recognizer(self, grammar: tuple[str, ...] | None = None) -> Any:
        if grammar:
            rec = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE, json.dumps(list(grammar)))
        else:
            rec = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
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


def result_from_pieces(pieces: list[dict[str, Any]]) -> DecodeResult:
    words = [
        Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for p in pieces
        for w in p.get("result", [])
        if w.get("word") != "[unk]"
    ]
    text = " ".join(p.get("text", "") for p in pieces if p.get("text")).strip()
    confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
    return DecodeResult(text, confidence, tuple(words))
