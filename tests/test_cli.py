"""``voice-intake`` end to end, as a user runs it: real Whisper model, real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CALLS_DIR, dev_cases

EXPECTED = dev_cases()


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_gateway.cli", *args], env=env, input=stdin,
        capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.slow
def test_calls_from_files_store_drafts_that_drafts_lists(cli_env: dict[str, str]) -> None:
    call_ids = []
    # D10: the phone is read from speech; D08: no phone spoken, so the caller ID. D07 (the
    # README's example) and D13 (spoken, then corrected: 不对 是 …) are drafted and listed
    # but their phones are not pinned: Whisper base's digits there depend on the CPU. On
    # the AMD EPYC of 2026-11-29 D13 came back as 电话是1380 1380 000部队是1800118001 with
    # 30 s windows and 20 s alike, where earlier machines heard 不对 and all eleven digits.
    # The correction itself is tested on text in tests/workorders/test_phone.py.
    cases = (("D07", "pcm8k", False), ("D10", "ulaw", True), ("D13", "pcm8k", False),
             ("D08", "ulaw", True))
    for case, fmt, check_phone in cases:
        caller = EXPECTED[case]["caller_number"]
        proc = run_cli(cli_env, "call", str(CALLS_DIR / f"{case}.{fmt}.wav"), "--caller", caller)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert set(out) == {"call_id", "transcript", "utterances", "draft", "ivr"}
        assert out["transcript"]
        assert all(u["end"] > u["start"] for u in out["utterances"])
        if check_phone:
            assert out["draft"]["phone"] == EXPECTED[case]["expect"]["phone"], out["transcript"]
        assert caller not in proc.stderr  # no personal data in logs
        call_ids.append(out["call_id"])

    proc = run_cli(cli_env, "drafts", "--json")
    assert proc.returncode == 0, proc.stderr
    drafts = json.loads(proc.stdout)
    assert [d["call_id"] for d in drafts] == call_ids[::-1]  # newest first
    keys = {"id", "name", "surname", "phone", "district", "street", "address", "category",
            "subcategory", "appeal_type", "urgent", "summary", "dispatch_to", "due_at",
            "confidence", "call_id", "created_at", "status"}
    assert all(set(d) == keys for d in drafts)
    recordings = list((Path(cli_env["VOICE_INTAKE_DATA_DIR"]) / "recordings").glob("*.wav"))
    assert len(recordings) == 4

    proc = run_cli(cli_env, "drafts")
    assert proc.returncode == 0 and len(proc.stdout.strip().splitlines()) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "file is empty"),
        (b"this is a text file, not audio\n", "not a"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "WAV has no fmt chunk"),
    ],
)
def test_bad_audio_file_is_one_line_error_exit_2(
    cli_env: dict[str, str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "input.wav"
    if content is not None:
        path.write_bytes(content)
    proc = run_cli(cli_env, "call", str(path), "--caller", "13000000000")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_missing_model_is_one_clear_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "VOICE_INTAKE_MODEL_DIR": str(tmp_path / "no-models"),
           "HOME": str(tmp_path)}
    proc = run_cli(env, "call", str(CALLS_DIR / "D01.ulaw.wav"))
    assert proc.returncode == 1
    assert "no speech model found" in proc.stderr
    assert str(tmp_path / "no-models" / "whisper-base-ct2") in proc.stderr


def test_bad_configuration_is_rejected(cli_env: dict[str, str]) -> None:
    proc = run_cli({**cli_env, "VOICE_INTAKE_HTTP_PORT": "eighty"}, "drafts")
    assert proc.returncode == 2
    assert "http.port" in proc.stderr


def test_models_list_and_verify(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "models", "list")
    assert proc.returncode == 0
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("whisper-base-ct2"))
    assert cli_env["VOICE_INTAKE_MODEL_DIR"] in line
    proc = run_cli(cli_env, "models", "verify", "whisper-base-ct2")
    assert proc.returncode == 0, proc.stdout
    assert "model.bin: ok" in proc.stdout


def test_db_upgrade_creates_database(cli_env: dict[str, str]) -> None:
    proc = run_cli(cli_env, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert (Path(cli_env["VOICE_INTAKE_DATA_DIR"]) / "voice-intake.db").is_file()


def test_draft_jsonl_in_and_out(cli_env: dict[str, str]) -> None:
    lines = [json.dumps({"id": c["id"], "text": c["text"], "caller_number": c["caller_number"]},
                        ensure_ascii=False) for c in list(EXPECTED.values())[:3]]
    lines.insert(1, "{not json")
    proc = run_cli(cli_env, "draft", stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert proc.returncode == 1  # one bad line; the others are still drafted
    assert out[1]["line"] == 2 and "error" in out[1]
    good = [o for o in out if "error" not in o]
    assert [o["id"] for o in good] == [c["id"] for c in list(EXPECTED.values())[:3]]
    for o in good:
        assert o["phone"] == EXPECTED[o["id"]]["expect"]["phone"]
