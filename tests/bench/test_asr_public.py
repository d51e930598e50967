"""bench/asr/public: the clips are rebuilt from a repository snapshot (references from txt,
Kaldi text and regex specs, several paths joined), their telephone copies are band-limited
μ-law, and the bench loads both copies as the "public" set."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from bench.asr import common
from bench.asr.public import build

RATE = 16000


def tone(freq: float, seconds: float = 1.0, rate: int = RATE, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def wav_bytes(path: Path, samples: np.ndarray, rate: int, float32: bool = False) -> None:
    if float32:  # what CosyVoice's prompt is: IEEE float WAV, written by ffmpeg
        raw = path.with_suffix(".f32")
        raw.write_bytes(samples.astype("<f4").tobytes())
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac",
                        "1", "-i", str(raw), "-c:a", "pcm_f32le", str(path)], check=True)
        raw.unlink()
        return
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((samples * 32767).astype("<i2").tobytes())


def level_db(pcm: np.ndarray, freq: float) -> float:
    """Level of ``freq`` in ``pcm`` (int16 at 16 kHz), middle second, dB re full scale."""
    x = pcm[RATE // 4 : -RATE // 4].astype(np.float64) / 32768
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) / (x.size / 4)
    bin_ = round(freq * x.size / RATE)
    return float(20 * np.log10(spectrum[bin_ - 2 : bin_ + 3].max() + 1e-12))


@pytest.mark.parametrize(("freq", "passes"), [(100, False), (1000, True), (2500, True),
                                              (5000, False), (7000, False)])
def test_telephone_copy_keeps_the_telephone_band_only(freq: float, passes: bool) -> None:
    pcm = build.to_pcm16(tone(freq, 1.5))
    out = build.telephone(pcm)
    assert out.dtype == np.dtype("<i2") and out.size == pcm.size
    loss = level_db(pcm, freq) - level_db(out, freq)
    if passes:
        assert abs(loss) < 1.0
    else:
        assert loss > 30


def test_telephone_copy_is_mu_law_quantised() -> None:
    """Samples pass through 8-bit μ-law at 8 kHz: the copy differs from a clean band-limit."""
    pcm = build.to_pcm16(tone(1000, 1.0, amp=0.5) + tone(1700, 1.0, amp=0.2))
    out = build.telephone(pcm).astype(np.float64)
    err = out[1000:-1000] - pcm[1000:-1000].astype(np.float64)
    snr = 10 * np.log10(np.mean(pcm[1000:-1000].astype(np.float64) ** 2) / np.mean(err ** 2))
    assert 25 < snr < 45  # G.711's ~38 dB, not a lossless copy


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, str]:
    """A snapshot like the workplace's fetch leaves: <mirror>/owner+name/repo/.git."""
    work = tmp_path / "mirror" / "someone+samples" / "repo"
    (work / "wav").mkdir(parents=True)
    wav_bytes(work / "wav" / "a.wav", tone(440, 1.0), RATE)
    wav_bytes(work / "wav" / "b.wav", tone(660, 0.5, rate=24000), 24000, float32=True)
    (work / "wav" / "a.txt").write_text("\ufeff你好 世界\n", encoding="utf-8")
    (work / "wav" / "text").write_text("b  再见  朋友\nc 不是这句\n", encoding="utf-8")
    (work / "README.md").write_text('Expected output: "欢迎，来电。"\n', encoding="utf-8")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "samples"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    return tmp_path / "mirror", commit


def source(commit: str, **kw: object) -> build.Source:
    fields: dict[str, object] = {
        "id": "x", "style": "read", "speaker": "spk", "repo": "someone/samples",
        "commit": commit, "audio": ("wav/a.wav",), "reference": ("txt:wav/a.txt",),
        "licence": "Apache-2.0", "note": ""}
    fields.update(kw)
    return build.Source(**fields)  # type: ignore[arg-type]


def test_build_joins_paths_resamples_and_reads_each_kind_of_reference(
        mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, commit = mirror
    out = tmp_path / "out"
    rows = build.build(root, out, [
        source(commit, id="long", style="read-long", audio=("wav/a.wav", "wav/b.wav"),
               reference=("txt:wav/a.txt", "kaldi:wav/text#b")),
        source(commit, id="demo", reference=('re:README.md#Expected output: "([^"]+)"',)),
    ])
    assert [(r["file"], r["channel"], r["reference"]) for r in rows] == [
        ("long.wav", "wideband", "你好世界再见朋友"),
        ("telsim_long.wav", "telsim", "你好世界再见朋友"),
        ("demo.wav", "wideband", "欢迎，来电。"),
        ("telsim_demo.wav", "telsim", "欢迎，来电。"),
    ]
    assert rows[0]["orig_rate"] == "16000/24000" and rows[0]["duration_s"] == "1.50"
    assert rows[0]["commit"] == commit and rows[0]["path"] == "wav/a.wav + wav/b.wav"
    for name in ("long.wav", "telsim_long.wav"):
        with wave.open(str(out / name)) as fh:
            assert (fh.getframerate(), fh.getnchannels(), fh.getsampwidth()) == (RATE, 1, 2)
            assert fh.getnframes() == int(1.5 * RATE)
    header = (out / "public.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[:4] == ["file", "reference", "clip", "channel"]


def test_build_names_what_is_missing(mirror: tuple[Path, str], tmp_path: Path) -> None:
    root, commit = mirror
    with pytest.raises(build.BuildError, match="fetch github:nobody/nothing"):
        build.build(root, tmp_path / "o", [source(commit, repo="nobody/nothing")])
    with pytest.raises(build.BuildError, match="no line for zz"):
        build.build(root, tmp_path / "o", [source(commit, reference=("kaldi:wav/text#zz",))])
    with pytest.raises(build.BuildError, match=r"gone\.wav"):
        build.build(root, tmp_path / "o", [source(commit, audio=("wav/gone.wav",))])


def test_sources_file_lists_each_clip_once_with_its_commit_and_licence() -> None:
    sources = build.read_sources()
    ids = [s.id for s in sources]
    assert len(ids) == len(set(ids)) >= 60
    dev = common.DEV_TSV.read_text(encoding="utf-8") if common.DEV_TSV.exists() else ""
    for s in sources:
        assert len(s.commit) == 40 and s.licence and s.audio
        for path in s.audio:  # none of the 39 dev clips again
            assert Path(path).name not in dev


def test_bench_loads_both_copies_as_the_public_set(
        mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, commit = mirror
    out = tmp_path / "out"
    build.build(root, out, [source(commit, id=f"c{n}") for n in range(4)])
    monkeypatch.setattr(common, "PUBLIC_DIR", out)
    monkeypatch.setattr(common, "PUBLIC_TSV", out / "public.tsv")
    items = common.load_items(False, common.SETS["public"])
    assert [(i.name, i.set, i.telsim) for i in items[:2]] == [
        ("c0.wav", "public", False), ("telsim_c0.wav", "public", True)]
    assert len(items) == 8 and all(i.reference == "你好世界" for i in items)
    quick = common.load_items(True, common.SETS["public"])
    assert [i.name for i in quick] == ["c0.wav", "telsim_c0.wav", "c3.wav", "telsim_c3.wav"]


def test_bench_says_how_to_build_a_missing_public_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "PUBLIC_TSV", tmp_path / "public.tsv")
    with pytest.raises(SystemExit, match=r"bench\.asr\.public\.build"):
        common.load_items(False, common.SETS["public"])


def test_bench_writes_each_files_hypotheses_and_cer(tmp_path: Path) -> None:
    from asr.audio import PcmAudio
    from bench.asr.run import write_hypotheses

    items = [common.Item("a.wav", "public", "你好世界", PcmAudio(b"\0\0" * RATE, RATE),
                         "read"),
             common.Item("telsim_a.wav", "public", "你好世界", PcmAudio(b"\0\0" * RATE, RATE),
                         "read")]
    out = tmp_path / "hyps.tsv"
    write_hypotheses(out, items, {"a.wav": "你好，世界。", "telsim_a.wav": "你好\t市界"},
                     {"a.wav": "你好", "telsim_a.wav": "你好世界"})
    lines = [ln.split("\t") for ln in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0][:6] == ["file", "set", "style", "duration_s", "cer_pipeline", "cer_bare"]
    assert lines[1] == ["a.wav", "public", "read", "1.00", "0.0000", "0.5000", "你好世界",
                        "你好，世界。", "你好"]
    assert lines[2][4:6] == ["0.2500", "0.0000"] and lines[2][7] == "你好 市界"
