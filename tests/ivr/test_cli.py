"""The plain CLI functions (the lead wires them into ``voice-intake ivr``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ivr import MenuFormatError
from ivr.cli import json_lines, main, show, simulate_file, validate_file
from voice_gateway.calls.simulate import simulate

from .support import SMALL


def test_show_default() -> None:
    data = show("default")
    assert data["start"] == "welcome"
    assert [o["key"] for o in data["nodes"]["main"]["options"]] == ["1", "2", "3", "4", "0", "6"]
    assert data["prompts"]["intake_phone"].startswith("请输入您的联系电话")
    json.dumps(data)


def test_validate_default_is_clean() -> None:
    assert validate_file("default") == []


def test_validate_names_the_node(tmp_path: Path) -> None:
    data = json.loads(json.dumps(SMALL))
    data["nodes"]["code"]["next"] = "nowhere"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert validate_file(path) == ["node 'code': next goes to unknown node 'nowhere'"]
    assert main(["validate", str(path)]) == 1
    assert main(["validate", "default"]) == 0


def test_validate_reports_schema_problems(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"id": "x", "start": "a", "nodes": {"a": {"type": "hangup", "nxt": 1}}}')
    assert validate_file(path) == ["node 'a': nxt: unknown field"]
    assert validate_file(tmp_path / "absent.json")[0].startswith("menu: cannot read")


def test_simulate_file_json_lines() -> None:
    records = simulate_file("default", ["1", "我要问一下社保怎么交"],
                            now=datetime(2025, 6, 3, 10, 0), simulate=simulate)
    lines = json_lines(records).splitlines()
    assert len(lines) == len(records)
    assert [json.loads(line)["node"] for line in lines][:3] == ["welcome", "main", "intake"]
    assert "社保" in lines[2]  # Chinese is not escaped


def test_simulate_refuses_an_invalid_menu(tmp_path: Path) -> None:
    data = json.loads(json.dumps(SMALL))
    data["nodes"]["code"]["next"] = "nowhere"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MenuFormatError, match="node 'code'"):
        simulate_file(path, [], simulate=simulate)


def test_missing_and_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.cli import missing, render
    from ivr.settings import IvrSettings

    assert "welcome" in missing("default", tmp_path)
    # A stand-in TTS (the espeak-ng path is tested in test_prompts): every prompt becomes
    # the same short tone, which is enough to see that nothing is missing afterwards.
    from .test_prompts import needs_ffmpeg, tone_wav

    if needs_ffmpeg.args[0]:
        pytest.skip("ffmpeg not installed")
    src = tmp_path / "tone.wav"
    src.write_bytes(tone_wav(0.05))
    rendered = render("default", tmp_path / "p", IvrSettings(tts_command=("cp", str(src), "{out}")))
    assert set(rendered) == set(missing("default", tmp_path))
    assert missing("default", tmp_path / "p") == []
    assert main(["missing", "default", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().out.strip() == ""
