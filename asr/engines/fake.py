"""A deterministic engine for tests: no model, predictable text, and a crash on demand.

Options (``EngineSpec.options``):
- ``script``: utterance texts separated by ``|``, returned in turn (then ``utterance N``);
- ``crash_marker``: a file path; the first decode (or session feed) in any worker creates
  it and kills the worker process, as a segfaulting native engine would;
- ``crash_always``: ``"1"`` makes every decode kill its worker (a poison utterance);
- ``hang_marker``: a file path; the first decode (or session feed) in any worker creates
  it and never returns, as a deadlocked native engine would (the process stays alive);
- ``hang_prompt``: a decode whose request carries this prompt never returns (a poison
  utterance that hangs every worker it reaches);
- ``delay``: seconds each decode takes; ``feed_delay``: seconds each session feed takes;
- ``biased_script``: texts separated by ``|`` returned in turn for decodes that carry a
  grammar (a biased second reading), which then leave ``script`` where it was; without
  it, a decode biased for a question (a prompt and a grammar) reads nothing;
- ``echo_prompt``: ``"1"`` makes a decode answer the prompt it was given, else the spec's
  (as Whisper uses it), else ``""``.

Sessions answer each feed with a partial ``"<n> bytes"`` and finish with the next
scripted text, so streaming code can be tested without Vosk.
"""

from __future__ import annotations

import os
import time

from asr.engines.base import (
    SAMPLE_RATE,
    DecodeRequest,
    DecodeResult,
    EngineSpec,
    SessionUpdate,
    Word,
)


class FakeEngine:
    def __init__(self, spec: EngineSpec) -> None:
        self._options = dict(spec.options)
        self._prompt = spec.prompt
        self._script = [s for s in self._options.get("script", "").split("|") if s]
        self._count = 0
        self._biased = [s for s in self._options.get("biased_script", "").split("|") if s]
        self._biased_count = 0
        # Session → [bytes fed in all, bytes fed when the open segment began].
        self._sessions: dict[int, list[int]] = {}

    def _maybe_crash(self) -> None:
        if self._options.get("crash_always") == "1":
            os._exit(17)
        marker = self._options.get("crash_marker")
        if marker:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(17)

    def _maybe_hang(self, prompt: str | None = None) -> None:
        hang = prompt is not None and prompt == self._options.get("hang_prompt")
        marker = self._options.get("hang_marker")
        if marker and not hang:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                hang = True
            except FileExistsError:
                pass
        while hang:
            time.sleep(3600)

    def _next_text(self) -> str:
        self._count += 1
        if self._script:
            return self._script[(self._count - 1) % len(self._script)]
        return f"utterance {self._count}"

    def decode(self, request: DecodeRequest) -> DecodeResult:
        self._maybe_crash()
        self._maybe_hang(request.prompt)
        if delay := float(self._options.get("delay", "0")):
            time.sleep(delay)
        if self._options.get("echo_prompt") == "1":
            text = request.prompt or self._prompt or ""
        elif request.grammar is not None and self._biased:
            self._biased_count += 1
            text = self._biased[(self._biased_count - 1) % len(self._biased)]
        elif request.grammar is not None and request.prompt is not None:
            text = ""  # a question's biased reading (prompt and grammar) with none scripted
        else:
            text = self._next_text()
        duration = len(request.pcm) / 2 / SAMPLE_RATE
        return DecodeResult(text, 0.9, (Word(text, 0.0, duration, 0.9),))

    def decode_batch(self, requests: list[DecodeRequest]) -> list[DecodeResult]:
        return [self.decode(r) for r in requests]

    def open_session(self, session_id: int, grammar: tuple[str, ...] | None) -> None:
        self._sessions[session_id] = [0, 0]

    def feed(self, session_id: int, pcm: bytes) -> SessionUpdate:
        self._maybe_crash()
        self._maybe_hang()
        if delay := float(self._options.get("feed_delay", "0")):
            time.sleep(delay)
        fed = self._sessions[session_id]
        fed[0] += len(pcm)
        return SessionUpdate((), f"{fed[0] - fed[1]} bytes")

    def finish(self, session_id: int) -> DecodeResult:
        fed = self._sessions[session_id]
        # Like Vosk, times count from the session's first sample, across segments.
        start, end = fed[1] / 2 / SAMPLE_RATE, fed[0] / 2 / SAMPLE_RATE
        fed[1] = fed[0]
        text = self._next_text()
        return DecodeResult(text, 0.9, (Word(text, start, end, 0.9),))

    def close_session(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)
