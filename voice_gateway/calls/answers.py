"""Per-question decoding of intake answers (see :mod:`workorders.questions`): the second,
biased decode of an answer, run by the call's runner off the event loop.

The bias is built in a thread (the first call in a process loads the gazetteer's sound
index) and the decode goes to the ASR worker pool like any other, with both a prompt and
a grammar: Whisper reads the prompt, Vosk the grammar, each engine ignores the other.
"""

from __future__ import annotations

import asyncio
import logging

from asr.engines.base import DecodeRequest
from asr.normalize import normalize_text
from voice_gateway.calls import machine as m
from voice_gateway.services import Services
from workorders.knowledge import knowledge
from workorders.questions import QuestionBias, question_bias

log = logging.getLogger(__name__)


def answer_request(pcm: bytes, bias: QuestionBias) -> DecodeRequest:
    """The pool request for one answer under ``bias``: background work, decoded when no
    caller's utterance waits (only the draft, at the end of the call, needs it)."""
    return DecodeRequest(pcm, prompt=bias.prompt, grammar=bias.phrases or None,
                         background=True)


async def decode_answer(services: Services, action: m.DecodeAnswer) -> str:
    """The biased reading of the answer, normalised as finals are; "" when there is none
    (no bias for the question, or the decode failed: the free decode is then all)."""
    pool = services.pool
    if pool is None:
        return ""
    drafting = services.settings.drafting
    bias = await asyncio.to_thread(
        lambda: question_bias(action.question, action.heard, knowledge(drafting)))
    if bias is None:
        return ""
    try:
        result = await pool.decode(answer_request(action.pcm, bias))
    except Exception as exc:  # the free decode is the record: nothing is lost
        log.warning("%s answer not decoded again (%s)", action.question, type(exc).__name__)
        return ""
    if result.unknown_words and not result.text:
        return ""
    return normalize_text(result.text)
