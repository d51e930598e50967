from __future__ import annotations

import pytest

from voice_gateway.rtp.packet import RtpPacket, is_rtcp

# First packet of sipp's g711a.pcap (PCMA, 30 ms), header and start of payload.
G711A_HEADER = bytes.fromhex("8088e6fd000000f0dee0ee8f")
# First packet of sipp's dtmf_2833_1.pcap: marker, PT 101, event 1.
DTMF_START = bytes.fromhex("80e51f30000033e00e05384e010a0000")
# RTCP receiver report (PT 201) with one report block.
RTCP_RR = bytes.fromhex("81c900070e05384edee0ee8f000000000000e6fd000000140000000000000000")


def test_parse_captured_pcma_packet() -> None:
    payload = bytes([0xD5]) * 240
    packet = RtpPacket.parse(G711A_HEADER + payload)
    assert packet.payload_type == 8
    assert packet.sequence_number == 59133
    assert packet.timestamp == 240
    assert packet.ssrc == 0xDEE0EE8F
    assert packet.marker is True
    assert packet.payload == payload
    assert packet.csrc == ()
    assert packet.extension_profile is None
    assert packet.serialize() == G711A_HEADER + payload


def test_parse_captured_telephone_event() -> None:
    packet = RtpPacket.parse(DTMF_START)
    assert (packet.payload_type, packet.marker) == (101, True)
    assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (7984, 13280, 0x0E05384E)
    assert packet.payload == bytes.fromhex("010a0000")
    assert packet.serialize() == DTMF_START


def test_csrc_extension_and_padding_round_trip() -> None:
    packet = RtpPacket(
        payload_type=0,
        sequence_number=65535,
        timestamp=0xFFFFFFFF,
        ssrc=0x12345678,
        payload=b"\xff" * 160,
        marker=False,
        csrc=(1, 2, 3),
        extension_profile=0xBEDE,
        extension=b"\x10\xaa\x00\x00",
        padding=4,
    )
    wire = packet.serialize()
    assert wire[0] == 0b1011_0011  # V=2, P, X, CC=3
    assert len(wire) == 12 + 12 + 4 + 4 + 160 + 4
    assert wire[-4:] == b"\x00\x00\x00\x04"
    assert RtpPacket.parse(wire) == packet


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet too short: 0 bytes (minimum 12)"),
        (DTMF_START[:11], "RTP packet too short: 11 bytes (minimum 12)"),
        (b"\x40" + DTMF_START[1:], "RTP version must be 2, got 1"),
        (b"\x00" * 12, "RTP version must be 2, got 0"),
        (b"\x82" + DTMF_START[1:], "RTP packet too short for 2 CSRCs"),
        (b"\x90" + DTMF_START[1:12], "RTP header extension truncated"),
        (
            b"\x90" + DTMF_START[1:12] + b"\xbe\xde\x00\x02\x00\x00\x00\x00",
            "RTP header extension truncated",
        ),
        (b"\xa0" + DTMF_START[1:15] + b"\x00", "RTP padding count is zero"),
        (b"\xa0" + DTMF_START[1:15] + b"\x09", "RTP padding count 9 exceeds payload"),
    ],
)
def test_garbage_raises_exact_message(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtpPacket(128, 0, 0, 0), "RTP payload type out of range: 128"),
        (RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))), "RTP CSRC list too long: 16 (maximum 15)"),
        (
            RtpPacket(0, 0, 0, 0, extension_profile=1, extension=b"abc"),
            "RTP header extension length must be a multiple of 4",
        ),
        (RtpPacket(0, 0, 0, 0, padding=256), "RTP padding out of range: 256"),
    ],
)
def test_serialize_rejects_out_of_range(packet: RtpPacket, message: str) -> None:
    with pytest.raises(ValueError) as info:
        packet.serialize()
    assert str(info.value) == message


def test_rtcp_is_recognised() -> None:
    assert is_rtcp(RTCP_RR)
    for pt in range(200, 205):
        assert is_rtcp(bytes([0x80, pt]) + bytes(6))
    assert not is_rtcp(DTMF_START)
    assert not is_rtcp(G711A_HEADER)
    assert not is_rtcp(b"\x81\xc9")  # shorter than any RTCP packet
