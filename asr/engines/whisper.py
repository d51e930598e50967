"""faster-whisper, int8 on CPU, Simplified Chinese out, several utterances per call.

Whisper's encoder always sees a 30 s window, so an utterance of 4 s costs as much to
encode as one of 30 s. ``decode_batch`` therefore takes the utterances that queued up
while the worker was busy (usually from different calls) and runs them as one batch: one
``encode`` over a batch of windows and one beam search over all of them, which shares
the decoder's matrix work. Each utterance's features are computed on its own samples
only and padded in the feature domain, as faster-whisper does, so padding is paid once,
in the encoder, never again in feature extraction. Every utterance keeps its own window:
callers never share a decoding context.

The window need not be 30 s. An utterance (at most ``VadSettings.max_utterance_s``, 28 s
by default) is padded to the shortest window of ``EngineSpec.min_window_s``,
``min_window_s + 4``, ... up to ``EngineSpec.window_s`` (both 30 s by default) that
holds it with a second to spare, and to 30 s only when none does. The encoder's cost
grows faster than its input: on this project's 2-core AMD EPYC (AVX2) one encode on one
thread took 1.30-1.52 s for 30 s, 0.91 s for 24 s, 0.51-0.58 s for 20 s, 0.38-0.45 s for
16 s and 0.29 s for 12 s, and the decoder attends over the window too. Whisper was
trained on 30 s windows, so shorter ones are a trade, measured with the pipeline on the
bench's files (dev is deterministic; the calls move by up to 2 points run to run, because
batches and the sampling fallback vary): one 20 s window for everything up to 19 s gave
CER 16.14% on dev against 17.73% with 30 s; 12/16/20 s gave 15.54% on dev, 16.48% on the
telsim_ subset (17.58% with 20 s) and 19.61-20.30% on the calls over four runs (19.48-21.69%
with 20 s). A 10 s floor cost a point on dev (18.13%), so 10 s is the least accepted.
Those figures were tuned on the dev files. On 71 unseen real Mandarin clips (a held-out
measurement, issue #15) 12/16/20 s gave CER 21.49% against 19.21% for both the bare engine
and 30/30 s windows, so the default is now Whisper's own 30 s: accuracy over encoder time.

A long utterance is decoded to its end: where Whisper closes a segment and stops before
the end of the audio (an 18 s monologue stopped at 10 s), the rest is decoded from that
timestamp in a new window, as faster-whisper's ``transcribe`` does. A request may carry
the utterance before it as context (``DecodeRequest.context_pcm``/``context_text``): its
audio starts the window and its text is forced as the decoder's prefix.

Whisper invents text for silence and noise ("请不吝点赞订阅…"). Guards, in order: audio
with no energy is not decoded at all; a window Whisper itself rates as probably silent
with low confidence is dropped; text that compresses too well (a repetition loop) falls
back to sampling like faster-whisper does; known subtitle-credit phrases are dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ctranslate2
import numpy as np

from asr.engines.base import SAMPLE_RATE, DecodeRequest, DecodeResult, EngineSpec

# Phrases Whisper emits for non-speech, learned from subtitle data.
HALLUCINATIONS = (
    "请不吝点赞",
    "订阅",
    "字幕",
    "谢谢观看",
    "明镜与点点",
    "感谢观看",
    "中文字幕",
    "点赞",
)
DEFAULT_PROMPT = "以下是普通话的句子。"
WINDOW_S = 30.0  # Whisper's own window
MIN_WINDOW_S = 10.0
WINDOW_STEP_S = 4.0
# An utterance gets a shorter window only with this much padding after it.
WINDOW_MARGIN_S = 1.0
FRAMES_PER_S = 100
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4
SAMPLING_SEED = 12345
FALLBACK_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
BEST_OF = 5  # sampled hypotheses per temperature, faster-whisper's default
# Tokens a decode may produce for an utterance: a base plus a rate twice the densest
# transcript of the bench's files (5.8 tokens/s, Whisper's tokenizer on the references),
# room for punctuation and timestamps. Only a decoder stuck in a loop reaches it; without
# the bound, a 2.5 s utterance that went to the sampling fallback ran to 448 tokens at each
# temperature and held its worker 7 s (21 s under load, queueing every call behind it).
MAX_TOKENS_BASE = 20
MAX_TOKENS_PER_S = 12.0
# A phrase of 2-8 characters, then the same three more times.
_PHRASE_LOOP = re.compile(r"(.{2,8}?)\1{3}")
# The least audio left after a decode that stopped early that is decoded on its own.
MIN_REST_S = 0.5
# Below this RMS (int16 units, about -66 dBFS) there is nothing to hear.
MIN_RMS = 16.0


def echoes_prompt(text: str, prompt: str) -> bool:
    """Most of the text's character pairs are in the prompt: Whisper repeating it."""
    chars = [c for c in text if c.isalnum()]
    pairs = {a + b for a, b in itertools.pairwise(chars)}
    return bool(pairs) and sum(p in prompt for p in pairs) >= 0.5 * len(pairs)


def is_loop(text: str) -> bool:
    """The decoder stuck, in texts too short for zlib's compression ratio to catch: on one
    character (作试试试试试试试: at least six characters, half of them the same one), or on
    a phrase of two to eight characters said four times running (我信温我信温我信温我信温,
    a 1 s utterance of the call files, decoded to the token bound)."""
    chars = "".join(c for c in text if c.isalnum())
    if len(chars) >= 6 and max(Counter(chars).values()) * 2 >= len(chars):
        return True
    return _PHRASE_LOOP.search(chars) is not None


def is_non_speech(text: str, no_speech_prob: float, avg_logprob: float, prompt: str) -> bool:
    """Whisper's own silence rule, a little stricter, plus prompt echoes and decoder loops
    on noise.

    Real speech here has ``no_speech_prob`` under 0.1; noise that came back as text
    measured 0.67-0.89 with log-probabilities just above -0.7 (pink noise on an AVX2
    machine: 作试试试试试试试试试试 at 0.886, -0.698).
    """
    if no_speech_prob > NO_SPEECH_THRESHOLD and (avg_logprob < -0.7 or is_loop(text)):
        return True
    return no_speech_prob > 0.4 and echoes_prompt(text, prompt)


def max_new_tokens(samples: int) -> int:
    """The most tokens a decode of ``samples`` (16 kHz) may produce."""
    return MAX_TOKENS_BASE + int(MAX_TOKENS_PER_S * samples / SAMPLE_RATE)


def window_frames(spec: EngineSpec, samples: int) -> int:
    """Feature frames of the window an utterance of ``samples`` is padded to: the first
    of min_window_s, min_window_s + 4 s, ... (at most window_s) that holds it with a
    second to spare, else Whisper's 30 s."""
    longest = min(WINDOW_S, max(MIN_WINDOW_S, spec.window_s))
    window = min(longest, max(MIN_WINDOW_S, spec.min_window_s))
    needed = samples / SAMPLE_RATE + WINDOW_MARGIN_S
    while window < needed and window < longest:
        window = min(longest, window + WINDOW_STEP_S)
    if needed > window:
        window = WINDOW_S
    return int(window * FRAMES_PER_S)


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


@dataclass(frozen=True)
class _Hypothesis:
    text: str
    avg_logprob: float
    no_speech_prob: float

    @property
    def loops(self) -> bool:
        return compression_ratio(self.text) > COMPRESSION_RATIO_THRESHOLD or is_loop(self.text)

    @property
    def needs_fallback(self) -> bool:
        """Where faster-whisper would try again at a higher temperature."""
        return self.loops or self.avg_logprob < LOG_PROB_THRESHOLD


class WhisperEngine:
    def __init__(self, spec: EngineSpec) -> None:
        import opencc
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        # Sampling (the fallback) draws from CTranslate2's generator, one per thread, seeded
        # once at its first use: the first fallback of a worker process repeats itself,
        # later ones depend on what was sampled before (set_random_seed has no effect on a
        # generator already seeded). Fallbacks are rare; their text may vary run to run.
        ctranslate2.set_random_seed(SAMPLING_SEED)
        self._model = WhisperModel(
            spec.model_path,
            device="cpu",
            compute_type=spec.compute_type,
            cpu_threads=spec.threads,
            num_workers=1,
        )
        self._spec = spec
        self._t2s = opencc.OpenCC("t2s")
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, True, task="transcribe", language=spec.language
        )
        self._prompts: dict[str, list[int]] = {}
        from faster_whisper.transcribe import get_suppressed_tokens

        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tokens = self._prompts.get(prompt)
        if tokens is None:
            previous = self._tokenizer.encode(" " + prompt.strip())
            # With timestamps, as faster-whisper's own transcribe: measured here, dropping
            # them costs about a point of CER on Mandarin.
            tokens = list(self._model.get_prompt(self._tokenizer, previous,
                                                 without_timestamps=False))
            if len(self._prompts) < 64:
                self._prompts[prompt] = tokens
        return tokens

    def decode(self, request: DecodeRequest) -> DecodeResult:
        return self.decode_batch([request])[0]

    def decode_batch(self, requests: list[DecodeRequest]) -> list[DecodeResult]:
        """Decode utterances (each at most 30 s) in one encoder and one decoder pass."""
        from faster_whisper.audio import pad_or_trim

        results: list[DecodeResult | None] = [None] * len(requests)
        # Utterances by window length (frames) and by the length of their prompt: one
        # encode per shape, and CTranslate2 decodes a batch together only when
        # <|startoftranscript|> is at the same place in every prompt (a name-biased and an
        # address-biased reading of the same utterance, or a request with the default
        # prompt beside one with a question's, raised ValueError for the whole batch).
        groups: dict[tuple[int, int], tuple[list[int], list[np.ndarray]]] = {}
        for i, req in enumerate(requests):
            audio = np.frombuffer(req.pcm, dtype="<i2").astype(np.float32)
            rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
            if audio.size < SAMPLE_RATE // 10 or rms < MIN_RMS:
                results[i] = DecodeResult("", 0.0)
                continue
            audio /= 32768.0
            if self._context_tokens(req):  # heard again before it, in the same window
                context = np.frombuffer(req.context_pcm, dtype="<i2").astype(np.float32)
                audio = np.concatenate([context / 32768.0, audio])
            if audio.size > WINDOW_S * SAMPLE_RATE:
                results[i] = self._decode_long(audio, req)
                continue
            # As faster-whisper: features of the samples only, zero-padded in the feature
            # domain to the window.
            frames = window_frames(self._spec, audio.size)
            feats = self._model.feature_extractor(audio)[..., :-1]
            shape = (frames, len(self._prompt_tokens(self._prompt_for(req))))
            batch, features = groups.setdefault(shape, ([], []))
            features.append(pad_or_trim(feats, frames))
            batch.append(i)
        for batch, features in groups.values():
            for i, result in zip(
                batch, self._generate(np.stack(features), [requests[i] for i in batch]),
                strict=True,
            ):
                results[i] = result
        return [r if r is not None else DecodeResult("", 0.0) for r in results]

    def _generate(
        self, features: np.ndarray, requests: list[DecodeRequest]
    ) -> list[DecodeResult]:
        """Beam search at temperature 0, then sampling for the utterances where
        faster-whisper would fall back."""
        encoder_output = self._model.encode(features)
        prompts = [self._prompt_tokens(self._prompt_for(r)) + self._context_tokens(r)
                   for r in requests]
        outputs = self._model.model.generate(
            encoder_output,
            prompts,
            beam_size=self._spec.beam_size,
            # More hypotheses do not change the best: the search runs until beam_size
            # of them have finished whatever num_hypotheses asks for.
            num_hypotheses=max(1, min(self._spec.nbest, self._spec.beam_size)),
            max_length=max(self._max_length(p, len(r.pcm) // 2)
                           for p, r in zip(prompts, requests, strict=True)),
            **self._generate_options(),
        )
        results: list[DecodeResult] = []
        rests: list[bytes] = []
        for i, (out, req) in enumerate(zip(outputs, requests, strict=True)):
            hyp = self._hypothesis(out, len(self._context_tokens(req)))
            rests.append(self._unheard(out.sequences_ids[0], req)
                         if hyp.text and not hyp.needs_fallback else b"")
            if is_non_speech(hyp.text, hyp.no_speech_prob, hyp.avg_logprob,
                             self._prompt_for(req)):
                results.append(DecodeResult("", 0.0))
            elif hyp.needs_fallback:
                # The rare unsure utterance: sampling at rising temperatures, as
                # faster-whisper does, on the encoder output already computed.
                one = encoder_output
                if len(requests) > 1:
                    one = ctranslate2.StorageView.from_array(
                        np.ascontiguousarray(np.asarray(encoder_output)[i : i + 1]))
                results.append(self._sample(one, prompts[i], req))
            else:
                best = self._result(hyp.text, hyp.avg_logprob, hyp.no_speech_prob)
                results.append(self._with_alternatives(
                    best, out, len(self._context_tokens(req))))
        return [self._go_on(result, req, rest)
                for result, req, rest in zip(results, requests, rests, strict=True)]

    def _with_alternatives(self, best: DecodeResult, out: Any, skip: int = 0) -> DecodeResult:
        """The beam's other hypotheses (n-best), simplified, without repeats, loops or
        subtitle phrases; ``skip``: tokens of a forced prefix to leave out."""
        if not best.text or len(out.sequences_ids) < 2:
            return best
        seen = {best.text}
        alternatives: list[str] = []
        for tokens in out.sequences_ids[1:]:
            text = self._t2s.convert(self._tokenizer.decode(tokens[skip:]).strip())
            if (not text or text in seen or is_loop(text)
                    or any(h in text for h in HALLUCINATIONS)):
                continue
            seen.add(text)
            alternatives.append(text)
        return dataclasses.replace(best, alternatives=tuple(alternatives))

    def _max_length(self, prompt: list[int], samples: int) -> int:
        """Prompt and output tokens of a decode of ``samples``, within Whisper's 448."""
        return min(int(self._model.max_length), len(prompt) + max_new_tokens(samples))

    def _generate_options(self) -> dict[str, Any]:
        return {
            "return_scores": True,
            "return_no_speech_prob": True,
            "suppress_blank": True,
            "suppress_tokens": self._suppress,
            "max_initial_timestamp_index": 50,  # 1 s, faster-whisper's default
        }

    def _context_tokens(self, request: DecodeRequest) -> list[int]:
        """The decoder's forced prefix for a request with context (``DecodeRequest.
        context_text``): the context's text as one timed segment, as Whisper would have
        written it in this window, then the timestamp where the utterance begins. Empty
        without context, or when context and utterance do not fit in one window."""
        samples = (len(request.context_pcm) + len(request.pcm)) // 2
        if not request.context_text or samples > WINDOW_S * SAMPLE_RATE:
            return []
        begin = self._tokenizer.timestamp_begin
        end = begin + min(int(WINDOW_S / 0.02), round(len(request.context_pcm) / 2
                                                       / SAMPLE_RATE / 0.02))
        return [begin, *self._tokenizer.encode(" " + request.context_text.strip()), end, end]

    def _unheard(self, tokens: list[int], request: DecodeRequest) -> bytes:
        """The end of the utterance the decode left out. A sequence that ends with a
        segment closed by two timestamps running stopped there, not at the end of the
        audio (a long utterance's decode stopped at 10 s of 18 s, where a pause let
        Whisper close its segment): faster-whisper's ``transcribe`` goes on from that
        timestamp in a new window, and so does the engine."""
        begin = self._tokenizer.timestamp_begin
        if len(tokens) < 2 or min(tokens[-2:]) < begin:
            return b""
        context_s = len(request.context_pcm) / 2 / SAMPLE_RATE if self._context_tokens(
            request) else 0.0
        cut = round(((tokens[-1] - begin) * 0.02 - context_s) * SAMPLE_RATE) * 2
        rest = request.pcm[max(0, cut):]
        return rest if cut > 0 and len(rest) >= MIN_REST_S * SAMPLE_RATE * 2 else b""

    def _go_on(self, result: DecodeResult, request: DecodeRequest, rest: bytes
               ) -> DecodeResult:
        """``result`` with the text of the rest of its audio (``_unheard``), if any."""
        if not rest or not result.text:
            return result
        more = self.decode(dataclasses.replace(request, pcm=rest, context_pcm=b"",
                                               context_text=""))
        if not more.text:
            return result
        text = result.text + more.text
        # n-best of the whole: each part's other readings with the other part as best read.
        alternatives = [a + more.text for a in result.alternatives]
        alternatives += [result.text + a for a in more.alternatives]
        return dataclasses.replace(result, text=text,
                                   confidence=min(result.confidence, more.confidence),
                                   alternatives=tuple(a for a in dict.fromkeys(alternatives)
                                                      if a != text))

    def _hypothesis(self, out: Any, skip: int = 0) -> _Hypothesis:
        """The best sequence, without the first ``skip`` tokens (a forced prefix)."""
        tokens = out.sequences_ids[0][skip:]
        avg_logprob = out.scores[0] * len(tokens) / (len(tokens) + 1)
        return _Hypothesis(self._tokenizer.decode(tokens).strip(), avg_logprob,
                           out.no_speech_prob)

    def _sample(self, encoder_output: Any, prompt: list[int],
                request: DecodeRequest) -> DecodeResult:
        """faster-whisper's temperature fallback for one utterance: the first sampled
        hypothesis that passes the checks, else the most probable one that does not loop."""
        max_length = self._max_length(prompt, len(request.pcm) // 2)
        tried: list[_Hypothesis] = []
        for temperature in FALLBACK_TEMPERATURES:
            out = self._model.model.generate(
                encoder_output, [prompt], beam_size=1, num_hypotheses=BEST_OF,
                sampling_topk=0, sampling_temperature=temperature, max_length=max_length,
                **self._generate_options(),
            )[0]
            hyp = self._hypothesis(out, len(self._context_tokens(request)))
            if is_non_speech(hyp.text, hyp.no_speech_prob, hyp.avg_logprob,
                             self._prompt_for(request)):
                return DecodeResult("", 0.0)
            if not hyp.needs_fallback:
                return self._result(hyp.text, hyp.avg_logprob, hyp.no_speech_prob)
            tried.append(hyp)
        fair = [h for h in tried if not h.loops] or tried
        best = max(fair, key=lambda h: h.avg_logprob)
        if best.loops:
            return DecodeResult("", 0.0)
        return self._result(best.text, best.avg_logprob, best.no_speech_prob)

    def _prompt_for(self, request: DecodeRequest) -> str:
        return request.prompt or self._spec.prompt or DEFAULT_PROMPT

    def _result(self, text: str, avg_logprob: float, no_speech_prob: float) -> DecodeResult:
        text = self._t2s.convert(text.strip())
        if not text or any(h in text for h in HALLUCINATIONS):
            return DecodeResult("", 0.0)
        confidence = float(np.exp(avg_logprob)) * (1.0 - no_speech_prob / 2)
        return DecodeResult(text, min(1.0, confidence), ())

    def _decode_long(self, audio: np.ndarray, request: DecodeRequest) -> DecodeResult:
        """An utterance longer than one window: faster-whisper's own sequential decoding."""
        prompt_tokens = self._prompt_tokens(self._prompt_for(request))
        window = int(WINDOW_S * SAMPLE_RATE)
        segments, _info = self._model.transcribe(
            audio,
            language=self._spec.language,
            beam_size=self._spec.beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            initial_prompt=self._prompt_for(request),
            temperature=[0.0, *FALLBACK_TEMPERATURES],
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            # Per 30 s window, and within Whisper's 448 tokens after the prompt.
            max_new_tokens=self._max_length(prompt_tokens, min(audio.size, window))
            - len(prompt_tokens),
        )
        texts: list[str] = []
        logprobs: list[float] = []
        no_speech: list[float] = []
        for seg in segments:
            if is_non_speech(seg.text, seg.no_speech_prob, seg.avg_logprob,
                             self._prompt_for(request)):
                continue
            texts.append(seg.text)
            logprobs.append(seg.avg_logprob)
            no_speech.append(seg.no_speech_prob)
        if not texts:
            return DecodeResult("", 0.0)
        return self._result("".join(texts), float(np.mean(logprobs)), float(np.mean(no_speech)))
