"""The order's summary, read out in the survey: rendered for one call, played in place of
the menu's {summary} prompt, never written to the shared prompt directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import IvrSettings
from voice_gateway.callbacks.prompts import SUMMARY_PROMPT, CallPrompts, summary_text
from voice_gateway.callbacks.survey import load_survey_menu
from voice_gateway.calls.prompts import PromptLibrary


def test_the_summary_text_fills_the_menus_template() -> None:
    menu = load_survey_menu()
    assert summary_text(menu, "楼道灯不亮") == "您反映的问题是：楼道灯不亮"
    assert summary_text(menu, None) is None and summary_text(menu, " ") is None


async def test_a_calls_summary_is_its_own(tmp_path: Path) -> None:
    base = PromptLibrary(tmp_path)
    call = CallPrompts(base, {SUMMARY_PROMPT: b"\x01\x00" * 80})
    assert await call.pcm(SUMMARY_PROMPT) == b"\x01\x00" * 80
    assert await base.pcm(SUMMARY_PROMPT) is None  # other calls do not hear it
    assert await call.pcm("survey_intro") is None  # the rest comes from the library
    assert not any(os.scandir(tmp_path))  # nothing written for other calls to find


async def test_rendered_with_the_tts_command(tmp_path: Path) -> None:
    pytest.importorskip("shutil").which("espeak-ng") or pytest.skip("no espeak-ng")
    from voice_gateway.callbacks.prompts import render_summary

    pcm = await render_summary("您反映的问题是：楼道灯不亮", IvrSettings())
    assert pcm is not None and len(pcm) > 8000  # over half a second of 8 kHz audio
    assert await render_summary("x", IvrSettings(tts_command=())) is None
