from __future__ import annotations

from pathlib import Path

import pytest

from tests.rtp.support import SIPP_PCAPS, read_pcap_udp
from voice_gateway.rtp.dtmf import DtmfDetector, TelephoneEvent
from voice_gateway.rtp.packet import RtpPacket

CAPTURES = {
    **{f"dtmf_2833_{d}.pcap": d for d in "0123456789"},
    "dtmf_2833_star.pcap": "*",
    "dtmf_2833_pound.pcap": "#",
}
needs_sipp = pytest.mark.skipif(
    not (SIPP_PCAPS / "dtmf_2833_0.pcap").exists(),
    reason="sipp captures missing: apt-get install sip-tester",
)


def capture(name: str) -> list[RtpPacket]:
    return [RtpPacket.parse(d.payload) for d in read_pcap_udp(SIPP_PCAPS / name)]


def detect(detector: DtmfDetector, packets: list[RtpPacket]) -> str:
    digits = [detector.feed(p) for p in packets]
    return "".join(d.digit for d in digits if d is not None)


@pytest.mark.parametrize(
    ("data", "event"),
    [
        (bytes.fromhex("010a0000"), TelephoneEvent(1, end=False, volume=10, duration=0)),
        (bytes.fromhex("018a08c0"), TelephoneEvent(1, end=True, volume=10, duration=2240)),
        (bytes.fromhex("0b3fffff"), TelephoneEvent(11, end=False, volume=63, duration=65535)),
    ],
)
def test_payload_round_trip(data: bytes, event: TelephoneEvent) -> None:
    assert TelephoneEvent.parse(data) == event
    assert event.serialize() == data


def test_reserved_bit_is_ignored_and_extra_bytes_too() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("05ca0140ffff")) == TelephoneEvent(5, True, 10, 320)


def test_payload_errors() -> None:
    too_short = r"^telephone-event payload too short: 3 bytes \(minimum 4\)$"
    with pytest.raises(ValueError, match=too_short):
        TelephoneEvent.parse(b"\x01\x0a\x00")
    with pytest.raises(ValueError, match=r"^telephone-event volume out of range: 64$"):
        TelephoneEvent(1, volume=64).serialize()
    with pytest.raises(ValueError, match=r"^telephone-event duration out of range: 65536$"):
        TelephoneEvent(1, duration=65536).serialize()
    with pytest.raises(ValueError, match=r"^not a DTMF digit: 'E'$"):
        TelephoneEvent.for_digit("E")


def test_digits() -> None:
    assert [TelephoneEvent(code).digit for code in range(17)] == [*"0123456789*#ABCD", None]
    assert TelephoneEvent.for_digit("#").event == 11
    assert TelephoneEvent.for_digit("d").event == 15


@needs_sipp
@pytest.mark.parametrize(("name", "digit"), sorted(CAPTURES.items()))
def test_sipp_capture_gives_one_digit(name: str, digit: str) -> None:
    packets = capture(name)
    assert sum(p.payload[1] >> 7 for p in packets) == 3  # three redundant end packets
    assert detect(DtmfDetector(), packets) == digit


@needs_sipp
def test_lost_start_and_lost_end_packets() -> None:
    packets = capture("dtmf_2833_7.pcap")
    assert detect(DtmfDetector(), packets[1:]) == "7"  # start (marker) packet lost
    assert detect(DtmfDetector(), packets[:-3]) == "7"  # all end packets lost
    assert detect(DtmfDetector(), packets[-1:]) == "7"  # only one end packet survived
    assert detect(DtmfDetector(), packets[::-1]) == "7"  # fully reversed


@needs_sipp
def test_a_whole_number_typed_in_sequence() -> None:
    number = "13800138000#"
    stream: list[RtpPacket] = []
    for i, digit in enumerate(number):
        name = {"#": "dtmf_2833_pound.pcap", "*": "dtmf_2833_star.pcap"}.get(
            digit, f"dtmf_2833_{digit}.pcap"
        )
        # Each press gets its own start timestamp, as a phone would give it.
        stream += [
            RtpPacket(p.payload_type, p.sequence_number, 8000 * i, p.ssrc, p.payload, p.marker)
            for p in capture(name)
        ]
    assert detect(DtmfDetector(), stream) == number


@needs_sipp
def test_late_stragglers_of_an_earlier_event_are_ignored() -> None:
    first = capture("dtmf_2833_4.pcap")
    second = [
        RtpPacket(p.payload_type, p.sequence_number + 20, p.timestamp + 8000, p.ssrc, p.payload)
        for p in capture("dtmf_2833_5.pcap")
    ]
    stream = first[:-2] + second[:3] + first[-2:] + second[3:]
    assert detect(DtmfDetector(), stream) == "45"


def test_non_dtmf_events_are_not_digits() -> None:
    flash = RtpPacket(101, 1, 160, 7, TelephoneEvent(16).serialize())
    assert DtmfDetector().feed(flash) is None


def test_capture_files_parse_as_expected() -> None:
    if not SIPP_PCAPS.exists():
        pytest.skip("sip-tester not installed")
    datagrams = read_pcap_udp(Path(SIPP_PCAPS / "g711a.pcap"))
    assert len(datagrams) == 236
    assert datagrams[0].destination[1] == 2006
    assert all(RtpPacket.parse(d.payload).payload_type == 8 for d in datagrams)
