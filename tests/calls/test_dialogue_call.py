"""``voice-intake call --script TURNS.json`` (#15 item 4): a dialogue call through the real
IVR and call machine on the virtual clock, with the fake engine (no model)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from ivr import default_menu
from tests.conftest import SHARED
from voice_gateway.calls.dialogue import ScriptError, call_with_script, load_script
from voice_gateway.cli import main
from voice_gateway.services import open_services

DIALOGUE = SHARED / "audio" / "dialogues" / "dev" / "D16"
FREE = "我要投诉门口有人摆摊|我是那个|东城区那边"
BIASED = "我要投诉门口有人占道经营|我姓陈耳东陈|东城区东花市街道"


def spec(biased: bool = True) -> EngineSpec:
    options = [("script", FREE)] + ([("biased_script", BIASED)] if biased else [])
    return EngineSpec(kind="fake", options=tuple(options))


@pytest.fixture
def script(tmp_path: Path) -> Path:
    if not DIALOGUE.is_dir():
        pytest.skip(f"no dialogue fixtures at {DIALOGUE}")
    folder = tmp_path / "D16"
    shutil.copytree(DIALOGUE, folder)
    return folder / "turns.json"


async def test_each_turn_answers_its_prompt_and_the_keys_reach_the_ivr(
        settings: Settings, script: Path) -> None:
    async with open_services(settings, spec=spec(biased=False), workers=1) as services:
        result = await call_with_script(services, script, "13900000001", default_menu())
    out = result.outcome
    # One utterance per spoken turn, each heard by the step it answers.
    assert [u.text for u in out.utterances] == FREE.split("|")
    assert result.ivr is not None
    intake = [n for n in result.ivr["path"] if n["node"] == "intake"]
    assert intake and intake[-1]["exit"] == "done"
    kept = [a for a in intake[-1]["actions"] if a.get("action") == "RecordUtterance"]
    assert [(a["field"], a["text"]) for a in kept] == [
        ("problem", "我要投诉门口有人摆摊"), ("name", "我是那个"), ("address", "东城区那边")]
    # The keyed number was read back, confirmed and kept.
    assert out.draft["phone"] == "13911286635"
    # Off by default: the draft is the free decode's.
    assert out.draft["surname"] is None and out.draft["street"] is None


async def test_biased_readings_of_the_answers_feed_the_draft_not_the_transcript(
        settings: Settings, script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    settings = dataclasses.replace(
        settings, asr=dataclasses.replace(settings.asr, question_decoding=True,
                                          second_pass=()))
    async with open_services(settings, spec=spec(), workers=1) as services:
        result = await call_with_script(services, script, "13900000001", default_menu())
        stored = await services.store.get_call(result.outcome.call_id)
    out = result.outcome
    assert out.transcript == "".join(FREE.split("|"))  # the record is the free decode
    assert stored is not None and [u.text for u in stored.utterances] == FREE.split("|")
    assert out.draft["surname"] == "陈"
    assert out.draft["district"] == "东城区" and out.draft["street"] == "东花市街道"
    assert out.draft["category"] == "城市管理"


def test_a_bad_script_is_refused_with_the_turn_that_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "turns.json"
    path.write_text(json.dumps([{"after": "intake_name", "say": "missing.wav"}]))
    with pytest.raises(ScriptError, match="turn 1: no such file"):
        load_script(path)
    path.write_text(json.dumps([{"after": "intake_phone", "keys": "12a"}]))
    with pytest.raises(ScriptError, match="turn 1: 'keys' must be DTMF"):
        load_script(path)


def test_the_cli_takes_a_file_or_a_script(cli_env: dict[str, str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("VOICE_INTAKE_")]:
        monkeypatch.delenv(key)  # the CLI refuses settings it does not know
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "turns.json"
    path.write_text("[]")
    assert main(["call"]) == 2
    assert "--script" in capsys.readouterr().err
    assert main(["call", "--script", str(path)]) == 2
    assert "non-empty JSON list" in capsys.readouterr().err
