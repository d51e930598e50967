"""bench.intake's scoring from a transcript cache (no ASR run): the same cases drafted from
what the pipeline heard and from their text, field by field, with both CERs."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from bench import intake


def _call_dir(tmp_path: Path) -> Path:
    d = tmp_path / "calls"
    d.mkdir()
    with wave.open(str(d / "X01.ulaw.wav"), "wb") as w:  # only its size and time are read
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    (d / "calls.tsv").write_text("X01\t朝阳区双井街道，我姓黄。\t1.0\n", encoding="utf-8")
    case = {"id": "X01", "caller_number": "13811223344", "text": "朝阳区 双井 街道 我 姓 黄",
            "expect": {"surname": "黄", "district": "朝阳区", "street": "双井街道",
                       "phone": "13811223344"}}
    (d / "cases.jsonl").write_text(json.dumps(case, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return d


def test_scores_from_a_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    d = _call_dir(tmp_path)
    monkeypatch.setattr(intake, "_model_path", lambda: "model")
    call = intake.load_calls([d], [])[0]
    cache = tmp_path / "cache.json"
    heard = "潮洋期那边我信黄"  # what Whisper base makes of it (no street)
    biased = "朝阳区双井街道我信黄"  # the same utterance decoded again for the address
    cache.write_text(json.dumps({intake._cache_key(call, "model"): {
        "id": "X01", "pipeline": heard, "utterances": [heard], "alternatives": [[]],
        "answers": [["address", heard, biased]], "bare": "朝阳区双井街道我姓黄"}},
        ensure_ascii=False), encoding="utf-8")

    assert intake.main(["--calls", str(d), "--cache", str(cache)]) == 0  # no decoding
    out = capsys.readouterr().out
    assert "overall" in out and "from audio" in out and "from text" in out
    assert "1st pass only" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    # street: from audio (with the second pass), the first pass only, from text
    assert rows["street"] == ["100.0%", "(1/1)", "0.0%", "(0/1)", "100.0%", "(1/1)"]
    assert rows["district"][0] == "100.0%"
    assert "CER pipeline:" in out and "bare engine: 0.00%" in out
    assert intake.main(["--calls", str(d), "--cache", str(cache), "--no-second-pass"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()
            if line.strip()}
    assert rows["street"][:2] == ["0.0%", "(0/1)"]


def test_halves_split_the_calls_in_two() -> None:
    calls = [intake.Call(f"D{i:02d}", Path("x"), "", "", {}, None) for i in range(1, 6)]
    a = intake.split_half(calls, "a")
    b = intake.split_half(calls, "b")
    assert {c.id for c in a} | {c.id for c in b} == {c.id for c in calls}
    assert not {c.id for c in a} & {c.id for c in b}
