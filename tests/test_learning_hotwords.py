"""Approved hot-words (issue 15 item 6) reach the Whisper prompt of the running workers
without a restart: the pool gives requests without a prompt of their own the hot-word
prompt with the approved words first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from asr.engines.base import DecodeRequest, EngineSpec
from asr.hotwords import build_prompt, engine_prompt
from config import load_settings
from storage import DraftWorkflow
from tests.conftest import MODEL_DIR
from voice_gateway.services import open_services
from workorders import draft
from workorders.learned import HOTWORD, proposal_id

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
PCM = b"\x00\x00" * 1600


def test_extra_terms_come_first_in_the_prompt() -> None:
    prompt = build_prompt(extra=("卢沟桥街道",))
    assert prompt.startswith("以下是北京12345市民热线的来电，普通话。卢沟桥街道、")
    assert "卢沟桥街道" not in build_prompt()  # the shipped terms fill the prompt first


async def test_an_approved_hot_word_is_in_the_next_decodes_prompt(tmp_path: Path) -> None:
    settings = load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(tmp_path / "data"),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR),
        "VOICE_INTAKE_ASR_WHISPER_HOTWORDS": "true",
    })
    start = engine_prompt(settings)
    assert start is not None
    spec = EngineSpec("fake", prompt=start, options=(("echo_prompt", "1"),))
    async with open_services(settings, spec=spec, workers=1) as services:
        pool, store = services.pool, services.store
        assert pool is not None
        # As started: the spec's prompt (the engine's own default).
        assert (await pool.decode(DecodeRequest(PCM))).text == start
        flow = DraftWorkflow(store.engine, store.bus)
        text = "家住丰台区 鲁国嫖界到 路灯坏了"
        for _ in range(3):  # agents type the street the drafter missed, three times
            call_id = await store.create_call("file", None, None, "fake:none")
            made = draft(text, None, NOW)
            stored = await store.save_draft(call_id, text, made.to_dict(), made.evidence(),
                                            [], False)
            await flow.claim(stored["id"], "alice")
            await flow.edit(stored["id"], "alice", {"street": "卢沟桥街道"})
        await store.learning.decide(proposal_id(HOTWORD, "", "卢沟桥街道"), "approved",
                                    "root", 3)
        heard = (await pool.decode(DecodeRequest(PCM))).text
        assert heard == engine_prompt(settings, ("卢沟桥街道",))
        assert "卢沟桥街道" in heard
        # A request with its own prompt (a question's bias) keeps it.
        assert (await pool.decode(DecodeRequest(PCM, prompt="问题"))).text == "问题"
        await store.learning.decide(proposal_id(HOTWORD, "", "卢沟桥街道"), "rejected",
                                    "root", 3)
        assert (await pool.decode(DecodeRequest(PCM))).text == start
