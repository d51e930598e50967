"""WHIP callers for bench.webrtc, run in their own process (their CPU is not the
gateway's): ``python -m bench.webrtc.client URL CALLS RATE UP_AT HOLD_UNTIL``.

Each caller is an aiortc peer connection sending dev-call speech (16 kHz, looped, paced in
real time) as Opus, with a ``dtmf`` data channel, placed at ``RATE`` calls a second; all
hold until the wall time ``HOLD_UNTIL``, then stop sending, and DELETE their session. One
JSON line per call on stdout: status, setup times, RTP packets sent.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import sys
import time
from typing import Any

import aiohttp
import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from yarl import URL

from asr.audio import load_audio
from bench.sip.run import CALLS_DIR

RATE = 16000
FRAME = 320


class LoopTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, pcm: bytes, offset: int) -> None:
        super().__init__()
        self.pcm = pcm
        self.pos = (offset * FRAME * 2 * 37) % len(pcm)
        self.start: float | None = None
        self.n = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        wait = self.start + self.n * 0.02 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = self.pcm[self.pos:self.pos + FRAME * 2]
        self.pos = (self.pos + FRAME * 2) % (len(self.pcm) - FRAME * 2)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk)
        frame.sample_rate = RATE
        frame.pts = self.n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += 1
        return frame


async def one_call(http: aiohttp.ClientSession, url: str, pcm: bytes, n: int,
                   hold_until: float) -> dict[str, Any]:
    pc = RTCPeerConnection()
    track = LoopTrack(pcm, n)
    pc.addTrack(track)
    pc.createDataChannel("dtmf")
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _state() -> None:
        if pc.connectionState == "connected":
            connected.set()

    out: dict[str, Any] = {"n": n}
    try:
        t0 = time.perf_counter()
        await pc.setLocalDescription(await pc.createOffer())
        t1 = time.perf_counter()
        async with http.post(url, data=pc.localDescription.sdp.encode(),
                             headers={"Content-Type": "application/sdp"}) as resp:
            out["status"] = resp.status
            answer = await resp.text()
            location = resp.headers.get("Location")
        t2 = time.perf_counter()
        out["answer_ms"] = (t2 - t1) * 1000
        if resp.status != 201 or location is None:
            return out
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.wait_for(connected.wait(), 30)
        out["connect_ms"] = (time.perf_counter() - t0) * 1000
        await asyncio.sleep(max(0.0, hold_until - time.time()))
        track.stop()
        await asyncio.sleep(0.3)
        for stats in (await pc.getSenders()[0].getStats()).values():
            if stats.type == "outbound-rtp":
                out["sent"] = stats.packetsSent
        async with http.delete(str(resp.url.join(URL(location)))) as gone:
            out["deleted"] = gone.status
    except Exception as exc:  # a bench reports every call, whatever happened to it
        out["error"] = repr(exc)
    finally:
        await pc.close()
    return out


async def main(url: str, calls: int, rate: float, up_at: float, hold_until: float) -> None:
    pcm = b"".join(load_audio(f).resampled(RATE).pcm
                   for f in sorted(CALLS_DIR.glob("*.pcm8k.wav"))[:3])
    await asyncio.sleep(max(0.0, up_at - time.time()))
    async with aiohttp.ClientSession() as http:
        tasks = []
        for n in range(calls):
            tasks.append(asyncio.ensure_future(one_call(http, url, pcm, n, hold_until)))
            await asyncio.sleep(1 / rate)
        for result in await asyncio.gather(*tasks):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    u, c, r, a, h = sys.argv[1:6]
    asyncio.run(main(u, int(c), float(r), float(a), float(h)))
