"""Whisper's non-speech rules, on the figures real decodes gave (no model needed)."""

from __future__ import annotations

import pytest

from asr.engines.whisper import DEFAULT_PROMPT, is_loop, is_non_speech


@pytest.mark.parametrize(
    ("text", "loop"),
    [
        ("作试试试试试试试试试试", True),
        ("作语语语语语语语语语语语", True),
        ("对对对对", False),  # short: real speech repeats like this
        ("我们小区的电梯又坏了", False),
        ("喂喂喂你好吗", True),
        ("我信温我信温我信温我信温我", True),  # a phrase four times
        ("潮阳区我信温，我信温。我信温我信温", True),  # punctuation does not hide it
        ("我来了我来了我来了", False),  # three times: said like this
        ("我姓温，温暖的温，温度的温", False),
        ("", False),
    ],
)
def test_a_decoder_loop_is_one_character_or_one_phrase_over_and_over(text: str, loop: bool) -> None:
    assert is_loop(text) is loop


def test_noise_that_came_back_as_a_loop_is_non_speech() -> None:
    # Pink noise on an AVX2 machine: just above the log-probability cut.
    assert is_non_speech("作试试试试试试试试试试", 0.886, -0.698, DEFAULT_PROMPT)
    # The same figures with real words are kept, and real speech never goes.
    assert not is_non_speech("我们小区的电梯又坏了", 0.886, -0.698, DEFAULT_PROMPT)
    assert not is_non_speech("作试试试试试试试试试试", 0.05, -0.698, DEFAULT_PROMPT)
    assert is_non_speech("我们小区的电梯又坏了", 0.7, -0.9, DEFAULT_PROMPT)


def test_alternatives_of_a_decode_that_went_on_cover_the_whole_utterance() -> None:
    """#15 items 2 and 5: an utterance decoded in two windows (Whisper stopped early) has
    alternatives of the whole, not of its first window only."""
    from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
    from asr.engines.whisper import WhisperEngine

    engine = WhisperEngine.__new__(WhisperEngine)  # no model: decode is replaced below
    engine._spec = EngineSpec("whisper", nbest=3)
    rest = DecodeResult("我住在海电七", 0.8, alternatives=("我住在海淀区",))
    engine.decode = lambda _req: rest  # type: ignore[method-assign]
    first = DecodeResult("路灯坏了", 0.9, alternatives=("陆灯坏了",))
    whole = engine._go_on(first, DecodeRequest(b"\0\0" * 16000), b"\0\0" * 16000)
    assert whole.text == "路灯坏了我住在海电七"
    assert whole.alternatives == ("陆灯坏了我住在海电七", "路灯坏了我住在海淀区")
    assert whole.confidence == 0.8
