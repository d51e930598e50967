"""Shared by the ASR benchmarks: data sets, the CER scoring rule, small statistics."""

from __future__ import annotations

import csv
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.audio import PcmAudio, load_audio
from workorders.text import edit_distance

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
DEV_TSV = SHARED / "audio" / "dev" / "dev.tsv"
# The synthetic calls: dev (D01–D15) and dev2 (D16–D45), and, once built, the blind
# held-out calls of bench/heldout (H01–H40, `python -m bench.heldout.build`); each Item's
# style says which folder it came from.
HELDOUT_TSV = REPO / "artifacts" / "calls_heldout" / "calls.tsv"
CALLS_TSVS = (SHARED / "audio" / "calls" / "dev" / "calls.tsv",
              SHARED / "audio" / "calls" / "dev2" / "calls.tsv", HELDOUT_TSV)
MODEL_DIR = Path(os.environ.get("VOICE_INTAKE_MODEL_DIR", SHARED / "models"))
# Public Mandarin clips rebuilt from repository snapshots by bench/asr/public/build.py.
PUBLIC_DIR = Path(os.environ.get("VOICE_INTAKE_BENCH_PUBLIC_DIR",
                                 REPO / "artifacts" / "asr_public"))
PUBLIC_TSV = PUBLIC_DIR / "public.tsv"
SETS = {"default": ("dev", "calls"), "public": ("public",), "all": ("dev", "calls", "public")}

_DIGITS = str.maketrans("0123456789幺", "零一二三四五六七八九一")
_DROP = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Item:
    """One file of a data set, loaded once, with its reference text."""

    name: str
    set: str  # "dev", "calls" or "public"
    reference: str
    audio: PcmAudio  # at the file's own rate
    style: str = ""  # public clips: "read", "read-long", "spontaneous-meeting", …

    @property
    def duration(self) -> float:
        return self.audio.duration

    @property
    def telsim(self) -> bool:
        return self.name.startswith("telsim_")


def score_text(text: str) -> str:
    """The calls README's rule: NFKC, punctuation and spaces gone, digits read one by one,
    幺 as 一. Applied to references and hypotheses alike."""
    text = unicodedata.normalize("NFKC", text)
    return _DROP.sub("", text).translate(_DIGITS)


def cer(pairs: list[tuple[str, str]]) -> float:
    """Corpus CER over (reference, hypothesis) pairs, after :func:`score_text`."""
    errors = sum(edit_distance(score_text(r), score_text(h)) for r, h in pairs)
    return errors / max(1, sum(len(score_text(r)) for r, _ in pairs))


def cer_difference_interval(refs: list[str], pipe: list[str], bare: list[str],
                            resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 95% interval of CER(pipeline) − CER(bare) over the files of a subset, by the paired
    bootstrap (files drawn with replacement, both sides scored on the same draw): how far
    the difference of a small subset moves with which files happen to be in it."""
    ref_len = np.array([len(score_text(r)) for r in refs], dtype=np.float64)
    err_p = np.array([edit_distance(score_text(r), score_text(h))
                      for r, h in zip(refs, pipe, strict=True)], dtype=np.float64)
    err_b = np.array([edit_distance(score_text(r), score_text(h))
                      for r, h in zip(refs, bare, strict=True)], dtype=np.float64)
    draws = np.random.default_rng(seed).integers(0, len(refs), (resamples, len(refs)))
    diff = (err_p[draws].sum(1) - err_b[draws].sum(1)) / np.maximum(1, ref_len[draws].sum(1))
    low, high = np.percentile(diff, [2.5, 97.5])
    return float(low), float(high)


def load_items(quick: bool, sets: tuple[str, ...] = SETS["default"]) -> list[Item]:
    items: list[Item] = []
    if "dev" in sets:
        dev = [line.split("\t") for line in DEV_TSV.read_text(encoding="utf-8").splitlines()
               if line]
        for row in dev[:: 3] if quick else dev:
            items.append(Item(row[0], "dev", row[1], load_audio(DEV_TSV.parent / row[0])))
    if "calls" in sets:
        for tsv in CALLS_TSVS:
            if tsv == HELDOUT_TSV and not tsv.exists():
                continue
            calls = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()
                     if line]
            for row in calls[:: 3] if quick else calls:
                items.append(Item(row[0], "calls", row[1],
                                  load_audio(tsv.parent / f"{row[0]}.ulaw.wav"),
                                  tsv.parent.name.removeprefix("calls_")))
    if "public" in sets:
        items += load_public(quick)
    return items


def load_public(quick: bool) -> list[Item]:
    """The public clips and their telephone copies (``telsim_``); quick: every third clip,
    with its copy."""
    if not PUBLIC_TSV.exists():
        raise SystemExit(f"{PUBLIC_TSV} is missing: build it with `.venv/bin/python -m "
                         "bench.asr.public.build` (bench/asr/public/README.md)")
    with PUBLIC_TSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    keep = set(clips[:: 3] if quick else clips)
    return [Item(r["file"], "public", r["reference"], load_audio(PUBLIC_DIR / r["file"]),
                 r["style"]) for r in rows if r["clip"] in keep]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def resident_bytes(pid: int | None = None) -> int:
    try:
        with open(f"/proc/{pid or 'self'}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


class CpuClock:
    """CPU seconds of this process (user + system) between start and stop."""

    def __enter__(self) -> CpuClock:
        self._t0 = time.process_time()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.process_time() - self._t0
