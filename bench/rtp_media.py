"""CPU cost of the RTP media path: per packet without sockets, then whole endpoints.

Receive: parse → jitter buffer (with 2% reordering) → G.711 decode → concealment.
Send: G.711 encode → serialize. Prints packets per second on one core and the calls this
covers at 50 packets/s each way (the issue's target is 300 calls on at most one core).

    .venv/bin/python bench/rtp_media.py [--calls 100] [--seconds 5]

The second part opens ``--calls`` pairs of RtpEndpoint on 127.0.0.1 and has each caller play
``--seconds`` of audio to its gateway endpoint while the gateway plays back, then reports the
process CPU time per call (both ends of every call are in this process, so a gateway alone
costs about half) and how many frames arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from voice_gateway.rtp.endpoint import AudioFrame, RtpEndpoint, RtpSettings
from voice_gateway.rtp.g711 import PCMU
from voice_gateway.rtp.jitterbuffer import JitterBuffer
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.rtp.plc import LossConcealer

N = 200_000


def wire_packets() -> list[bytes]:
    rng = random.Random(1)
    payload = bytes(rng.randrange(256) for _ in range(160))
    seqs = list(range(N))
    for i in range(0, N - 1, 50):  # one swapped pair per second of audio
        seqs[i], seqs[i + 1] = seqs[i + 1], seqs[i]
    return [RtpPacket(0, s & 0xFFFF, s * 160, 42, payload).serialize() for s in seqs]


def bench_receive(datagrams: list[bytes]) -> float:
    buffer, concealer = JitterBuffer(), LossConcealer()
    start = time.perf_counter()
    for data in datagrams:
        for frame in buffer.add(RtpPacket.parse(data)):
            if frame.packet is None:
                concealer.conceal()
            else:
                concealer.good(PCMU.decode(frame.packet.payload))
    return time.perf_counter() - start


def bench_send() -> float:
    pcm = bytes(320)
    start = time.perf_counter()
    for seq in range(N):
        RtpPacket(0, seq & 0xFFFF, seq * 160, 42, PCMU.encode(pcm), seq == 0).serialize()
    return time.perf_counter() - start


async def bench_loopback(calls: int, seconds: float) -> None:
    received = 0

    def count(frame: AudioFrame) -> None:
        nonlocal received
        received += 1

    opened: list[RtpEndpoint] = []
    pairs: list[tuple[RtpEndpoint, RtpEndpoint]] = []
    for _ in range(calls):
        gateway = RtpEndpoint(RtpSettings(inactivity_timeout=None), on_audio=count)
        caller = RtpEndpoint(RtpSettings(inactivity_timeout=None), on_audio=count)
        port = await gateway.bind("127.0.0.1")
        caller_port = await caller.bind("127.0.0.1")
        caller.set_remote(("127.0.0.1", port))
        gateway.set_remote(("127.0.0.1", caller_port))
        opened += [gateway, caller]
        pairs.append((gateway, caller))
    pcm = bytes(int(8000 * seconds) * 2)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(ep.play(pcm) for ep in opened))
    await asyncio.sleep(0.1)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for endpoint in opened:
        endpoint.close()
    expected = 2 * calls * int(seconds * 50)
    print(
        f"loopback: {calls} calls x {seconds:g} s both ways: {cpu / wall:.0%} of a core, "
        f"{received}/{expected} frames arrived"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    datagrams = wire_packets()
    rx, tx = bench_receive(datagrams), bench_send()
    rx_rate, tx_rate = N / rx, N / tx
    per_call = 50 / rx_rate + 50 / tx_rate  # core-seconds per second of one call
    print(f"receive: {rx_rate:,.0f} packets/s ({1e6 / rx_rate:.1f} µs each)")
    print(f"send:    {tx_rate:,.0f} packets/s ({1e6 / tx_rate:.1f} µs each)")
    print(f"media path alone: {1 / per_call:,.0f} calls per core (no sockets, no event loop)")
    asyncio.run(bench_loopback(args.calls, args.seconds))


if __name__ == "__main__":
    main()
