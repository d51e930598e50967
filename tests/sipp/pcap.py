"""Writing RTP into pcap files that sipp's ``play_pcap_audio`` plays."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet


def _ipv4_udp(payload: bytes, src_port: int = 6000, dst_port: int = 6002) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    eth = b"\x00" * 12 + b"\x08\x00"
    return eth + ip + udp


def _write_pcap(path: Path, packets: list[bytes]) -> float:
    """RTP packets as a pcap, 20 ms apart; return the duration in seconds."""
    out = bytearray(PCAP_HEADER)
    t = 1_700_000_000.0
    for n, rtp in enumerate(packets):
        frame = _ipv4_udp(rtp)
        sec = t + n * 0.02
        out += struct.pack("<IIII", int(sec), int((sec % 1) * 1e6), len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return len(packets) * 0.02


def write_rtp_pcap(path: Path, payload: bytes, payload_type: int = 0,
                   frame_bytes: int = 160, leading_silence_s: float = 0.0,
                   protect: Callable[[bytes], bytes] | None = None) -> float:
    """Packetise G.711 ``payload`` as 20 ms RTP packets, each passed through ``protect``
    if given (SRTP); return the duration in seconds."""
    silence = (b"\xff" if payload_type == 0 else b"\xd5") * int(8000 * leading_silence_s)
    payload = silence + payload
    ssrc = random.getrandbits(32)
    seq = random.getrandbits(16)
    ts = random.getrandbits(32)
    packets: list[bytes] = []
    for n, off in enumerate(range(0, len(payload), frame_bytes)):
        chunk = payload[off : off + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk += (b"\xff" if payload_type == 0 else b"\xd5") * (frame_bytes - len(chunk))
        marker = 0x80 if n == 0 else 0
        rtp = struct.pack("!BBHII", 0x80, marker | payload_type, (seq + n) & 0xFFFF,
                          (ts + n * frame_bytes) & 0xFFFFFFFF, ssrc) + chunk
        packets.append(protect(rtp) if protect is not None else rtp)
    return _write_pcap(path, packets)


def write_dtmf_pcap(path: Path, digit: str, duration_ms: int = 200,
                    payload_type: int = 101) -> float:
    """One RFC 4733 key press as a pcap, with a fresh SSRC and timestamp each time (the
    same Debian pcap played twice is one key repeated: same timestamp, so a receiver
    rightly takes the second for a retransmission of the first)."""
    event = "0123456789*#".index(digit)
    ssrc, seq, ts = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
    steps = max(1, duration_ms // 20)
    packets: list[bytes] = []
    for i in range(steps + 2):  # the end packet is sent three times
        last = i >= steps - 1
        duration = min(i + 1, steps) * 160
        payload = struct.pack("!BBH", event, (0x80 if last else 0) | 10, duration)
        marker = 0x80 if i == 0 else 0
        packets.append(struct.pack("!BBHII", 0x80, marker | payload_type, (seq + i) & 0xFFFF,
                                   ts & 0xFFFFFFFF, ssrc) + payload)
    return _write_pcap(path, packets)


def write_held_key_pcap(path: Path, before: bytes, digit: str, held_s: float,
                        after: bytes) -> float:
    """PCMU audio, then a key held ``held_s`` seconds whose RFC 4733 packets never carry
    the end bit (the phone's audio muted meanwhile, as most phones do), then more audio:
    one stream, one SSRC, timestamps in step with the clock. Return the duration."""
    event = "0123456789*#".index(digit)
    ssrc, seq, ts0 = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
    packets: list[bytes] = []

    def audio(chunk: bytes, n: int) -> None:
        chunk = chunk.ljust(160, b"\xff")
        packets.append(struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0, (seq + n) & 0xFFFF,
                                   (ts0 + n * 160) & 0xFFFFFFFF, ssrc) + chunk)

    for off in range(0, len(before), 160):
        audio(before[off : off + 160], len(packets))
    start = len(packets)
    for i in range(round(held_s / 0.02)):  # the event's timestamp is its start
        payload = struct.pack("!BBH", event, 10, min((i + 1) * 160, 0xFFFF))
        packets.append(struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | 101,
                                   (seq + len(packets)) & 0xFFFF,
                                   (ts0 + start * 160) & 0xFFFFFFFF, ssrc) + payload)
    for off in range(0, len(after), 160):
        audio(after[off : off + 160], len(packets))
    return _write_pcap(path, packets)
