"""One browser call as its runner sees it: aiortc's peer connection behind the same
transport interface as SIP (:class:`voice_gateway.calls.runner.CallTransport`).

The WHIP request is the INVITE: the HTTP handler waits on :attr:`WebRtcCallTransport.
outcome`, which :meth:`answer` resolves (201 with the SDP answer) or :meth:`reject`
resolves with a status (503 + Retry-After when storage cannot take the call). After the
answer the browser connects (ICE, DTLS); prompts wait for that connection, so the greeting
is not sent into nothing. The caller's audio goes to the call's :class:`CallAudio` once
answered; keys come as text on a data channel named ``dtmf``, or as RFC 4733 events
(:mod:`.rfc4733`); captions (the text of each prompt as it starts, and what was heard) go
out as JSON on a channel named ``captions`` when the page opens one. The service's hang-up
sends ``{"type": "ended"}`` there and closes the peer connection, which is a browser's BYE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from voice_gateway.calls import machine as m
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.prompts import SAMPLE_RATE as PROMPT_RATE
from voice_gateway.webrtc import rfc4733
from voice_gateway.webrtc.media import RATE, InboundAudio, PromptTrack, upsample_prompt

if TYPE_CHECKING:
    from voice_gateway.calls.runner import CallRunner

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#ABCD")
MAX_KEYS_PER_MESSAGE = 32
MAX_PENDING_CAPTIONS = 20
BYE_GRACE_S = 1.0  # the browser's jitter buffer plays out before the connection closes


@dataclass(frozen=True)
class Answered:
    sdp: str


@dataclass(frozen=True)
class Refused:
    status: int
    reason: str
    retry_after: int | None


Outcome = Answered | Refused


class WebRtcCallTransport:
    """aiortc as one call's runner sees it (see the module docstring)."""

    def __init__(self, session_id: str, pc: RTCPeerConnection, answer_sdp: str,
                 track: PromptTrack, *, retry_after_s: int, connect_timeout_s: float,
                 media_timeout_s: float, on_close: Callable[[WebRtcCallTransport], None],
                 sending: bool = True) -> None:
        self.session_id = session_id
        self.pc = pc
        self.answer_sdp = answer_sdp
        self.track = track
        self.sending = sending  # the answer sends audio (not a send-only offer's)
        track.on_sent = self._on_sent
        self.retry_after_s = retry_after_s
        self.connect_timeout_s = connect_timeout_s
        self.media_timeout_s = media_timeout_s
        self._on_close = on_close
        self.outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.audio: CallAudio | None = None
        self.runner: CallRunner | None = None
        self._media_seen = False
        self.inbound: InboundAudio | None = None
        self.captions: RTCDataChannel | None = None
        self._pending: list[dict[str, str]] = []
        self.connected = asyncio.Event()
        self.answered_at: float | None = None
        self.keys = 0
        self._media_ended = False
        self._closed = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        for transceiver in pc.getTransceivers():  # its track came with the offer
            if transceiver.receiver.track is not None:
                self._on_track(transceiver.receiver.track)
            rfc4733.intercept(transceiver.receiver, self._on_event_key)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)

    # --- the runner's interface ------------------------------------------------------------

    async def prepare(self) -> None:
        pass  # negotiated before the runner started (a bad offer is a 400, not a call)

    def answer(self) -> bool:
        if self.outcome.done() or self._closed:
            return False  # the client gave up waiting (its request was cancelled)
        self.outcome.set_result(Answered(self.answer_sdp))
        self.answered_at = self._loop.time()
        self._arm_watchdog(self.connect_timeout_s)
        return True

    def reject(self, status: int, reason: str, retry_after: int | None) -> None:
        if self.outcome.done():
            return
        if status == 503:
            retry_after = retry_after or self.retry_after_s
        self.outcome.set_result(Refused(status, reason, retry_after))

    def send_bye(self) -> None:
        """The service hangs up: the page is told, and the connection closes a moment
        later, so the end of the last prompt (goodbye) is not cut off in the browser."""
        self.send_caption({"type": "ended"})
        self._loop.call_later(BYE_GRACE_S, self.close)

    def refer(self, target: str) -> bool:
        return False  # no agent leg for a browser yet: the menu goes on to the node's next

    def abandon_transfer(self) -> None:
        pass

    async def play(self, pcm: bytes) -> bool:
        connect = asyncio.ensure_future(self.connected.wait())
        try:
            await asyncio.wait({connect}, timeout=self.connect_timeout_s)
        finally:
            connect.cancel()
        if not self.connected.is_set() or self._closed:
            return False
        if not self.sending:  # the caller's offer takes no audio from us
            return await self.track.play_unheard(len(pcm) / 2 / PROMPT_RATE)
        return await self.track.play(upsample_prompt(pcm, PROMPT_RATE))

    def stop_playback(self) -> None:
        self.track.stop_playback()

    async def end_media(self) -> None:
        self._media_ended = True
        if self.inbound is not None:
            await self.inbound.stop()

    def close(self) -> None:
        """Release the peer connection (idempotent); the gateway awaits its closing."""
        if self._closed:
            return
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.track.stop()
        self._on_close(self)

    # --- captions ----------------------------------------------------------------------

    def caption(self, kind: str, text: str) -> None:
        """The runner's captions: a prompt's text as it starts, or what was heard."""
        if text:
            self.send_caption({"type": kind, "text": text})

    def send_caption(self, message: dict[str, str]) -> None:
        """Send now, or once the page's channel is open (the greeting starts as the
        connection comes up; at most :data:`MAX_PENDING_CAPTIONS` wait)."""
        channel = self.captions
        if channel is None or channel.readyState != "open":
            if len(self._pending) < MAX_PENDING_CAPTIONS:
                self._pending.append(message)
            return
        with contextlib.suppress(Exception):  # a channel closing under us
            channel.send(json.dumps(message, ensure_ascii=False))

    def _captions_open(self) -> None:
        pending, self._pending = self._pending, []
        for message in pending:
            self.send_caption(message)

    # --- aiortc's events --------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self.inbound is None:
            self.inbound = InboundAudio(track, self._on_audio)

    def _on_audio(self, pcm: bytes) -> None:
        if self.audio is not None and self.answered_at is not None and not self._media_ended:
            if not self._media_seen:
                self._media_seen = True
                if self.runner is not None:
                    self.runner.post(m.MediaStarted("webrtc"))
            self.audio.push(pcm)

    def _on_sent(self, pcm: bytes, at: float) -> None:
        if self.audio is not None and self.answered_at is not None:
            start = at - self.answered_at - len(pcm) / 2 / RATE
            self.audio.record_sent(pcm, max(0.0, start))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label == "dtmf":
            channel.on("message", self._on_keys)
        elif channel.label == "captions":
            self.captions = channel
            if channel.readyState == "open":
                self._captions_open()
            else:
                channel.on("open", self._captions_open)

    def _on_keys(self, message: object) -> None:
        if not isinstance(message, str) or len(message) > MAX_KEYS_PER_MESSAGE:
            return
        if self.runner is None or self.answered_at is None:
            return
        for key in message.strip().upper():
            if key in KEYS:
                self.keys += 1
                self.runner.post(m.Dtmf(key, "datachannel"))

    def _on_event_key(self, key: str) -> None:
        if self.runner is not None and self.answered_at is not None:
            self.keys += 1
            self.runner.post(m.Dtmf(key, "rfc4733"))

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
            self._arm_watchdog(self.media_timeout_s)
        elif state in ("failed", "closed") and self.runner is not None and not self._closed:
            self.runner.post(m.HungUp(f"connection_{state}"))

    # --- timeouts -------------------------------------------------------------------------

    def _arm_watchdog(self, after_s: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = self._loop.call_later(after_s, self._check_media)

    def _check_media(self) -> None:
        """Not connected within the connect timeout, or no audio for the media timeout:
        the service hangs up (a silent or vanished browser)."""
        self._watchdog = None
        if self._closed or self.runner is None:
            return
        now = self._loop.time()
        if not self.connected.is_set():
            log.info("call %s: no media connection after %.0f s, hanging up",
                     self.runner.call_id[:8], self.connect_timeout_s)
            self.runner.post(m.HungUp("connect_timeout", by_caller=False))
            return
        last = self.inbound.last_audio if self.inbound is not None else None
        quiet_since = last if last is not None else (self.answered_at or now)
        if now - quiet_since >= self.media_timeout_s:
            log.info("call %s: no audio for %.0f s, hanging up", self.runner.call_id[:8],
                     self.media_timeout_s)
            self.runner.post(m.HungUp("media_timeout", by_caller=False))
            return
        self._arm_watchdog(self.media_timeout_s - (now - quiet_since))

