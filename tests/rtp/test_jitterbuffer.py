from __future__ import annotations

from collections.abc import Iterable

import pytest

from voice_gateway.rtp.jitterbuffer import JitterBuffer, JitterFrame
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.rtp.plc import LossConcealer

SSRC = 0x0E05384E


def packet(seq: int, ssrc: int = SSRC) -> RtpPacket:
    seq %= 1 << 16
    return RtpPacket(0, seq, seq * 160, ssrc, payload=seq.to_bytes(2, "big"))


def run(buffer: JitterBuffer, seqs: Iterable[int], ssrc: int = SSRC) -> list[JitterFrame]:
    out: list[JitterFrame] = []
    for seq in seqs:
        out.extend(buffer.add(packet(seq, ssrc)))
    return out


def shape(frames: list[JitterFrame]) -> list[int | None]:
    """Sequence numbers released, None for a gap."""
    return [f.sequence_number if f.packet is not None else None for f in frames]


def test_in_order_passes_straight_through() -> None:
    buffer = JitterBuffer()
    for seq in range(100, 110):
        assert shape(buffer.add(packet(seq))) == [seq]
    assert buffer.stats.received == buffer.stats.released == 10
    assert buffer.stats.lost == buffer.stats.reordered == 0


def test_reorder_within_window() -> None:
    buffer = JitterBuffer(depth=3)
    frames = run(buffer, [1, 3, 2, 5, 4, 6])
    assert shape(frames) == [1, 2, 3, 4, 5, 6]
    assert buffer.stats.reordered == 2
    assert buffer.stats.lost == 0


def test_reorder_waits_for_the_missing_packet() -> None:
    buffer = JitterBuffer(depth=3)
    assert shape(buffer.add(packet(1))) == [1]
    assert buffer.add(packet(3)) == []
    assert buffer.add(packet(4)) == []
    assert shape(buffer.add(packet(2))) == [2, 3, 4]


def test_loss_is_reported_once_depth_packets_passed_it() -> None:
    buffer = JitterBuffer(depth=3)
    frames = run(buffer, [1, 2, 4, 5])
    assert shape(frames) == [1, 2]
    frames = buffer.add(packet(6))
    assert shape(frames) == [None, 4, 5, 6]
    assert frames[0].sequence_number == 3
    assert buffer.stats.lost == 1
    # The lost packet turning up now is too late.
    assert buffer.add(packet(3)) == []
    assert buffer.stats.late == 1


def test_burst_loss() -> None:
    buffer = JitterBuffer(depth=2)
    frames = run(buffer, [10, 11, 16, 17, 18])
    assert shape(frames) == [10, 11, None, None, None, None, 16, 17, 18]
    assert buffer.stats.lost == 4


def test_duplicates_queued_or_released_are_dropped() -> None:
    buffer = JitterBuffer(depth=3)
    frames = run(buffer, [1, 1, 2, 4, 4, 1, 3, 3])
    assert shape(frames) == [1, 2, 3, 4]
    assert buffer.stats.duplicate == 4
    assert buffer.stats.late == 0


def test_sequence_wraparound() -> None:
    buffer = JitterBuffer(depth=3)
    frames = run(buffer, [65533, 65534, 0, 65535, 1, 3, 4, 5])
    assert shape(frames) == [65533, 65534, 65535, 0, 1, None, 3, 4, 5]
    assert buffer.stats.lost == 1
    assert buffer.stats.reordered == 1
    # Late packet from before the wrap.
    assert buffer.add(packet(65534)) == []
    assert buffer.stats.duplicate == 1


def test_ssrc_change_flushes_and_starts_a_new_stream() -> None:
    buffer = JitterBuffer(depth=3)
    assert shape(run(buffer, [1, 2, 4])) == [1, 2]
    frames = run(buffer, [9000, 9001], ssrc=0xABCDEF)
    # The old stream's tail is released (gap included) before the new stream starts.
    assert shape(frames) == [None, 4, 9000, 9001]
    assert frames[-1].packet is not None and frames[-1].packet.ssrc == 0xABCDEF
    assert buffer.ssrc == 0xABCDEF
    assert buffer.stats.resets == 1


def test_sequence_restart_needs_two_consecutive_packets() -> None:
    buffer = JitterBuffer(depth=3)
    run(buffer, range(100, 110))
    # One stray far-off packet is discarded...
    assert buffer.add(packet(40000)) == []
    assert buffer.stats.out_of_window == 1
    assert shape(buffer.add(packet(110))) == [110]
    # ...two in a row mean the sender restarted its numbering.
    assert buffer.add(packet(5)) == []
    assert shape(buffer.add(packet(6))) == [6]
    assert shape(buffer.add(packet(7))) == [7]
    assert buffer.stats.resets == 1


def test_flush_releases_everything_held() -> None:
    buffer = JitterBuffer(depth=5)
    run(buffer, [1, 3, 6])
    assert shape(buffer.flush()) == [None, 3, None, None, 6]
    assert buffer.flush() == []
    assert shape(buffer.add(packet(7))) == [7]


def test_lossy_reordering_network_loses_nothing_it_delivered() -> None:
    # 200 packets after the first; every 10th lost, pairs swapped, every 7th duplicated.
    sent = [s for s in range(1001, 1201) if s % 10 != 3]
    wire = [1000]
    for i in range(0, len(sent) - 1, 2):
        pair = [sent[i + 1], sent[i]]
        wire += pair + [s for s in pair if s % 7 == 0]
    buffer = JitterBuffer(depth=3)
    frames = run(buffer, wire) + buffer.flush()
    got = shape(frames)
    assert [s for s in got if s is not None] == sorted(set(wire))
    assert got.count(None) == buffer.stats.lost == 20
    assert [f.sequence_number for f in frames] == list(range(1000, 1201))
    assert buffer.stats.duplicate + buffer.stats.late == len(wire) - len(set(wire))


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^jitter buffer depth must be at least 1, got 0$"):
        JitterBuffer(depth=0)


def test_concealment_fades_then_goes_silent() -> None:
    concealer = LossConcealer(fade_frames=3)
    loud = (1000).to_bytes(2, "little", signed=True) * 160
    assert concealer.good(loud) == loud
    gains = [int.from_bytes(concealer.conceal()[:2], "little", signed=True) for _ in range(5)]
    assert gains == [750, 500, 250, 0, 0]
    assert concealer.concealed == 5
    concealer.good(loud)
    assert int.from_bytes(concealer.conceal()[:2], "little", signed=True) == 750


def test_concealment_before_any_audio_is_silence() -> None:
    assert LossConcealer().conceal() == bytes(320)
