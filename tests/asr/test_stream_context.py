"""A sentence the VAD cut from the one before is decoded in its context (#15 item 5): the
request carries the previous utterance's audio and text when the pause was short."""

from __future__ import annotations

import asyncio

import numpy as np

from asr.engines.base import DecodeRequest, DecodeResult
from asr.pool import AsrWorkerCrashed
from asr.stream import CONTEXT_GAP_S, TranscriptEvent, UtteranceRecognizeStream
from config import VadSettings
from tests.asr import signals as sig

A, B = "BAC009S0150W0154.wav", "BAC009S0252W0123.wav"
# Utterances end at a 0.7 s pause here, as they do for Vosk (by default a pause under
# sentence_pause_ms, 1.5 s, does not end an utterance for Whisper).
SHORT = VadSettings(sentence_pause_ms=700)


def two_sentences(pause_s: float) -> bytes:
    return sig.pcm(np.concatenate([
        sig.silence(0.5), sig.trimmed(sig.speech(A)), sig.silence(pause_s),
        sig.trimmed(sig.speech(B)), sig.silence(1.5)]))


class Recorder:
    """The first decode is slow and may fail."""

    def __init__(self, fail_first: bool = False) -> None:
        self.requests: list[DecodeRequest] = []
        self.done: list[int] = []
        self._fail_first = fail_first

    async def __call__(self, request: DecodeRequest) -> DecodeResult:
        self.requests.append(request)
        n = len(self.requests)
        await asyncio.sleep(0.2 if n == 1 else 0)
        self.done.append(n)
        if n == 1 and self._fail_first:
            raise AsrWorkerCrashed("utterance crashed the ASR worker twice")
        return DecodeResult(f"第{n}句", 0.9)


async def run(stream: UtteranceRecognizeStream, data: bytes) -> list[TranscriptEvent]:
    for frame in sig.frames(data):
        stream.push(frame)  # all at once: the second decode is asked for before the first ends
    stream.end()
    return [e async for e in stream if e.kind == "final"]


async def test_after_a_short_pause_the_previous_utterance_is_the_context() -> None:
    decoder = Recorder()
    stream = UtteranceRecognizeStream(decoder, SHORT, 16000, speculate=False,
                                      context_gap_s=CONTEXT_GAP_S)
    first, second = await run(stream, two_sentences(1.0))
    assert [e.text for e in (first, second)] == ["第1句", "第2句"]
    plain, follow = decoder.requests
    assert plain.context_pcm == b"" and plain.context_text == ""
    # Its audio, the pause as silence (the VAD heard no speech there), then the utterance.
    gap = round((second.start - first.end) * 16000)
    assert 0 < gap <= CONTEXT_GAP_S * 16000
    assert follow.context_pcm == first.pcm + b"\0\0" * gap
    assert follow.context_text == "第1句" and follow.pcm == second.pcm
    # Asked for only once the first was decoded, though it had been endpointed long before.
    assert decoder.done[0] == 1


async def test_a_long_pause_or_a_failed_decode_gives_no_context() -> None:
    decoder = Recorder()
    await run(UtteranceRecognizeStream(decoder, SHORT, 16000, speculate=False,
                                      context_gap_s=CONTEXT_GAP_S),
              two_sentences(CONTEXT_GAP_S + 1.0))
    assert [r.context_text for r in decoder.requests] == ["", ""]
    assert decoder.done == [2, 1]  # decoded at once, side by side

    failing = Recorder(fail_first=True)
    first, second = await run(
        UtteranceRecognizeStream(failing, SHORT, 16000, speculate=False,
                                 context_gap_s=CONTEXT_GAP_S),
        two_sentences(1.0))
    assert first.error is not None and second.text == "第2句"
    assert [r.context_pcm for r in failing.requests] == [b"", b""]


async def test_speech_split_for_length_is_decoded_in_context() -> None:
    """Speech longer than max_utterance_s is cut with no pause at all: the piece after
    the cut goes on from the piece before."""
    decoder = Recorder()
    vad = VadSettings(max_utterance_s=3.0)
    x = np.concatenate([sig.silence(0.5), sig.trimmed(sig.speech(A)),
                        sig.trimmed(sig.speech(B)), sig.silence(1.5)])
    finals = await run(UtteranceRecognizeStream(decoder, vad, 16000, speculate=False,
                                                context_gap_s=CONTEXT_GAP_S),
                       sig.pcm(x))
    assert len(finals) >= 3
    for before, req in zip(finals, decoder.requests[1:], strict=False):
        assert req.context_pcm == before.pcm and req.context_text == before.text


async def test_a_retracted_guess_does_not_cancel_the_decode_before_it() -> None:
    """Speculation: a guess waiting for the previous result is cancelled when the caller
    goes on talking; the previous decode is not."""
    requests: list[DecodeRequest] = []

    async def decoder(request: DecodeRequest) -> DecodeResult:
        requests.append(request)
        await asyncio.sleep(0 if request.context_text else 0.5)
        return DecodeResult(f"第{len(requests)}次", 0.9)

    stream = UtteranceRecognizeStream(decoder, SHORT, 16000, context_gap_s=CONTEXT_GAP_S)
    x = np.concatenate([
        sig.silence(0.5), sig.trimmed(sig.speech(A)), sig.silence(1.0),
        sig.trimmed(sig.speech(B)), sig.silence(0.45),  # a pause the caller talks through
        sig.trimmed(sig.speech(A)), sig.silence(1.5)])
    consumer = asyncio.create_task(_finals(stream))
    for frame in sig.frames(sig.pcm(x)):
        stream.push(frame)
        await asyncio.sleep(0)
    stream.end()
    first, second = await consumer
    assert stream.speculated > stream.speculation_used  # a guess was retracted
    assert first.error is None and second.error is None
    assert requests[-1].context_text == first.text and requests[-1].pcm == second.pcm


async def _finals(stream: UtteranceRecognizeStream) -> list[TranscriptEvent]:
    return [e async for e in stream if e.kind == "final"]


async def test_by_default_long_speech_is_one_utterance_without_context() -> None:
    """Defaults: speech is cut only at 28 s (it fits one 30 s Whisper window, as the bare
    engine hears it), a pause between sentences under 1.5 s does not end an utterance,
    and no utterance gets context."""
    assert VadSettings().max_utterance_s == 28.0 and VadSettings().sentence_pause_ms == 1500
    decoder = Recorder()
    speech = np.concatenate([sig.trimmed(sig.speech(A)), sig.trimmed(sig.speech(B))] * 2)
    assert 13 < speech.size / 16000 < 20
    x = np.concatenate([sig.silence(0.5), speech, sig.silence(1.0),  # one sentence more
                        sig.trimmed(sig.speech(A)), sig.silence(2.5),  # the end
                        sig.trimmed(sig.speech(B)), sig.silence(2.0)])
    first, second = await run(UtteranceRecognizeStream(decoder, VadSettings(), 16000,
                                                       speculate=False), sig.pcm(x))
    assert first.end - first.start > speech.size / 16000 + 1.0 + 3
    assert second.end - second.start < 6
    assert [r.context_pcm for r in decoder.requests] == [b"", b""]
