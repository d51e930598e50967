"""G.711 μ-law (PCMU) and A-law (PCMA) at 8 kHz, 16-bit little-endian linear PCM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from asr.g711 import audioop

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
FRAME_SAMPLES = 160  # 20 ms
FRAME_DURATION = FRAME_SAMPLES / SAMPLE_RATE
PCM_FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH


@dataclass(frozen=True, slots=True)
class G711Codec:
    """One G.711 law with its static RTP payload type (RFC 3551)."""

    name: str
    payload_type: int

    def encode(self, pcm: bytes) -> bytes:
        """Encode 16-bit PCM to one byte per sample."""
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"PCM length must be even, got {len(pcm)} bytes")
        if self.name == "PCMU":
            return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)
        return audioop.lin2alaw(pcm, SAMPLE_WIDTH)

    def decode(self, payload: bytes) -> bytes:
        """Decode G.711 bytes to 16-bit PCM (two bytes per input byte)."""
        if self.name == "PCMU":
            return audioop.ulaw2lin(payload, SAMPLE_WIDTH)
        return audioop.alaw2lin(payload, SAMPLE_WIDTH)

    def with_payload_type(self, payload_type: int) -> G711Codec:
        """The same law on another payload type (SDP may map G.711 to a dynamic one)."""
        if payload_type == self.payload_type:
            return self
        return G711Codec(self.name, payload_type)


PCMU_PAYLOAD_TYPE = 0
PCMA_PAYLOAD_TYPE = 8
PCMU = G711Codec("PCMU", PCMU_PAYLOAD_TYPE)
PCMA = G711Codec("PCMA", PCMA_PAYLOAD_TYPE)


def codec_for_payload_type(payload_type: int) -> G711Codec:
    """The G.711 codec for a static payload type (0 or 8)."""
    if payload_type == PCMU_PAYLOAD_TYPE:
        return PCMU
    if payload_type == PCMA_PAYLOAD_TYPE:
        return PCMA
    raise ValueError(f"not a G.711 payload type: {payload_type}")


def codec_for_name(name: str) -> G711Codec:
    """The G.711 codec for an SDP encoding name (``PCMU``/``PCMA``, any case)."""
    upper = name.upper()
    if upper == "PCMU":
        return PCMU
    if upper == "PCMA":
        return PCMA
    raise ValueError(f"not a G.711 encoding name: {name!r}")


def split_frames(pcm: bytes, frame_bytes: int = PCM_FRAME_BYTES) -> Iterator[bytes]:
    """Cut PCM into fixed-size frames, padding the last one with silence."""
    for start in range(0, len(pcm), frame_bytes):
        frame = pcm[start : start + frame_bytes]
        yield frame + bytes(frame_bytes - len(frame))
