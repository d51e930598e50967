"""Sans-IO SIP user agent server (RFC 3261) with asyncio UDP/TCP transports.

The core (:class:`UserAgentServer`) takes bytes and timer firings and returns events and
actions; :class:`~voice_gateway.sip.transport.SipEndpoint` runs it over sockets.
"""

from voice_gateway.sip.errors import (
    LocalProtocolError,
    MessageTooLarge,
    NoCommonCodec,
    SdpError,
    SipError,
    SipMessageError,
)
from voice_gateway.sip.events import (
    AckReceived,
    Action,
    Address,
    CallCancelled,
    CallEnded,
    CallHandle,
    Dtmf,
    EndReason,
    Event,
    HoldChanged,
    IncomingCall,
    MediaChanged,
    OptionsPing,
    TimerCancel,
    TimerRequest,
    TransferProgress,
    Transmit,
    Transport,
)
from voice_gateway.sip.sdp import AudioPolicy, NegotiatedAudio, SessionDescription, answer_offer
from voice_gateway.sip.transactions import TimerConfig
from voice_gateway.sip.uas import Refusal, UasConfig, UserAgentServer

__all__ = [
    "AckReceived",
    "Action",
    "Address",
    "AudioPolicy",
    "CallCancelled",
    "CallEnded",
    "CallHandle",
    "Dtmf",
    "EndReason",
    "Event",
    "HoldChanged",
    "IncomingCall",
    "LocalProtocolError",
    "MediaChanged",
    "MessageTooLarge",
    "NegotiatedAudio",
    "NoCommonCodec",
    "OptionsPing",
    "Refusal",
    "SdpError",
    "SessionDescription",
    "SipError",
    "SipMessageError",
    "TimerCancel",
    "TimerConfig",
    "TimerRequest",
    "TransferProgress",
    "Transmit",
    "Transport",
    "UasConfig",
    "UserAgentServer",
    "answer_offer",
]
