"""The ceiling: how many UDP datagrams a plain Python socket receives on this machine.

A sender process (``python -m bench.sip.ceiling PORT SECONDS SIZE``) sends 172-byte datagrams
(an RTP header plus 20 ms of G.711) to 127.0.0.1 as fast as it can; the receiver, in the
bench process, counts what it gets over a window that leaves out the start and the end.
Two receivers: an asyncio ``DatagramProtocol`` (what the gateway's RTP endpoints are) and a
plain blocking ``recv`` loop. Each reports packets a second and packets per CPU-second of
its own process: on a 2-core machine the sender takes the other core, so the per-core
figure is the fairer ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

DATAGRAM_BYTES = 172  # 12-byte RTP header + 160 bytes of G.711 (20 ms at 8 kHz)
WARMUP_S = 0.5


@dataclass(frozen=True)
class CeilingResult:
    name: str
    received_pps: float
    cpu_fraction: float  # of one core, receiver process
    sent: int

    @property
    def pps_per_core(self) -> float:
        return self.received_pps / self.cpu_fraction if self.cpu_fraction > 0 else 0.0


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _start_sender(port: int, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.sip.ceiling", str(port), str(seconds),
         str(DATAGRAM_BYTES)],
        stdout=subprocess.PIPE,
    )


def _sent(proc: subprocess.Popen[bytes], seconds: float) -> int:
    out, _ = proc.communicate(timeout=seconds + 10)
    with contextlib.suppress(ValueError):
        return int(out.decode().strip() or 0)
    return 0


def blocking_ceiling(seconds: float) -> CeilingResult:
    """A blocking socket in a ``recv`` loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port = sock.getsockname()[1]
    proc = _start_sender(port, seconds)
    count = 0
    start_mark: tuple[int, float, float] | None = None
    end_mark: tuple[int, float, float] | None = None
    begin = time.perf_counter()
    recv = sock.recv
    try:
        while True:
            try:
                recv(2048)
            except TimeoutError:
                if time.perf_counter() - begin > seconds + 5:
                    break
                continue
            count += 1
            if count & 1023:
                continue
            now = time.perf_counter()
            if start_mark is None:
                if now - begin >= WARMUP_S:
                    start_mark = (count, now, _cpu_self())
            elif now - begin >= seconds - WARMUP_S:
                end_mark = (count, now, _cpu_self())
                break
    finally:
        sent = _sent(proc, seconds)
        sock.close()
    return _result("blocking socket recv()", start_mark, end_mark, sent)


class _Counter(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.count += 1


async def _asyncio_ceiling(seconds: float) -> CeilingResult:
    loop = asyncio.get_running_loop()
    transport, counter = await loop.create_datagram_endpoint(
        _Counter, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    proc = _start_sender(port, seconds)
    try:
        await asyncio.sleep(WARMUP_S)
        start_mark = (counter.count, time.perf_counter(), _cpu_self())
        await asyncio.sleep(max(0.5, seconds - 2 * WARMUP_S))
        end_mark = (counter.count, time.perf_counter(), _cpu_self())
    finally:
        sent = await asyncio.to_thread(_sent, proc, seconds)
        transport.close()
    return _result("asyncio DatagramProtocol", start_mark, end_mark, sent)


def asyncio_ceiling(seconds: float) -> CeilingResult:
    """An asyncio datagram endpoint counting ``datagram_received`` calls."""
    return asyncio.run(_asyncio_ceiling(seconds))


def _result(name: str, start: tuple[int, float, float] | None,
            end: tuple[int, float, float] | None, sent: int) -> CeilingResult:
    if start is None or end is None or end[1] <= start[1]:
        return CeilingResult(name, 0.0, 0.0, sent)
    dt = end[1] - start[1]
    return CeilingResult(name, (end[0] - start[0]) / dt, (end[2] - start[2]) / dt, sent)


def send(port: int, seconds: float, size: int) -> int:
    """The sender: datagrams to 127.0.0.1:``port`` as fast as possible for ``seconds``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    payload = b"\x80\x00" + bytes(size - 2)
    deadline = time.perf_counter() + seconds
    sent = 0
    out = sock.send
    while True:
        for _ in range(256):
            with contextlib.suppress(OSError):  # ECONNREFUSED once the receiver closed
                out(payload)
        sent += 256
        if time.perf_counter() >= deadline:
            break
    sock.close()
    return sent


if __name__ == "__main__":
    print(send(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
