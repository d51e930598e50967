"""Callback figures on /metrics (#19): attempts by outcome, surveys under way, answers by
value, from real survey calls to sipp-as-citizen; no number or order in any label."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from config import Settings
from tests.sipp.harness import running_gateway, sip_settings
from tests.sipp.test_sipp_callback import keys, quiet_prompts
from tests.sipp.uas import sipp_uas
from voice_gateway import metrics
from voice_gateway.callbacks.dialer import Dialer
from voice_gateway.callbacks.survey import load_survey_menu
from voice_gateway.sip.uac import OutboundRoute

pytestmark = [pytest.mark.slow]

NUMBER = "13800000000"


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def figures() -> dict[str, float]:
    return {
        "answered": value("voice_intake_callback_attempts_total", outcome="answered"),
        "busy": value("voice_intake_callback_attempts_total", outcome="busy"),
        "unresolved": value("voice_intake_callback_answers_total", question="resolved",
                            answer="no"),
        "dissatisfied": value("voice_intake_callback_answers_total",
                              question="satisfaction", answer="dissatisfied"),
        "satisfied": value("voice_intake_callback_answers_total", question="satisfaction",
                           answer="satisfied"),
    }  # fmt: skip


async def test_attempts_surveys_and_answers_are_counted(settings: Settings,
                                                        tmp_path: Path) -> None:  # fmt: skip
    settings = quiet_prompts(sip_settings(settings), tmp_path)
    before = figures()
    seen_up: list[float] = []
    async with running_gateway(settings) as (_services, gateway):
        dialer = Dialer(gateway, load_survey_menu())
        async with sipp_uas("uas_answer.xml", tmp_path,
                            values={"MEDIA": keys(tmp_path, "2", "3")}) as uas:
            route = OutboundRoute(proxy=("127.0.0.1", uas.port), caller_id="12345")
            call = asyncio.create_task(dialer.call(f"sip:{NUMBER}@127.0.0.1:{uas.port}",
                                                   route, order_id="order-m"))  # fmt: skip
            while not call.done():
                seen_up.append(value("voice_intake_callback_surveys_active"))
                await asyncio.sleep(0.1)
            answered = await call
            await uas.result()
        async with sipp_uas("uas_busy.xml", tmp_path) as uas:
            route = OutboundRoute(proxy=("127.0.0.1", uas.port))
            busy = await dialer.call(f"sip:{NUMBER}@127.0.0.1:{uas.port}", route,
                                     order_id="order-b")
            await uas.result()
    assert (answered.outcome, busy.outcome) == ("answered", "busy")
    after = figures()
    assert {k: after[k] - before[k] for k in after} == {
        "answered": 1, "busy": 1, "unresolved": 1, "dissatisfied": 1, "satisfied": 0}
    assert max(seen_up) == 1 and value("voice_intake_callback_surveys_active") == 0
    text = generate_latest(metrics.REGISTRY).decode()
    assert "voice_intake_callback_attempts_total{outcome=\"busy\"}" in text
    assert NUMBER not in text and "order-" not in text
