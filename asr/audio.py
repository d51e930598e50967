"""Reading audio files into the pipeline's format: mono 16-bit PCM at a known rate.

WAV is parsed here directly (the stdlib ``wave`` module refuses G.711 and float WAVs, which
telephone systems write all the time). Other containers (MP3, M4A, OGG …) go through ffmpeg
via pydub when ffmpeg is installed. Anything unreadable raises :class:`AudioFormatError`
with a one-line reason.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from asr import g711

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioFormatError(ValueError):
    """The file is missing, empty, or not audio we can decode."""


@dataclass(frozen=True)
class PcmAudio:
    """Mono signed 16-bit little-endian PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate

    def resampled(self, rate: int) -> PcmAudio:
        if rate == self.sample_rate:
            return self
        samples = np.frombuffer(self.pcm, dtype=np.int16)
        out = soxr.resample(samples, self.sample_rate, rate, quality="HQ")
        return PcmAudio(np.asarray(out, dtype=np.int16).tobytes(), rate)


def load_audio(path: Path | str) -> PcmAudio:
    """Load a WAV (PCM 8/16/24/32, float, μ-law, A-law; any rate; mono or stereo) or,
    with ffmpeg present, any common audio file, as mono 16-bit PCM at its own rate."""
    path = Path(path)
    if not path.exists():
        raise AudioFormatError(f"{path}: no such file")
    if not path.is_file():
        raise AudioFormatError(f"{path}: not a file")
    data = path.read_bytes()
    if not data:
        raise AudioFormatError(f"{path}: file is empty")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return parse_wav(data, name=str(path))
    return _load_with_ffmpeg(path)


def parse_wav(data: bytes, name: str = "audio") -> PcmAudio:
    """Parse a RIFF/WAVE byte string."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(f"{name}: not a WAV file")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioFormatError(f"{name}: truncated fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFormatError(f"{name}: WAV has no fmt chunk")
    if payload is None:
        raise AudioFormatError(f"{name}: WAV has no data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1000:
        raise AudioFormatError(f"{name}: implausible WAV header ({channels} ch, {rate} Hz)")
    samples = _decode_samples(name, tag, bits, payload)
    if channels > 1:
        usable = len(samples) - len(samples) % channels
        samples = samples[:usable].reshape(-1, channels).mean(axis=1)
    if samples.size == 0:
        raise AudioFormatError(f"{name}: WAV holds no audio")
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
    return PcmAudio(pcm, rate)


def _decode_samples(name: str, tag: int, bits: int, payload: bytes) -> np.ndarray:
    """Samples as float64 scaled to the int16 range."""
    if tag == WAVE_FORMAT_MULAW:
        return np.frombuffer(g711.ulaw_to_pcm(payload), dtype="<i2").astype(np.float64)
    if tag == WAVE_FORMAT_ALAW:
        return np.frombuffer(g711.alaw_to_pcm(payload), dtype="<i2").astype(np.float64)
    if tag == WAVE_FORMAT_PCM:
        if bits == 8:
            return (np.frombuffer(payload, dtype=np.uint8).astype(np.float64) - 128) * 256
        if bits == 16:
            n = len(payload) // 2 * 2
            return np.frombuffer(payload[:n], dtype="<i2").astype(np.float64)
        if bits == 24:
            n = len(payload) // 3 * 3
            raw = np.frombuffer(payload[:n], dtype=np.uint8).reshape(-1, 3)
            as32 = (raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8)
                    | (raw[:, 2].astype(np.int32) << 16))
            as32 = np.where(as32 & 0x800000, as32 - 0x1000000, as32)
            return as32.astype(np.float64) / 256
        if bits == 32:
            n = len(payload) // 4 * 4
            return np.frombuffer(payload[:n], dtype="<i4").astype(np.float64) / 65536
    if tag == WAVE_FORMAT_IEEE_FLOAT and bits in (32, 64):
        dtype = "<f4" if bits == 32 else "<f8"
        width = bits // 8
        n = len(payload) // width * width
        return np.frombuffer(payload[:n], dtype=dtype).astype(np.float64) * 32767
    raise AudioFormatError(f"{name}: unsupported WAV encoding (format tag {tag}, {bits} bits)")


def _load_with_ffmpeg(path: Path) -> PcmAudio:
    if shutil.which("ffmpeg") is None:
        raise AudioFormatError(f"{path}: not a WAV file (install ffmpeg to read other formats)")
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    try:
        seg = AudioSegment.from_file(str(path))
    except (CouldntDecodeError, IndexError, OSError) as exc:
        raise AudioFormatError(f"{path}: not a readable audio file") from exc
    seg = seg.set_channels(1).set_sample_width(2)
    if len(seg.raw_data) == 0:
        raise AudioFormatError(f"{path}: file holds no audio")
    return PcmAudio(seg.raw_data, seg.frame_rate)
