"""``voice-intake ivr show|validate|simulate|publish|prompts`` as a user runs them, and
``voice-intake call FILE --input KEY`` walking the menu (fake ASR in-process; the real
command with the real Whisper model once, marked slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from ivr import default_menu
from ivr.serialize import menu_to_data
from storage import MenuVersions, create_engine
from tests.conftest import CALLS_DIR
from tests.test_cli import run_cli
from voice_gateway.calls.file_call import call_through_menu, configured_menu, outcome_json
from voice_gateway.services import open_services

AT = "2026-03-02T10:00:00+08:00"  # a Monday morning: agents answer
D01_WAV = CALLS_DIR / "D01.pcm8k.wav"
SPOKEN = "你好我想反映一下我们小区的电梯又坏了"


def _broken_menu(tmp_path: Path) -> Path:
    data = menu_to_data(default_menu())
    data["nodes"]["main"]["options"][3]["next"] = "trap"
    data["nodes"]["trap"] = {"type": "play", "prompt": "welcome", "next": "trap"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_show_prints_the_menu_as_json(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "ivr", "show", "default")
    assert proc.returncode == 0, proc.stderr
    menu = json.loads(proc.stdout)
    assert menu["id"] == "default-12345" and menu["start"] == "welcome"
    assert [o["key"] for o in menu["nodes"]["main"]["options"]] == ["1", "2", "3", "4", "0", "6"]


def test_validate_names_the_node_and_exits_non_zero(cli_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    ok = run_cli(cli_env, "ivr", "validate", "default")
    assert ok.returncode == 0, ok.stderr
    bad = run_cli(cli_env, "ivr", "validate", str(_broken_menu(tmp_path)))
    assert bad.returncode == 1
    assert "node 'trap'" in bad.stderr and "loop with no way out" in bad.stderr
    unreadable = tmp_path / "typo.json"
    unreadable.write_text('{"id": "m", "start": "a", "nodes": {"a": {"type": "hangup", '
                          '"nxt": "b"}}}', "utf-8")
    typo = run_cli(cli_env, "ivr", "validate", str(unreadable))
    assert typo.returncode == 1 and "node 'a'" in typo.stderr and "nxt" in typo.stderr


def test_simulate_prints_one_json_line_per_node(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "ivr", "simulate", "default", "--input", "1", "--input", "我要投诉",
                   "--at", AT)
    assert proc.returncode == 0, proc.stderr
    path = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [p["node"] for p in path] == ["welcome", "main", "intake", "goodbye"]
    main = path[1]
    assert (main["exit"], main["key"]) == ("key", "1") and main["inputs"] == ["dtmf 1"]
    assert main["actions"][0] == {"action": "PlayPrompt", "prompt_id": "main_menu",
                                  "interruptible": True,
                                  "text": default_menu().prompts["main_menu"]}
    assert "speech 我要投诉" in path[2]["inputs"]
    assert any(a["action"] == "SubmitIntake" for a in path[2]["actions"])
    bad_time = run_cli(cli_env, "ivr", "simulate", "default", "--at", "tomorrow")
    assert bad_time.returncode == 2 and "--at" in bad_time.stderr


def test_publish_stores_and_publishes_versions(cli_env: dict[str, str], tmp_path: Path) -> None:
    first = run_cli(cli_env, "ivr", "publish", "default", "--comment", "上线")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"menu_id": "default", "version": 1,
                                        "status": "published",
                                        "name": "12345 市民服务热线默认菜单"}
    second = run_cli(cli_env, "ivr", "publish", "default")
    assert json.loads(second.stdout)["version"] == 2
    refused = run_cli(cli_env, "ivr", "publish", str(_broken_menu(tmp_path)))
    assert refused.returncode == 1 and "node 'trap'" in refused.stderr
    assert refused.stdout == ""
    db = Path(cli_env["VOICE_INTAKE_DATA_DIR"]) / "voice-intake.db"

    async def versions() -> list[tuple[int, str, str]]:
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        try:
            menus = MenuVersions(engine)
            return [(v.version, v.status, v.created_by.split(":")[0])
                    for v in await menus.versions("default")]
        finally:
            await engine.dispose()

    import asyncio

    # The refused menu is kept as a draft (version 3) for the editor, never published.
    assert asyncio.run(versions()) == [(3, "draft", "cli"), (2, "published", "cli"),
                                       (1, "retired", "cli")]


def test_prompts_lists_missing_and_render_failure_is_readable(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "ivr", "prompts")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    ids = [r["prompt"] for r in rows]
    assert "welcome" in ids and "main_menu" in ids
    assert all(r["status"] == "missing" for r in rows)
    env = {**cli_env, "VOICE_INTAKE_IVR_TTS_COMMAND": "no-such-tts-binary,{text}"}
    failed = run_cli(env, "ivr", "prompts", "--render")
    assert failed.returncode == 1 and "no-such-tts-binary" in failed.stderr


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
                    reason="needs espeak-ng and ffmpeg")
def test_prompts_render_speaks_the_missing_ones(cli_env: dict[str, str], tmp_path: Path) -> None:
    menu = tmp_path / "tiny.json"
    menu.write_text(json.dumps({"id": "tiny", "start": "bye", "prompts": {"bye": "再见"},
                                "nodes": {"bye": {"type": "hangup", "prompt": "bye"}}},
                               ensure_ascii=False), "utf-8")
    proc = run_cli(cli_env, "ivr", "prompts", str(menu), "--render")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {"prompt": "bye", "text": "再见", "status": "rendered"} in rows
    assert all(r["status"] == "rendered" for r in rows)  # (and the default retry prompts)
    wav = Path(cli_env["VOICE_INTAKE_DATA_DIR"]) / "prompts" / "bye.wav"
    assert wav.read_bytes()[:4] == b"RIFF"
    again = run_cli(cli_env, "ivr", "prompts", str(menu))
    assert again.stdout == ""


# --------------------------------------------------------------------------- call --input

pytestmark_call = pytest.mark.skipif(not D01_WAV.exists(), reason="needs the shared calls")
SCRIPTED = EngineSpec(kind="fake", options=(("script", SPOKEN),))


async def _call(settings: Settings, inputs: list[str]) -> dict[str, Any]:
    async with open_services(settings, spec=SCRIPTED, workers=1) as services:
        menu = await configured_menu(services)
        result = await call_through_menu(services, D01_WAV, "13811223344", menu, inputs)
        events = await MenuVersions(services.store.engine).ivr_logs()
    out = outcome_json(result.outcome, ivr=result.ivr, with_ivr=True)
    out["_logs"] = events
    return out


@pytestmark_call
async def test_call_keys_walk_the_menu_and_the_keyed_phone_reaches_the_draft(
    settings: Settings,
) -> None:
    out = await _call(settings, ["2", "我家电梯坏了", "我姓黄", "13900001111#", "1"])
    assert {"call_id", "transcript", "utterances", "draft", "ivr"} <= set(out)
    ivr = out["ivr"]
    assert ivr["menu"] == "default-12345" and ivr["menu_version"] is None  # the shipped file
    nodes = [n["node"] for n in ivr["path"]]
    assert nodes == ["welcome", "main", "intake", "goodbye"]
    assert (ivr["path"][1]["exit"], ivr["path"][1]["key"]) == ("key", "2")
    intake = ivr["path"][2]
    assert intake["inputs"][:2] == ["speech 我家电梯坏了", "silence"]
    assert f"speech {SPOKEN}" in intake["inputs"]  # the file's speech came after the keys
    submit = next(a for a in intake["actions"] if a["action"] == "SubmitIntake")
    assert submit["fields"]["keypad_phone"] == "13900001111"
    assert out["draft"]["phone"] == "13900001111"  # keypad beats the caller ID
    assert out["transcript"] == SPOKEN * len(out["utterances"])  # the fake says it each time
    # Node entries and exits were stored for analytics, like a SIP call's.
    (log,) = out["_logs"]
    assert log.call_id == out["call_id"]
    assert [a["node_id"] for a in log.actions if a["action"] == "NodeEntered"] == nodes


@pytestmark_call
async def test_the_menu_choice_reaches_the_draft_as_the_appeal_type(settings: Settings) -> None:
    # The same words after key 1 (咨询) and key 2 (投诉举报): the key decides, since the
    # words (我想反映一下) only hint at a complaint without naming one.
    asked = await _call(settings, ["1"])
    complained = await _call(settings, ["2"])
    assert asked["ivr"]["path"][1]["key"] == "1" and complained["ivr"]["path"][1]["key"] == "2"
    assert asked["draft"]["appeal_type"] == "咨询"
    assert complained["draft"]["appeal_type"] == "投诉"
    assert complained["draft"]["confidence"]["appeal_type"] > 0.8  # keyed and hinted


@pytestmark_call
async def test_call_without_inputs_unmatched_speech_goes_to_intake(settings: Settings) -> None:
    out = await _call(settings, [])
    path = out["ivr"]["path"]
    assert [n["node"] for n in path] == ["welcome", "main", "intake", "goodbye"]
    assert path[1]["exit"] == "no_match" and path[1]["inputs"] == [f"speech {SPOKEN}"]
    kept = [a for a in path[1]["actions"] if a["action"] == "RecordUtterance"]
    assert kept[0]["text"] == SPOKEN  # the utterance is kept as the start of the appeal
    assert out["draft"]["phone"] == "13811223344"


@pytestmark_call
async def test_call_uses_the_published_version(settings: Settings) -> None:
    async with open_services(settings, with_asr=False) as services:
        menus = MenuVersions(services.store.engine)
        saved = await menus.save_draft("default", menu_to_data(default_menu()), "root")
        await menus.publish("default", saved.version.version, "root")
    out = await _call(settings, ["0"])
    assert out["ivr"]["menu_version"] == 1
    assert [n["node"] for n in out["ivr"]["path"]][:3] == ["welcome", "main", "agent_hours"]
    assert out["_logs"][0].menu_version == 1


@pytest.mark.slow
@pytestmark_call
def test_call_command_with_input_prints_the_ivr_path(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "call", str(D01_WAV), "--caller", "13811223344", "--input", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"call_id", "transcript", "utterances", "draft", "ivr"}
    path = out["ivr"]["path"]
    assert [n["node"] for n in path][:3] == ["welcome", "main", "intake"]
    assert path[1]["key"] == "1" and out["transcript"] and out["draft"]["id"]
    assert "13811223344" not in proc.stderr  # no personal data in logs
