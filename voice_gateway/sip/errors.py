"""Every exception the SIP core raises, in one place.

::

    SipError                      base class
    ├── SipMessageError           received bytes are not an acceptable SIP message;
    │   │                         carries the status to answer with (400, 413, 416, 505, 513 ...)
    │   └── MessageTooLarge       header section or body over the configured limit (513 / 413)
    ├── SdpError                  an SDP body that cannot be parsed (ValueError as well)
    │   └── NoCommonCodec         offer/answer found nothing we can take (answer 488)
    ├── LocalProtocolError        the application asked for something the state does not allow
    └── AuthError                 malformed digest credentials (ValueError as well)

As in h11, a remote error carries the response that should be sent back
(``status`` and ``reason``), so the core can answer without a second lookup table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_gateway.sip.headers import Headers


class SipError(Exception):
    """Base class of every error raised by :mod:`voice_gateway.sip`."""


class SipMessageError(SipError):
    """A received message that must be refused.

    ``status``/``reason`` are the response to answer with. ``headers`` holds the header
    fields that could be parsed before the error (``None`` if not even the header section
    could be split), and ``is_request`` whether the start line looked like a request: the
    core needs both to address a response (a response is never answered).
    """

    def __init__(
        self,
        reason: str,
        status: int = 400,
        *,
        headers: Headers | None = None,
        is_request: bool | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers
        self.is_request = is_request


class MessageTooLarge(SipMessageError):
    """513 Message Too Large (header section) or 413 Request Entity Too Large (body)."""

    def __init__(self, reason: str, status: int = 513) -> None:
        super().__init__(reason, status)


class SdpError(SipError, ValueError):
    """An SDP body that could not be parsed; answer 400 (or 488 to an offer)."""

    status = 400


class NoCommonCodec(SdpError):
    """The offer holds no media stream we can accept: answer 488 Not Acceptable Here.

    ``warning`` is an RFC 3261 §20.43 warning code and text for the 488 when the reason is
    worth telling the peer, e.g. ``(302, "SRTP required")`` (Incompatible transport
    protocol: the m= line's RTP/AVP or RTP/SAVP).
    """

    status = 488

    def __init__(self, reason: str, warning: tuple[int, str] | None = None) -> None:
        super().__init__(reason)
        self.warning = warning


class LocalProtocolError(SipError):
    """The application asked for an operation the call's state does not allow."""


class AuthError(SipError, ValueError):
    """Malformed digest credentials (the caller should be challenged again)."""
