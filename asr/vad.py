"""Endpointing: 16 kHz frames → utterances, with a four-state hysteresis.

States: QUIET (no speech), STARTING (speech-like frames seen, not yet enough), SPEAKING,
and STOPPING (non-speech frames after speech, not yet enough to end). Entering SPEAKING
emits :class:`SpeechStarted` (barge-in); leaving STOPPING for QUIET emits
:class:`Utterance` with its audio (a pre-roll before, so onsets are not clipped, and a
short tail after). An utterance longer than the maximum is split at the quietest point
of its last third, which in running speech is a pause between words, not mid-word.

A frame counts as speech (:class:`SpeechDetector`) when webrtcvad says so *and* it is
not a pure tone *and* it is either periodic (voiced speech has a pitch) or well above the
noise floor. That keeps the telephone's own sounds out: DTMF, dial, busy and ringback
tones are a few sharp spectral peaks; line hiss and hum fool webrtcvad at high levels but
are neither periodic nor above their own floor (the minimum frame energy of the last
1.5 s).

With ``emit_audio`` the endpointer also hands out the utterance audio as it goes
(:class:`SpeechAudio`), for streaming recognizers: from speech start on, pauses inside
speech are held back until speech resumes, and only the tail of the final pause is
released, so a recognizer is fed exactly the utterance audio and never the silence
between utterances. In that mode long speech is not split here (streaming engines close
segments themselves).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from asr.g711 import audioop
from config import VadSettings

SAMPLE_RATE = 16000
NOISE_WINDOW_S = 1.5
# Frame energy (mean square, int16 units) below which nothing is audible (about -70 dBFS).
SILENT_ENERGY = 10.0


class VadState(enum.Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``time`` (stream seconds, pre-roll excluded): barge-in."""

    time: float


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    pcm: bytes

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechAudio:
    """Utterance audio starting at ``start`` (only with ``emit_audio``)."""

    start: float
    pcm: bytes


@dataclass(frozen=True)
class EndCandidate:
    """Only with ``speculate``: the caller has paused for the tail time, and if the pause
    lasts until the end hangover this will be the utterance, audio and times exactly.
    A decoder may start on it now; :class:`EndRetracted` or a different
    :class:`Utterance` says it was not the end."""

    utterance: Utterance


@dataclass(frozen=True)
class EndRetracted:
    """The last :class:`EndCandidate` is void: speech resumed at ``time``."""

    time: float


VadEvent = SpeechStarted | Utterance | SpeechAudio | EndCandidate | EndRetracted


# Telephone signalling frequencies (Hz): DTMF rows and columns; dial, busy and ringback
# tones (China 450; North America 350+440, 440+480, 480+620; Europe 425).
TONE_HZ = np.array([697, 770, 852, 941, 1209, 1336, 1477, 1633, 350, 425, 440, 450, 480, 620])
_FFT_N = 2048


_WINDOWS: dict[int, np.ndarray] = {}


def _hann(size: int) -> np.ndarray:
    """The Hann window for a frame size, built once (it is most of a small frame's cost)."""
    window = _WINDOWS.get(size)
    if window is None:
        window = _WINDOWS[size] = np.hanning(size)
    return window


def _peaks(frame: np.ndarray) -> tuple[float, list[float]]:
    """Share of energy in the two strongest spectral peaks, and their frequencies."""
    x = frame.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * _hann(x.size), _FFT_N)) ** 2
    # Only the telephone band, where every signalling tone lies: a voice's fundamental
    # below 300 Hz can carry nearly all of a wideband recording's energy on its own.
    lo, hi = 300 * _FFT_N // SAMPLE_RATE, 3500 * _FFT_N // SAMPLE_RATE
    spectrum[:lo] = 0
    spectrum[hi:] = 0
    total = float(spectrum.sum())
    if total <= 1e-3:
        return 0.0, []
    half = int(np.ceil(2 * _FFT_N / x.size))  # the Hann window's main lobe, in bins
    share = 0.0
    freqs: list[float] = []
    work = spectrum  # not needed any more as it is: no copy
    for _ in range(2):
        i = int(work.argmax())
        share += float(work[max(0, i - half) : i + half + 1].sum())
        work[max(0, i - half) : i + half + 1] = 0
        freqs.append(i * SAMPLE_RATE / _FFT_N)
    return share / total, freqs


def is_tone(frame: np.ndarray) -> bool:
    """A pure tone: nearly all energy in one or two spectral lines, or most of it on
    telephone signalling frequencies (DTMF, dial, busy, ringback), which is how a tone
    still looks under line noise. A sung or held vowel has harmonics: not a tone."""
    share, freqs = _peaks(frame)
    if share > 0.97:
        return True
    if share < 0.75:
        return False
    return all(np.min(np.abs(TONE_HZ - f) / TONE_HZ) < 0.02 for f in freqs)


def periodicity(frame: np.ndarray) -> float:
    """Peak normalised autocorrelation at pitch lags (62–400 Hz): ~0.8+ for voiced
    speech, ~0.2 for hiss."""
    x = frame.astype(np.float64)
    x -= x.mean()
    n = x.size
    spectrum = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    if ac[0] <= 0:
        return 0.0
    lags = np.arange(SAMPLE_RATE // 400, min(n - 1, SAMPLE_RATE // 62))
    return float(np.max(ac[lags] / ac[0] * n / (n - lags)))


class SpeechDetector:
    """Per-frame speech decision: webrtcvad, tone rejection, periodicity, noise floor."""

    def __init__(self, settings: VadSettings) -> None:
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self._periodicity = settings.periodicity
        self._snr = 10 ** (settings.noise_snr_db / 10)
        window = max(1, int(NOISE_WINDOW_S * 1000 // settings.frame_ms))
        self._energies: deque[float] = deque(maxlen=window)
        self._frames = 0

    def __call__(self, frame: bytes, in_speech: bool = False) -> tuple[bool, float]:
        """(is speech, frame energy). Inside speech the bar is lower (hysteresis): weak
        syllable endings must not end an utterance, but noise alone never starts one."""
        samples = np.frombuffer(frame, dtype="<i2")
        energy = float(audioop.rms(frame, 2)) ** 2  # mean square, in C
        floor = min(self._energies) if self._energies else SILENT_ENERGY
        self._energies.append(energy)
        self._frames += 1
        if energy < SILENT_ENERGY or not self._vad.is_speech(frame, SAMPLE_RATE):
            return False, energy
        # The spectral tone test is the costliest step. Outside speech it runs on every
        # voiced frame (a tone must never start an utterance); inside speech on every third,
        # which still ends an utterance on a held tone: tones last many frames.
        if (not in_speech or self._frames % 3 == 0) and is_tone(samples):
            return False, energy
        snr = np.sqrt(self._snr) if in_speech else self._snr
        if energy > max(floor, SILENT_ENERGY) * snr:
            return True, energy
        bar = self._periodicity - (0.1 if in_speech else 0.0)
        return periodicity(samples) >= bar, energy


class Endpointer:
    """Push 16 kHz mono PCM; get speech-start and utterance events with stream times."""

    def __init__(self, settings: VadSettings, *, emit_audio: bool = False,
                 speculate: bool = False) -> None:
        if settings.frame_ms not in (10, 20, 30):
            raise ValueError("vad.frame_ms must be 10, 20 or 30")
        self.settings = settings
        self._detect = SpeechDetector(settings)
        self._emit_audio = emit_audio
        self._speculate = speculate and not emit_audio
        self._frame_bytes = SAMPLE_RATE * settings.frame_ms // 1000 * 2
        self._frame_s = settings.frame_ms / 1000
        self._start_frames = max(1, settings.start_ms // settings.frame_ms)
        self._end_frames = max(1, settings.end_ms // settings.frame_ms)
        self._min_frames = max(1, settings.min_speech_ms // settings.frame_ms)
        self._max_frames = int(settings.max_utterance_s * 1000 // settings.frame_ms)
        self._tail_frames = max(0, settings.tail_ms // settings.frame_ms)
        pre_roll = max(1, settings.pre_roll_ms // settings.frame_ms)
        self._pre_roll: deque[bytes] = deque(maxlen=pre_roll)
        self._pending = b""
        self.state = VadState.QUIET
        self._frames_seen = 0
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self._utt: list[bytes] = []
        self._energy: list[float] = []
        self._utt_start_frame = 0
        self._speech_start_frame = 0
        self._voiced = 0
        self._unvoiced_run = 0
        self._released = 0  # frames of _utt handed out as SpeechAudio
        self._candidate = False  # an EndCandidate is out for the current pause

    @property
    def time(self) -> float:
        """Stream time of the end of the last complete frame."""
        return self._frames_seen * self._frame_s

    def push(self, pcm: bytes) -> list[VadEvent]:
        self._pending += pcm
        events: list[VadEvent] = []
        fb = self._frame_bytes
        whole = len(self._pending) // fb * fb
        chunk, self._pending = self._pending[:whole], self._pending[whole:]
        for i in range(0, whole, fb):
            events.extend(self._frame(chunk[i : i + fb]))
        return events

    def flush(self) -> list[VadEvent]:
        """End any utterance in progress now (end of call, or an explicit cut)."""
        events: list[VadEvent] = []
        if self.state in (VadState.SPEAKING, VadState.STOPPING):
            keep = len(self._utt) - self._unvoiced_run + min(self._unvoiced_run,
                                                              self._tail_frames)
            events.extend(self._emit(keep))
        self.state = VadState.QUIET
        self._reset_utterance()
        return events

    def _frame(self, frame: bytes) -> list[VadEvent]:
        voiced, energy = self._detect(
            frame, in_speech=self.state in (VadState.SPEAKING, VadState.STOPPING))
        index = self._frames_seen
        self._frames_seen += 1
        events: list[VadEvent] = []
        st = self.state
        if st is VadState.QUIET:
            if not voiced:
                self._pre_roll.append(frame)
                return events
            self._utt = list(self._pre_roll)
            self._energy = [0.0] * len(self._utt)
            self._utt_start_frame = index - len(self._utt)
            self._speech_start_frame = index
            self._voiced = 1
            self._unvoiced_run = 0
            self.state = VadState.STARTING
        elif st is VadState.STARTING:
            if voiced:
                self._voiced += 1
                self._unvoiced_run = 0
            else:
                self._unvoiced_run += 1
                if self._unvoiced_run > 2:
                    # A click or a cough: back to quiet, keeping the audio as pre-roll.
                    self._pre_roll.extend([*self._utt, frame])
                    self.state = VadState.QUIET
                    self._reset_utterance()
                    return events
        elif voiced:
            self._voiced += 1
            self._unvoiced_run = 0
            self.state = VadState.SPEAKING
            if self._candidate:
                self._candidate = False
                events.append(EndRetracted(index * self._frame_s))
        else:
            self._unvoiced_run += 1
            self.state = VadState.STOPPING
        self._utt.append(frame)
        self._energy.append(energy)
        if self.state is VadState.STARTING and self._voiced >= self._start_frames:
            self.state = VadState.SPEAKING
            events.append(SpeechStarted(self._speech_start_frame * self._frame_s))
        if self.state is VadState.STOPPING and self._unvoiced_run >= self._end_frames:
            keep = len(self._utt) - self._unvoiced_run + min(self._unvoiced_run,
                                                              self._tail_frames)
            events.extend(self._emit(keep))
            self.state = VadState.QUIET
            self._pre_roll.clear()
            self._reset_utterance()
        elif self._emit_audio:
            if self.state is VadState.SPEAKING:
                events.extend(self._release(len(self._utt)))
        elif self.state is not VadState.STARTING and len(self._utt) >= self._max_frames:
            self._candidate = False  # the split's utterance differs: the stream sees it
            events.extend(self._split())
        elif (self._speculate and self.state is VadState.STOPPING
              and self._unvoiced_run == self._tail_frames and self._voiced >= self._min_frames):
            # The audio an endpoint now would keep is complete: everything up to here.
            start = self._utt_start_frame * self._frame_s
            self._candidate = True
            events.append(EndCandidate(Utterance(start, start + len(self._utt) * self._frame_s,
                                                 b"".join(self._utt))))
        return events

    def _release(self, upto: int) -> list[VadEvent]:
        """Hand out utterance frames [released, upto) as one SpeechAudio."""
        if upto <= self._released:
            return []
        start = (self._utt_start_frame + self._released) * self._frame_s
        pcm = b"".join(self._utt[self._released : upto])
        self._released = upto
        return [SpeechAudio(start, pcm)]

    def _emit(self, keep: int) -> list[VadEvent]:
        if self._voiced < self._min_frames:
            return []
        events: list[VadEvent] = []
        if self._emit_audio:
            events.extend(self._release(keep))
        pcm = b"".join(self._utt[:keep])
        start = self._utt_start_frame * self._frame_s
        events.append(Utterance(start, start + keep * self._frame_s, pcm))
        return events

    def _split(self) -> list[VadEvent]:
        """Cut an over-long utterance at the quietest point of its last third."""
        n = len(self._utt)
        lo = n * 2 // 3
        # Smoothed over 150 ms, so the cut lands in a pause, not a dip inside a syllable.
        window = np.convolve(np.array(self._energy[lo:]), np.ones(5) / 5, mode="same")
        cut = lo + int(window.argmin()) + 1
        events = self._emit(cut)
        rest, rest_energy = self._utt[cut:], self._energy[cut:]
        start_frame = self._utt_start_frame + cut
        self._reset_utterance()
        self._utt, self._energy = rest, rest_energy
        self._utt_start_frame = start_frame
        self._voiced = self._min_frames  # the rest continues speech already detected
        return events
