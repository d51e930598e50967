"""``voice-intake learn --from-corrections`` (issue 15 item 6): proposals from agents'
corrections as JSON, approved or rejected by id, or approved above a count."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from config import load_settings
from storage import DraftWorkflow
from tests.test_cli import run_cli
from voice_gateway.services import open_services
from workorders import draft

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def _corrections(env: dict[str, str], transcript: str, fields: dict[str, Any],
                       times: int) -> None:
    settings = load_settings(environ=env)
    async with open_services(settings, with_asr=False) as services:
        store = services.store
        flow = DraftWorkflow(store.engine, store.bus)
        for _ in range(times):
            call_id = await store.create_call("file", None, None, "fake:none")
            made = draft(transcript, None, NOW)
            stored = await store.save_draft(call_id, transcript, made.to_dict(),
                                            made.evidence(), [], False)
            await flow.claim(stored["id"], "alice")
            await flow.edit(stored["id"], "alice", fields)


def _learn(env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = run_cli(env, "learn", "--from-corrections", *args)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


async def test_learn_lists_approves_and_rejects(cli_env: dict[str, str]) -> None:
    await _corrections(cli_env, "我姓汪 电话 幺三八 幺幺二二 三三四四", {"surname": "王"}, 3)
    await _corrections(cli_env, "我姓温 电话 幺三八 幺幺二二 三三四四", {"surname": "闻"}, 2)

    listed = _learn(cli_env)
    assert listed["min_count"] == 3
    assert [(p["heard"], p["value"], p["count"]) for p in listed["proposals"]] == [
        ("我姓汪", "王", 3)]
    assert len(_learn(cli_env, "--min-count", "2")["proposals"]) == 2

    pid = listed["proposals"][0]["id"]
    done = _learn(cli_env, "--approve", pid)
    assert [p["status"] for p in done["approved"]] == ["approved"]
    assert done["proposals"] == []  # nothing pending any more
    assert [p["id"] for p in _learn(cli_env, "--status", "approved")["proposals"]] == [pid]
    done = _learn(cli_env, "--reject", pid)
    assert [p["decided_by"] for p in done["rejected"]] == ["cli"]

    # --auto-approve-min: every pending proposal seen on at least N drafts.
    auto = _learn(cli_env, "--min-count", "2", "--auto-approve-min", "2")
    assert [(p["value"], p["status"]) for p in auto["approved"]] == [("闻", "approved")]

    proc = run_cli(cli_env, "learn", "--from-corrections", "--approve", "nosuch")
    assert proc.returncode == 1 and "no proposal nosuch" in proc.stderr
