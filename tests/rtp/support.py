"""Test helpers: read UDP payloads out of a pcap file and audio out of a μ-law WAV."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

SIPP_PCAPS = Path("/usr/share/sip-tester")
CALLS_DEV = Path(__file__).resolve().parents[3] / "shared" / "audio" / "calls" / "dev"


@dataclass(frozen=True)
class UdpDatagram:
    source: tuple[str, int]
    destination: tuple[str, int]
    payload: bytes


def read_pcap_udp(path: Path) -> list[UdpDatagram]:
    """UDP-over-IPv4 datagrams of a classic (not pcapng) Ethernet pcap, in file order."""
    data = path.read_bytes()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, expected Ethernet")
    out: list[UdpDatagram] = []
    pos = 24
    while pos + 16 <= len(data):
        _sec, _usec, caplen, _origlen = struct.unpack_from(endian + "IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen
        if struct.unpack_from("!H", frame, 12)[0] != 0x0800:
            continue
        ip = frame[14:]
        header_len = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        sport, dport, length = struct.unpack_from("!HHH", ip, header_len)
        payload = ip[header_len + 8 : header_len + length]
        out.append(UdpDatagram((src, sport), (dst, dport), payload))
    return out


def read_ulaw_wav(path: Path) -> bytes:
    """The sample bytes of a WAVE_FORMAT_MULAW (7) mono 8 kHz file (stdlib wave refuses it)."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, ...] | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = struct.unpack_from("<HHI", body)
        elif chunk_id == b"data":
            if fmt != (7, 1, 8000):
                raise ValueError(f"{path}: format {fmt}, expected μ-law mono 8 kHz")
            return body
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")
