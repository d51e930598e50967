"""bench/sip/media_cost: the gateway's receive path per RTP packet, without sockets or sipp.

    .venv/bin/python -m bench.sip.media_cost [--calls 100] [--seconds 20] [--profile FILE]

What ``bench.sip`` measures under load, in one process and by CPU time only, so that the
figure hardly depends on what else the machine runs: ``--calls`` calls, each an
``RtpEndpoint`` (as the gateway opens it) whose audio goes to a ``CallAudio`` (recording on
disk and an utterance recognizer with a decoder that returns at once), are fed the dev
calls' audio as PCMU datagrams, 20 ms each, the calls interleaved as they arrive. Each stage
is measured alone and then all together:

- rtp: ``datagram_received`` (checks, parse, jitter buffer, G.711 decode, playout) only;
- + recording: and the caller's audio written to the WAV file;
- + asr front end: and resampling 8→16 kHz and VAD/endpointing (the whole gateway path).

It prints µs of CPU per packet and ms per call-second (50 packets) for each. ``--profile``
writes a cProfile of the whole path (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from asr.engines.base import DecodeRequest, DecodeResult
from asr.g711 import pcm_to_ulaw
from asr.stream import UtteranceRecognizeStream
from bench.sip.run import dev_speech
from config import load_settings
from voice_gateway import eventloop
from voice_gateway.calls.audio import CallAudio
from voice_gateway.rtp.endpoint import AudioFrame, RtpEndpoint
from voice_gateway.rtp.packet import rtp_header

PACKET = 160  # G.711 bytes per 20 ms
REMOTE = ("127.0.0.1", 40000)


async def _decode(request: DecodeRequest) -> DecodeResult:
    return DecodeResult("", 1.0)


def datagrams(seconds: float, offset: int) -> list[bytes]:
    """One call's PCMU packets: the dev calls' audio from ``offset`` bytes, looped."""
    speech = dev_speech()
    ulaw = pcm_to_ulaw(speech)
    n = int(seconds * 50)
    start = offset % len(ulaw)
    looped = (ulaw * (n * PACKET // len(ulaw) + 2))[start : start + n * PACKET]
    return [rtp_header(0, seq, seq * PACKET, 0x1234) + looped[seq * PACKET:(seq + 1) * PACKET]
            for seq in range(n)]


async def run_stage(stage: str, calls: int, seconds: float, workdir: Path,
                    profile: cProfile.Profile | None = None) -> float:
    """CPU seconds per packet of ``stage`` ('rtp', 'recording' or 'asr')."""
    settings = load_settings(environ={"VOICE_INTAKE_DATA_DIR": str(workdir / stage)})
    endpoints: list[RtpEndpoint] = []
    audios: list[CallAudio] = []
    for i in range(calls):
        stream = (UtteranceRecognizeStream(_decode, settings.vad, 8000)
                  if stage == "asr" else None)
        audio = CallAudio(settings, stream, f"call{i}", 8000)
        if stage != "rtp":
            audio.open_recording()
        on_audio: Callable[[AudioFrame], None] = (
            (lambda frame: None) if stage == "rtp"
            else (lambda frame, a=audio: a.push(frame.pcm)))  # type: ignore[misc]
        endpoint = RtpEndpoint(on_audio=on_audio)
        await endpoint.bind("127.0.0.1")
        endpoint.set_remote(REMOTE)
        endpoints.append(endpoint)
        audios.append(audio)
    packets = [datagrams(seconds, i * 8000) for i in range(calls)]
    count = 0
    cpu = time.process_time()
    if profile is not None:
        profile.enable()
    for seq in range(len(packets[0])):
        for endpoint, call in zip(endpoints, packets, strict=True):
            endpoint.datagram_received(call[seq], REMOTE)
            count += 1
        if seq % 5 == 0:
            await asyncio.sleep(0)  # decodes of finished utterances run
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - cpu
    for endpoint, audio in zip(endpoints, audios, strict=True):
        endpoint.close()
        await audio.close()
    return cpu / count


async def main_async(args: argparse.Namespace) -> None:
    loop = eventloop.loop_name(asyncio.get_running_loop())
    print(f"bench/sip/media_cost — {args.calls} calls × {args.seconds:.0f} s of dev-call PCMU, "
          f"fed directly to RtpEndpoint.datagram_received; event loop {loop}; load average "
          f"{os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="media-cost-") as tmp:
        rows = []
        for stage, label in (("rtp", "rtp"), ("recording", "+ recording"),
                             ("asr", "+ asr front end (the gateway path)")):
            profile = cProfile.Profile() if args.profile and stage == "asr" else None
            per_packet = await run_stage(stage, args.calls, args.seconds, Path(tmp), profile)
            if profile is not None:
                profile.dump_stats(args.profile)
            rows.append((label, per_packet))
    print(f"{'stage':>36}  {'µs cpu/packet':>13}  {'ms cpu/call-s':>13}")
    for label, per_packet in rows:
        print(f"{label:>36}  {per_packet * 1e6:13.1f}  {per_packet * 50 * 1000:13.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sip.media_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profile", help="write a cProfile of the whole path to this file")
    args = parser.parse_args(argv)
    eventloop.run(main_async(args), "auto")


if __name__ == "__main__":
    main()
