"""A deterministic engine for tests: no model, predictable text, and a crash on demand.

Options (``EngineSpec.options``):
- ``script``: utterance texts separated by ``|``, returned in turn (then ``utterance N``);
- ``crash_marker``: a file path; the first decode in any worker creates it and kills the
  worker process, as a segfaulting native engine would;
- ``delay``: seconds each decode takes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from asr.engines.base import SAMPLE_RATE, DecodeRequest, DecodeResult, EngineSpec, Word


class FakeEngine:
    def __init__(self, spec: EngineSpec) -> None:
        self._options = dict(spec.options)
        self._script = [s for s in self._options.get("script", "").split("|") if s]
        self._count = 0

    def decode(self, request: DecodeRequest) -> DecodeResult:
        marker = self._options.get("crash_marker")
        if marker:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os._exit(17)
        if delay := float(self._options.get("delay", "0")):
            time.sleep(delay)
        self._count += 1
        if self._script:
            text = self._script[(self._count - 1) % len(self._script)]
        else:
            text = f"utterance {self._count}"
        duration = len(request.pcm) / 2 / SAMPLE_RATE
        return DecodeResult(text, 0.9, (Word(text, 0.0, duration, 0.9),))


def crash_marker_exists(path: str) -> bool:
    return Path(path).exists()
