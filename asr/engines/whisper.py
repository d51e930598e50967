"""faster-whisper, one utterance at a time, int8 on CPU, Simplified Chinese out.

Whisper invents text for silence and noise ("请不吝点赞订阅…"), so segments it is unsure
contain speech are dropped: a high no-speech probability with a low log-probability, or
text that compresses too well (repetition loops).
"""

from __future__ import annotations

import numpy as np

from asr.engines.base import SAMPLE_RATE, DecodeRequest, DecodeResult, EngineSpec, Word

# Phrases Whisper emits for non-speech, learned from subtitle data.
HALLUCINATIONS = (
    "请不吝点赞",
    "订阅",
    "字幕",
    "谢谢观看",
    "明镜与点点",
    "感谢观看",
)
DEFAULT_PROMPT = "以下是普通话的句子。"


class WhisperEngine:
    def __init__(self, spec: EngineSpec) -> None:
        import opencc
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            spec.model_path,
            device="cpu",
            compute_type=spec.compute_type,
            cpu_threads=spec.threads,
            num_workers=1,
        )
        self._spec = spec
        self._t2s = opencc.OpenCC("t2s")

    def decode(self, request: DecodeRequest) -> DecodeResult:
        audio = np.frombuffer(request.pcm, dtype="<i2").astype(np.float32) / 32768.0
        if audio.size < SAMPLE_RATE // 10:
            return DecodeResult("", 0.0)
        segments, _info = self._model.transcribe(
            audio,
            language=self._spec.language,
            beam_size=self._spec.beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            initial_prompt=request.prompt or DEFAULT_PROMPT,
            temperature=(0.0, 0.4, 0.8),
            no_speech_threshold=0.6,
        )
        texts: list[str] = []
        words: list[Word] = []
        logprobs: list[float] = []
        for seg in segments:
            if seg.no_speech_prob > 0.6 and seg.avg_logprob < -0.7:
                continue
            text = self._t2s.convert(seg.text.strip())
            if not text or any(h in text for h in HALLUCINATIONS):
                continue
            texts.append(text)
            logprobs.append(seg.avg_logprob)
            words.append(Word(text, float(seg.start), float(seg.end),
                              float(np.exp(seg.avg_logprob))))
        if not texts:
            return DecodeResult("", 0.0)
        confidence = float(np.exp(np.mean(logprobs)))
        return DecodeResult("".join(texts), min(1.0, confidence), tuple(words))
