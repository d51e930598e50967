"""Rebuild the public Mandarin clips listed in ``sources.tsv`` from repository snapshots.

    .venv/bin/python -m bench.asr.public.build [--mirror DIR] [--out DIR]

Nothing fetched is committed here: ``sources.tsv`` names each clip's repository, commit,
audio path(s) and where its reference transcript is; this script reads them out of the
snapshots under ``--mirror`` (default ``/work/.mirror``, one ``owner+name`` directory per
repository, as the workplace's ``fetch`` leaves them) and writes to ``--out`` (default
``artifacts/asr_public``, git-ignored):

- ``<id>.wav``: 16 kHz mono 16-bit PCM (several paths joined by `` + `` are concatenated:
  the long multi-sentence clips);
- ``telsim_<id>.wav``: the same through a telephone channel, as shared/audio/dev's
  ``telsim_`` clips were made (300-3400 Hz band-pass, 8 kHz, G.711 μ-law, back to 16 kHz);
- ``public.tsv``: one row per file with its reference, source, licence and original rate.

Reference specs: ``txt:PATH`` (the whole file), ``kaldi:PATH#KEY`` (the line of a Kaldi
``text`` file starting with KEY, words joined), ``re:PATH#REGEX`` (group 1 of the first match).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from asr.g711 import pcm_to_ulaw, ulaw_to_pcm

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SOURCES = HERE / "sources.tsv"
DEFAULT_OUT = REPO / "artifacts" / "asr_public"
DEFAULT_MIRROR = Path("/work/.mirror")
RATE = 16000
TEL_RATE = 8000
BAND_HZ = (300.0, 3400.0)
COLUMNS = ("file", "reference", "clip", "channel", "style", "speaker", "duration_s",
           "orig_rate", "repo", "commit", "path", "licence", "note")


class BuildError(RuntimeError):
    """A snapshot, commit, file or reference named in sources.tsv cannot be read."""


@dataclass(frozen=True)
class Source:
    id: str
    style: str
    speaker: str
    repo: str
    commit: str
    audio: tuple[str, ...]
    reference: tuple[str, ...]
    licence: str
    note: str


def read_sources(path: Path = SOURCES) -> list[Source]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = []
    for row in rows:
        audio = tuple(p.strip() for p in row["audio"].split(" + "))
        refs = tuple(r.strip() for r in row["reference"].split(" + "))
        if len(refs) not in (1, len(audio)):
            raise BuildError(f"{row['id']}: {len(audio)} audio paths but {len(refs)} references")
        out.append(Source(row["id"], row["style"], row["speaker"], row["repo"], row["commit"],
                          audio, refs, row["licence"], row["note"] or ""))
    return out


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+")
    for candidate in (base / "repo" / ".git", base / "repo"):
        if (candidate / "objects").is_dir():
            return candidate
    raise BuildError(f"no snapshot of {repo} under {mirror} (fetch github:{repo} first)")


def git_show(gdir: Path, commit: str, path: str) -> bytes:
    proc = subprocess.run(["git", "--git-dir", str(gdir), "show", f"{commit}:{path}"],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{gdir}: {commit[:12]}:{path}: "
                         f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def decode(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """Any audio ffmpeg reads → (mono float32 samples, original sample rate)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                            "stream=sample_rate", "-of", "csv=p=0", "-i", "pipe:0"],
                           input=data, capture_output=True, check=False)
    try:
        rate = int(probe.stdout.decode().strip().splitlines()[0])
    except (IndexError, ValueError):
        raise BuildError(f"{name}: not audio ffprobe can read") from None
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-ac", "1", "-f", "f32le",
                           "pipe:1"], input=data, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise BuildError(f"{name}: ffmpeg could not decode it")
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), rate


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")


def bandpass_taps(rate: int, low: float, high: float, taps: int = 1023,
                  beta: float = 10.0) -> np.ndarray:
    """Linear-phase Kaiser-windowed sinc band-pass (what sox's ``sinc low-high`` designs)."""
    n = np.arange(taps) - (taps - 1) / 2

    def lowpass(cut: float) -> np.ndarray:
        return np.asarray(2 * cut / rate * np.sinc(2 * cut / rate * n))

    return np.asarray((lowpass(high) - lowpass(low)) * np.kaiser(taps, beta))


def telephone(pcm16k: np.ndarray) -> np.ndarray:
    """16 kHz int16 → 300-3400 Hz band → 8 kHz → G.711 μ-law and back → 16 kHz int16."""
    x = pcm16k.astype(np.float64) / 32768.0
    x = np.convolve(x, bandpass_taps(RATE, *BAND_HZ), mode="same")
    narrow = to_pcm16(soxr.resample(x, RATE, TEL_RATE, quality="VHQ"))
    law = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(narrow.tobytes())), dtype="<i2")
    wide = soxr.resample(law.astype(np.float64) / 32768.0, TEL_RATE, RATE, quality="VHQ")
    return to_pcm16(wide)


def reference(gdir: Path, commit: str, spec: str) -> str:
    kind, _, rest = spec.partition(":")
    path, _, key = rest.partition("#")
    text = git_show(gdir, commit, path).decode("utf-8-sig")
    if kind == "txt":
        found = text
    elif kind == "kaldi":
        lines = [ln.split(None, 1) for ln in text.splitlines() if ln.strip()]
        hits = [parts[1] for parts in lines if parts[0] == key and len(parts) == 2]
        if not hits:
            raise BuildError(f"{path}: no line for {key}")
        found = hits[0]
    elif kind == "re":
        match = re.search(key, text)
        if match is None:
            raise BuildError(f"{path}: {key!r} does not match")
        found = match.group(1)
    else:
        raise BuildError(f"unknown reference kind {kind!r} in {spec!r}")
    return "".join(found.replace("\ufeff", "").split())


def write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(RATE)
        fh.writeframes(pcm.astype("<i2").tobytes())


def build(mirror: Path, out: Path, sources: list[Source]) -> list[dict[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for src in sources:
        gdir = git_dir(mirror, src.repo)
        pieces, rates = [], set()
        for path in src.audio:
            samples, rate = decode(git_show(gdir, src.commit, path), f"{src.repo}:{path}")
            rates.add(rate)
            pieces.append(soxr.resample(samples, rate, RATE, quality="VHQ")
                          if rate != RATE else samples)
        pcm = to_pcm16(np.concatenate(pieces))
        ref = "".join(reference(gdir, src.commit, s) for s in src.reference)
        duration = f"{len(pcm) / RATE:.2f}"
        common = {"reference": ref, "clip": src.id, "style": src.style,
                  "speaker": src.speaker, "duration_s": duration,
                  "orig_rate": "/".join(str(r) for r in sorted(rates)), "repo": src.repo,
                  "commit": src.commit, "path": " + ".join(src.audio),
                  "licence": src.licence, "note": src.note}
        write_wav(out / f"{src.id}.wav", pcm)
        write_wav(out / f"telsim_{src.id}.wav", telephone(pcm))
        rows.append({"file": f"{src.id}.wav", "channel": "wideband", **common})
        rows.append({"file": f"telsim_{src.id}.wav", "channel": "telsim", **common})
    with (out / "public.tsv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.asr.public.build",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        rows = build(args.mirror, args.out, read_sources())
    except BuildError as exc:
        print(f"bench.asr.public.build: {exc}", file=sys.stderr)
        return 1
    wide = [r for r in rows if r["channel"] == "wideband"]
    seconds = sum(float(r["duration_s"]) for r in wide)
    size = sum(p.stat().st_size for p in args.out.glob("*.wav"))
    print(f"{len(wide)} clips ({len(rows)} files with the telephone copies), {seconds:.1f} s "
          f"each way, {size / 2**20:.1f} MB, {len({r['speaker'] for r in wide})} speakers, "
          f"{len({r['repo'] for r in wide})} repositories → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
