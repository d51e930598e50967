"""A WHIP client made with aiortc, and the app on loopback with a fake ASR engine."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from asr.engines.base import EngineSpec
from config import Settings
from tests.sipp.harness import SHARED_PROMPTS
from voice_gateway.services import Services, open_services

FAKE = EngineSpec(kind="fake")
ORIGIN = "https://portal.example"


def webrtc_settings(settings: Settings, *, ivr: bool = False, **webrtc: Any) -> Settings:
    """SIP off, WebRTC on with ``ORIGIN`` allowed; the IVR only if asked (prompts take
    real time)."""
    w = dataclasses.replace(settings.webrtc, allowed_origins=(ORIGIN,), **webrtc)
    return dataclasses.replace(
        settings, webrtc=w, sip=dataclasses.replace(settings.sip, enabled=False),
        ivr=dataclasses.replace(settings.ivr, enabled=ivr, prompt_dir=SHARED_PROMPTS))


@contextlib.asynccontextmanager
async def fake_services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, spec=FAKE, workers=1) as services:
        yield services


@dataclass
class WhipClient:
    """One browser-like caller: audio from a file (paced in real time), a ``dtmf`` and a
    ``captions`` data channel, and what it heard."""

    pc: RTCPeerConnection
    player: MediaPlayer | None
    dtmf: RTCDataChannel
    captions: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    loud_frames: int = 0
    location: str | None = None
    _reader: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, wav: Path | None, *, audio: bool = True,
               config: RTCConfiguration | None = None) -> WhipClient:
        """Audio from ``wav``, else silence (none at all if not ``audio``)."""
        pc = RTCPeerConnection(config)
        player = MediaPlayer(str(wav)) if wav is not None else None
        if player is not None and player.audio is not None:
            pc.addTrack(player.audio)
        elif audio:
            pc.addTrack(AudioStreamTrack())
        dtmf = pc.createDataChannel("dtmf")
        client = cls(pc, player, dtmf)
        captions = pc.createDataChannel("captions")
        captions.on("message", lambda msg: client.captions.append(json.loads(msg)))
        pc.on("track", client._on_track)
        return client

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames += 1
                if np.abs(frame.to_ndarray()).max() > 500:
                    self.loud_frames += 1

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def connected(self, within: float = 10.0) -> None:
        await wait_until(lambda: self.pc.connectionState == "connected"
                         and self.dtmf.readyState == "open", within)

    async def audio_sent(self, within: float = 60.0) -> None:
        """Until the file has been sent to its end."""
        track = self.player.audio if self.player is not None else None
        await wait_until(lambda: track is None or track.readyState == "ended", within)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()


async def wait_until(check: Any, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def services_of(http: Any) -> Services:
    """The services of the app under an ``aiohttp_client``."""
    from voice_gateway.app import SERVICES

    services: Services = http.server.app[SERVICES]
    return services


async def call_in(http: Any, client: WhipClient) -> Any:
    """Offer, answer and connect ``client`` to the app under ``http``: the WHIP response
    (its Location ends the call)."""
    resp = await post_offer(http, await client.offer())
    assert resp.status == 201, await resp.text()
    await client.answer(await resp.text())
    await client.connected()
    return resp


async def post_offer(http: Any, sdp: str, **headers: str) -> Any:
    return await http.post("/whip", data=sdp.encode(),
                           headers={"Content-Type": "application/sdp", **headers})
