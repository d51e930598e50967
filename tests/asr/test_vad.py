"""Endpointing: telephone sounds give no utterance, speech gives the right ones."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from asr.vad import (
    EndCandidate,
    Endpointer,
    EndRetracted,
    SpeechAudio,
    SpeechStarted,
    Utterance,
    VadEvent,
    VadState,
    is_tone,
    periodicity,
)
from config import VadSettings
from tests.asr import signals as sig

SPEECH = ["BAC009S0150W0154.wav", "BAC009S0252W0123.wav", "telsim_BAC009S0150W0164.wav"]


def run(x: np.ndarray, settings: VadSettings | None = None, **kw: bool) -> list[VadEvent]:
    ep = Endpointer(settings or VadSettings(), **kw)
    events: list[VadEvent] = []
    for frame in sig.frames(sig.pcm(x)):
        events.extend(ep.push(frame))
    return events + ep.flush()


def utterances(events: list[VadEvent]) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance)]


NOT_SPEECH = {
    "silence": lambda: sig.silence(5),
    "dtmf sequence": lambda: sig.dtmf("13800138000#"),
    "slow dtmf": lambda: sig.dtmf("2580", on=0.5, off=0.2),
    "dial tone": lambda: sig.dial_tone(4),
    "us dial tone": lambda: sig.tone((350, 440), 4),
    "busy tone": lambda: sig.busy_tone(),
    "white noise -40 dBFS": lambda: sig.white_noise(5, 300),
    "white noise -20 dBFS": lambda: sig.white_noise(5, 3000),
    "pink noise -30 dBFS": lambda: sig.pink_noise(5, 1000),
    "pink noise -20 dBFS": lambda: sig.pink_noise(5, 3000),
    "dtmf over line noise": lambda: sig.dtmf("123456789") + sig.white_noise(1.53, 200)[:1530 * 16],
}


@pytest.mark.parametrize("name", list(NOT_SPEECH))
@pytest.mark.parametrize("aggressiveness", [1, 2, 3])
def test_telephone_sounds_are_not_speech(name: str, aggressiveness: int) -> None:
    x = NOT_SPEECH[name]()
    events = run(x, VadSettings(aggressiveness=aggressiveness))
    assert events == []


def test_tone_and_periodicity_detectors() -> None:
    assert is_tone(sig.tone((697, 1209), 0.03).astype(np.int16))
    assert not is_tone(sig.white_noise(0.03, 1000).astype(np.int16))
    assert periodicity(sig.white_noise(0.03, 1000)) < 0.4
    assert periodicity(sig.tone((200,), 0.03)) > 0.9


def test_one_recording_is_one_utterance_with_a_speech_start_first() -> None:
    x = np.concatenate([sig.silence(1), sig.speech(SPEECH[0]), sig.silence(1.5)])
    events = run(x)
    assert [type(e) for e in events] == [SpeechStarted, Utterance]
    started, utt = events
    assert isinstance(started, SpeechStarted) and isinstance(utt, Utterance)
    assert utt.start <= started.time < utt.end
    # The recording has its own quiet before the first word, after our 1 s of silence.
    assert 1.0 <= started.time <= 2.6
    assert len(utt.pcm) == round(utt.duration * sig.SR) * 2


def test_speech_separated_by_pauses_gives_one_utterance_each() -> None:
    parts: list[np.ndarray] = [sig.silence(0.5)]
    for name in SPEECH:
        parts += [sig.speech(name), sig.silence(1.5)]
    events = run(np.concatenate(parts))
    assert len(utterances(events)) == 3
    assert sum(isinstance(e, SpeechStarted) for e in events) == 3
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, Utterance] * 3  # a start always precedes its utterance


def test_speech_in_line_noise_is_still_found() -> None:
    parts = [sig.silence(0.5), sig.speech(SPEECH[0]), sig.silence(1.5),
             sig.speech(SPEECH[1]), sig.silence(1.5)]
    x = np.concatenate(parts)
    x = x + sig.white_noise(x.size / sig.SR, 100)[: x.size]
    assert len(utterances(run(x))) == 2


def test_tones_between_utterances_add_nothing() -> None:
    x = np.concatenate([sig.speech(SPEECH[0]), sig.silence(1), sig.dtmf("5#"), sig.silence(1),
                        sig.speech(SPEECH[1]), sig.silence(1)])
    assert len(utterances(run(x))) == 2


def test_long_speech_is_split_in_a_pause_not_mid_word() -> None:
    # Three sentences joined by short pauses, with a 2 s end hangover: only the
    # maximum length splits them, and the cut must land in one of the pauses.
    gap = 0.35
    parts: list[np.ndarray] = []
    for name in ["BAC009S0252W0203.wav", "BAC009S0252W0229.wav", "BAC009S0150W0385.wav"]:
        s = sig.speech(name)
        parts += [s, sig.silence(gap)]
    x = np.concatenate(parts)
    settings = VadSettings(max_utterance_s=8.0, end_ms=2000)
    utts = utterances(run(x, settings))
    assert len(utts) >= 3
    # Loudness of every 100 ms of the signal; a cut must sit in the quietest quarter.
    windows = x[: x.size // 1600 * 1600].reshape(-1, 1600)
    profile = np.sqrt(np.mean(windows**2, axis=1))
    quiet = float(np.percentile(profile, 25))
    for cut in (u.end for u in utts[:-1]):
        i = int(cut * sig.SR)
        around = x[max(0, i - 800) : i + 800]
        assert float(np.sqrt(np.mean(around**2))) <= quiet, cut
    for u in utts:
        assert u.duration <= settings.max_utterance_s + 0.05
    # Pieces of one split utterance abut: nothing lost, nothing doubled.
    assert any(abs(b.start - a.end) < 1e-6 for a, b in itertools.pairwise(utts))


def test_short_click_is_not_an_utterance() -> None:
    click = sig.speech(SPEECH[0])[16000:16000 + 1600]  # 0.1 s of speech
    assert utterances(run(np.concatenate([sig.silence(1), click, sig.silence(1)]))) == []


def test_flush_ends_the_utterance_in_progress() -> None:
    ep = Endpointer(VadSettings())
    x = np.concatenate([sig.silence(0.3), sig.speech(SPEECH[0])[: 3 * sig.SR]])
    events: list[VadEvent] = []
    for frame in sig.frames(sig.pcm(x)):
        events.extend(ep.push(frame))
    assert ep.state in (VadState.SPEAKING, VadState.STOPPING)
    assert utterances(events) == []
    assert len(utterances(ep.flush())) == 1
    assert ep.state is VadState.QUIET


def test_emitted_audio_is_exactly_the_utterance_audio() -> None:
    x = np.concatenate([sig.silence(1), sig.speech(SPEECH[0]), sig.silence(2),
                        sig.speech(SPEECH[1]), sig.silence(2)])
    events = run(x, emit_audio=True)
    utts = utterances(events)
    assert len(utts) == 2
    for utt in utts:
        audio = [e for e in events if isinstance(e, SpeechAudio)
                 and utt.start - 1e-6 <= e.start < utt.end - 1e-6]
        assert b"".join(a.pcm for a in audio) == utt.pcm
    # Silence between utterances is never handed out.
    fed = sum(len(e.pcm) for e in events if isinstance(e, SpeechAudio))
    assert fed == sum(len(u.pcm) for u in utts) < len(sig.pcm(x))


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="frame_ms"):
        Endpointer(dataclasses.replace(VadSettings(), frame_ms=25))


def timed(x: np.ndarray, **kw: bool) -> list[tuple[float, VadEvent]]:
    """Events with the stream time at which each came out."""
    ep = Endpointer(VadSettings(), **kw)
    out: list[tuple[float, VadEvent]] = []
    for frame in sig.frames(sig.pcm(x)):
        out.extend((ep.time, e) for e in ep.push(frame))
    return out + [(ep.time, e) for e in ep.flush()]


def test_a_pause_gives_an_end_candidate_that_the_endpoint_then_confirms_exactly() -> None:
    s = VadSettings()
    # A 0.5 s pause is longer than the tail (0.3 s) but shorter than the hangover (0.7 s).
    x = np.concatenate([sig.silence(0.5), sig.trimmed(sig.speech(SPEECH[0])),
                        sig.silence(0.5), sig.trimmed(sig.speech(SPEECH[1])), sig.silence(1.5)])
    events = timed(x, speculate=True)
    plain = run(x)
    # Speculation changes nothing about the utterances themselves.
    assert utterances([e for _t, e in events]) == utterances(plain)
    assert len(utterances(plain)) == 1  # the short pause did not end it
    outstanding: EndCandidate | None = None
    retracted = 0
    for t, e in events:
        if isinstance(e, EndCandidate):
            assert outstanding is None
            outstanding = e
            # It comes tail_ms after the last voiced frame, i.e. at its own end.
            assert t == pytest.approx(e.utterance.end)
        elif isinstance(e, EndRetracted):
            assert outstanding is not None and e.time >= outstanding.utterance.end
            outstanding, retracted = None, retracted + 1
        elif isinstance(e, Utterance):
            # The endpoint keeps exactly the candidate's audio, end_ms - tail_ms later.
            assert outstanding is not None and outstanding.utterance == e
            hangover = (s.end_ms // s.frame_ms - s.tail_ms // s.frame_ms) * s.frame_ms
            assert t == pytest.approx(e.end + hangover / 1000)
            outstanding = None
    assert retracted >= 1  # at least the 0.5 s pause
    assert not any(isinstance(e, EndCandidate | EndRetracted) for e in plain)


def test_no_candidate_when_the_tail_is_as_long_as_the_hangover() -> None:
    x = np.concatenate([sig.silence(0.5), sig.speech(SPEECH[0]), sig.silence(1.5)])
    ep = Endpointer(VadSettings(tail_ms=700, end_ms=700), speculate=True)
    events = [e for f in sig.frames(sig.pcm(x)) for e in ep.push(f)] + ep.flush()
    assert not any(isinstance(e, EndCandidate) for e in events)
    assert len(utterances(events)) == 1
