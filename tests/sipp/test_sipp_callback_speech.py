"""Spoken survey answers end to end (#19 item 1): sipp as the citizen plays speech made
here with espeak-ng (Mandarin, its pinyin voice), our gateway's real Whisper base hears it,
and the survey reads the answer from what Whisper wrote, by characters, pinyin or sound.

espeak-ng's ``cmn`` voice reads Chinese characters as pinyin with English tone digits
("不" is "bu four"), which Whisper writes as digits; ``cmn-latn-pinyin`` says them as
Mandarin. Whisper base hears 不满意 as 不满意 and 别再打了 as 别太大了 (sound matching
takes it); it did not hear 解决了 in any voice or speed tried, so the first question is
answered with a key where the test needs it answered."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from config import Settings
from ivr.prompts import render_text, ulaw_payload
from tests.sipp.harness import running_gateway, sip_settings
from tests.sipp.pcap import write_rtp_pcap
from tests.sipp.test_sipp_callback import DTMF, quiet_prompts
from tests.sipp.uas import sipp_uas
from voice_gateway.callbacks.dialer import Dialer
from voice_gateway.callbacks.survey import SurveyAnswers, load_survey_menu
from voice_gateway.sip.uac import OutboundRoute

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")]

ULAW_SILENCE = b"\xff"
VOICE = ("espeak-ng", "-v", "cmn-latn-pinyin", "-s", "120", "--stdout", "{text}")


def speech_pcap(settings: Settings, text: str, path: Path) -> int:
    """``text`` spoken by espeak-ng as a PCMU RTP pcap, with the silence a phone goes on
    sending after it (the recognizer ends an utterance on trailing silence); its length
    in ms."""
    ivr = dataclasses.replace(settings.ivr, tts_command=VOICE)
    payload = ulaw_payload(render_text(text, ivr)) + ULAW_SILENCE * 8000 * 3
    return int(write_rtp_pcap(path, payload, leading_silence_s=0.3) * 1000)


def media(*steps: tuple[str, int]) -> str:
    """sipp actions: each (pcap, its length in ms) played 1.5 s after the previous ended."""
    return "\n".join(f'<pause milliseconds="{1500 + (steps[n - 1][1] if n else 0)}"/>\n'
                     f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'
                     for n, (pcap, _ms) in enumerate(steps))  # fmt: skip


async def _survey(settings: Settings, tmp_path: Path,
                  *steps: tuple[str, int]) -> tuple[SurveyAnswers | None, list[str]]:  # fmt: skip
    async with (running_gateway(settings) as (services, gateway),
                sipp_uas("uas_answer.xml", tmp_path, values={"MEDIA": media(*steps)}) as uas):
        dialer = Dialer(gateway, load_survey_menu())
        route = OutboundRoute(proxy=("127.0.0.1", uas.port), caller_id="12345")
        result = await dialer.call(f"sip:13800000000@127.0.0.1:{uas.port}", route,
                                   order_id="order-s", caller_number="13800000000")
        run = await uas.result()
        assert result.call_id is not None, result
        call = await services.store.get_call(result.call_id)
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
    assert call is not None
    return result.answers, [u.text for u in call.utterances]


async def test_key_1_then_spoken_dissatisfied_reopens(settings: Settings,
                                                      tmp_path: Path) -> None:  # fmt: skip
    settings = quiet_prompts(sip_settings(settings), tmp_path)
    said = speech_pcap(settings, "不满意", tmp_path / "dissatisfied.pcap")
    answers, heard = await _survey(settings, tmp_path, (DTMF.format(1), 200),
                                   (str(tmp_path / "dissatisfied.pcap"), said))  # fmt: skip
    assert answers == SurveyAnswers(True, "dissatisfied"), heard


async def test_spoken_do_not_call_heard_by_sound(settings: Settings, tmp_path: Path) -> None:
    settings = quiet_prompts(sip_settings(settings), tmp_path)
    said = speech_pcap(settings, "别再打了", tmp_path / "dnc.pcap")
    answers, heard = await _survey(settings, tmp_path, (str(tmp_path / "dnc.pcap"), said))
    assert answers == SurveyAnswers(None, None, do_not_call=True), heard
    assert "别再打了" not in "".join(heard)  # Whisper wrote something else: sound matched
