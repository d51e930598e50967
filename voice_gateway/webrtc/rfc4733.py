"""Keys sent as RFC 4733 telephone-events by a browser's ``RTCDTMFSender``, read with
aiortc, which neither negotiates nor reads them by itself.

Two small interventions, both here: :func:`register` adds ``telephone-event`` (48 kHz, as
browsers offer it beside Opus, and 8 kHz beside G.711) to aiortc's codec table, so answers
accept it; :func:`intercept` wraps one receiver's packet handler so that telephone-event
packets go to :class:`~voice_gateway.rtp.dtmf.DtmfDetector` (one digit per key press,
whatever the redundancy) instead of the audio decoder, which would stop on them. If a
future aiortc renames its receiver's handler, keys still come over the ``dtmf`` data
channel (what the call page uses).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from voice_gateway.rtp.dtmf import DtmfDetector
from voice_gateway.rtp.packet import RtpPacket

log = logging.getLogger(__name__)

MIME = "audio/telephone-event"
# Payload types of our own offers only: in an answer the offer's types are used.
EVENTS = (
    RTCRtpCodecParameters(mimeType=MIME, clockRate=48000, channels=1, payloadType=110,
                          parameters={"0-16": None}),
    RTCRtpCodecParameters(mimeType=MIME, clockRate=8000, channels=1, payloadType=126,
                          parameters={"0-16": None}),
)


def register() -> None:
    """Let aiortc answer telephone-event (idempotent)."""
    audio = CODECS["audio"]
    for codec in EVENTS:
        if not any(c.mimeType == MIME and c.clockRate == codec.clockRate for c in audio):
            audio.append(codec)


def event_payload_types(receiver: RTCRtpReceiver) -> set[int]:
    codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, "_RTCRtpReceiver__codecs", {})
    return {pt for pt, c in codecs.items() if c.mimeType.lower() == MIME}


def intercept(receiver: RTCRtpReceiver, on_digit: Callable[[str], None]) -> bool:
    """Route ``receiver``'s telephone-event packets to ``on_digit``; False if aiortc has
    no handler to wrap."""
    handler: Callable[..., Awaitable[None]] | None = getattr(
        receiver, "_handle_rtp_packet", None)
    if handler is None:
        return False
    detector = DtmfDetector()

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        if packet.payload_type in event_payload_types(receiver):
            try:
                found = detector.feed(RtpPacket(
                    payload_type=packet.payload_type, sequence_number=packet.sequence_number,
                    timestamp=packet.timestamp, ssrc=packet.ssrc, payload=packet.payload))
            except ValueError:
                return  # a malformed event: dropped, like any garbage packet
            if found is not None:
                on_digit(found.digit)
            return
        await handler(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]
    return True
