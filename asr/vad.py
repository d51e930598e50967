"""Endpointing: webrtcvad frames → utterances, with a four-state hysteresis.

States: QUIET (no speech), STARTING (voiced frames seen, not yet enough), SPEAKING, and
STOPPING (unvoiced frames after speech, not yet enough to end). Entering SPEAKING emits
:class:`SpeechStarted` (barge-in); leaving STOPPING for QUIET emits :class:`Utterance`
with its audio (plus a pre-roll, so onsets are not clipped). An utterance longer than the
maximum is split at its quietest frame in the last third, not mid-word.

Pure tones (DTMF, dial and busy tones) fool webrtcvad; a frame whose spectrum is a few
sharp peaks is counted as unvoiced whatever webrtcvad says.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from config import VadSettings

SAMPLE_RATE = 16000


class VadState(enum.Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True)
class SpeechStarted:
    time: float


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    pcm: bytes

    @property
    def duration(self) -> float:
        return self.end - self.start


VadEvent = SpeechStarted | Utterance


def is_tone(frame: np.ndarray) -> bool:
    """True when nearly all the frame's energy sits in a few narrow spectral peaks."""
    x = frame.astype(np.float32)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    total = float(spectrum.sum())
    if total <= 1e-3:
        return False
    peaks = 0.0
    work = spectrum.copy()
    for _ in range(2):
        i = int(work.argmax())
        lo, hi = max(0, i - 2), i + 3
        peaks += float(work[lo:hi].sum())
        work[lo:hi] = 0
    return peaks / total > 0.85


class Endpointer:
    """Push 16 kHz mono PCM; get speech-start and utterance events with stream times."""

    def __init__(self, settings: VadSettings) -> None:
        if settings.frame_ms not in (10, 20, 30):
            raise ValueError("vad.frame_ms must be 10, 20 or 30")
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self.settings = settings
        self._frame_bytes = SAMPLE_RATE * settings.frame_ms // 1000 * 2
        self._frame_s = settings.frame_ms / 1000
        self._start_frames = max(1, settings.start_ms // settings.frame_ms)
        self._end_frames = max(1, settings.end_ms // settings.frame_ms)
        self._min_frames = max(1, settings.min_speech_ms // settings.frame_ms)
        self._max_frames = int(settings.max_utterance_s * 1000 // settings.frame_ms)
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
        self._voiced = 0
        self._unvoiced_run = 0

    @property
    def time(self) -> float:
        return self._frames_seen * self._frame_s

    def push(self, pcm: bytes) -> list[VadEvent]:
        self._pending += pcm
        events: list[VadEvent] = []
        fb = self._frame_bytes
        while len(self._pending) >= fb:
            frame, self._pending = self._pending[:fb], self._pending[fb:]
            events.extend(self._frame(frame))
        return events

    def flush(self) -> list[VadEvent]:
        """End any utterance in progress now (end of call, or an explicit cut)."""
        events: list[VadEvent] = []
        if self.state in (VadState.SPEAKING, VadState.STOPPING):
            events.extend(self._emit(len(self._utt)))
        self.state = VadState.QUIET
        self._reset_utterance()
        return events

    def _is_speech(self, frame: bytes) -> tuple[bool, float]:
        samples = np.frombuffer(frame, dtype="<i2")
        energy = float(np.mean(samples.astype(np.float32) ** 2))
        if energy < 1.0:
            return False, energy
        voiced = self._vad.is_speech(frame, SAMPLE_RATE)
        return voiced and not is_tone(samples), energy

    def _frame(self, frame: bytes) -> list[VadEvent]:
        voiced, energy = self._is_speech(frame)
        index = self._frames_seen
        self._frames_seen += 1
        events: list[VadEvent] = []
        st = self.state
        if st is VadState.QUIET:
            if voiced:
                self._utt = list(self._pre_roll)
                self._energy = [0.0] * len(self._utt)
                self._utt_start_frame = index - len(self._utt)
                self._voiced = 1
                self._unvoiced_run = 0
                self.state = VadState.STARTING
            else:
                self._pre_roll.append(frame)
                return events
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
        else:
            if voiced:
                self._voiced += 1
                self._unvoiced_run = 0
                self.state = VadState.SPEAKING
            else:
                self._unvoiced_run += 1
                self.state = VadState.STOPPING
        self._utt.append(frame)
        self._energy.append(energy)
        if self.state is VadState.STARTING and self._voiced >= self._start_frames:
            self.state = VadState.SPEAKING
            events.append(SpeechStarted(self._utt_start_frame * self._frame_s))
        if self.state is VadState.STOPPING and self._unvoiced_run >= self._end_frames:
            # Keep a short tail of the silence: endings of Mandarin syllables are soft.
            keep = len(self._utt) - self._unvoiced_run + min(self._unvoiced_run, 10)
            events.extend(self._emit(keep))
            self.state = VadState.QUIET
            self._pre_roll.clear()
            self._reset_utterance()
        elif len(self._utt) >= self._max_frames and self.state in (
            VadState.SPEAKING, VadState.STOPPING
        ):
            events.extend(self._split())
        return events

    def _emit(self, keep: int) -> list[VadEvent]:
        if self._voiced < self._min_frames:
            return []
        pcm = b"".join(self._utt[:keep])
        start = self._utt_start_frame * self._frame_s
        return [Utterance(start, start + keep * self._frame_s, pcm)]

    def _split(self) -> list[VadEvent]:
        """Cut an over-long utterance at the quietest frame of its last third."""
        n = len(self._utt)
        lo = n * 2 // 3
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
