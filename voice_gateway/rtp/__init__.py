"""RTP media: packets, G.711, jitter buffer, playout, RFC 4733 DTMF, the sender and the
per-call UDP endpoint."""

from voice_gateway.rtp.dtmf import DtmfDetector, DtmfDigit, TelephoneEvent
from voice_gateway.rtp.endpoint import (
    AudioFrame,
    EndpointStats,
    PlaybackResult,
    RtpEndpoint,
    RtpSettings,
    RtpSource,
)
from voice_gateway.rtp.g711 import PCMA, PCMU, G711Codec, codec_for_name, codec_for_payload_type
from voice_gateway.rtp.jitterbuffer import JitterBuffer, JitterFrame, JitterStats
from voice_gateway.rtp.packet import RtpPacket, is_rtcp
from voice_gateway.rtp.playout import Playout, PlayoutFrame, PlayoutStats
from voice_gateway.rtp.ports import PortAllocator, RtpPortsExhausted
from voice_gateway.rtp.sender import RtpSender

__all__ = [
    "PCMA",
    "PCMU",
    "AudioFrame",
    "DtmfDetector",
    "DtmfDigit",
    "EndpointStats",
    "G711Codec",
    "JitterBuffer",
    "JitterFrame",
    "JitterStats",
    "PlaybackResult",
    "Playout",
    "PlayoutFrame",
    "PlayoutStats",
    "PortAllocator",
    "RtpEndpoint",
    "RtpPacket",
    "RtpPortsExhausted",
    "RtpSender",
    "RtpSettings",
    "RtpSource",
    "TelephoneEvent",
    "codec_for_name",
    "codec_for_payload_type",
    "is_rtcp",
]
