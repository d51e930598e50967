from __future__ import annotations

import struct

import pytest

from voice_gateway.rtp.g711 import (
    PCM_FRAME_BYTES,
    PCMA,
    PCMU,
    G711Codec,
    codec_for_name,
    codec_for_payload_type,
    split_frames,
)


def test_silence_code_points() -> None:
    silence = bytes(PCM_FRAME_BYTES)
    assert PCMU.encode(silence) == b"\xff" * 160
    assert PCMA.encode(silence) == b"\xd5" * 160
    assert PCMU.decode(b"\xff" * 160) == silence
    # A-law has no zero: its quietest code point decodes to +8.
    assert PCMA.decode(b"\xd5" * 160) == b"\x08\x00" * 160


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_round_trip_is_close(codec: G711Codec) -> None:
    samples = [int(12000 * ((i % 40) - 20) / 20) for i in range(160)]
    pcm = struct.pack("<160h", *samples)
    encoded = codec.encode(pcm)
    assert len(encoded) == 160
    decoded = struct.unpack("<160h", codec.decode(encoded))
    for original, back in zip(samples, decoded, strict=True):
        assert abs(original - back) <= max(16, abs(original) // 16)
    # G.711 is idempotent after one pass.
    assert codec.encode(codec.decode(encoded)) == encoded


def test_odd_pcm_length_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^PCM length must be even, got 3 bytes$"):
        PCMU.encode(b"\x00\x00\x00")


def test_lookup() -> None:
    assert codec_for_payload_type(0) is PCMU
    assert codec_for_payload_type(8) is PCMA
    assert codec_for_name("pcma") is PCMA
    with pytest.raises(ValueError, match=r"^not a G\.711 payload type: 18$"):
        codec_for_payload_type(18)
    with pytest.raises(ValueError, match=r"^not a G\.711 encoding name: 'G729'$"):
        codec_for_name("G729")


def test_split_frames_pads_the_tail() -> None:
    frames = list(split_frames(b"\x01\x00" * 200))
    assert [len(f) for f in frames] == [320, 320]
    assert frames[1][:80] == b"\x01\x00" * 40
    assert frames[1][80:] == bytes(240)
    assert list(split_frames(b"")) == []


def test_a_dynamic_payload_type_keeps_its_law() -> None:
    # SDP may put G.711 on a dynamic payload type (a=rtpmap:97 PCMA/8000).
    alaw97 = codec_for_name("PCMA").with_payload_type(97)
    assert alaw97.payload_type == 97 and alaw97.name == "PCMA"
    pcm = struct.pack("<4h", 0, 1000, -1000, 32000)
    assert alaw97.encode(pcm) == PCMA.encode(pcm)
    assert alaw97.decode(b"\xd5\x55") == PCMA.decode(b"\xd5\x55")
    assert PCMU.with_payload_type(0) is PCMU
