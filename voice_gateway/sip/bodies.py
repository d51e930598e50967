"""Message bodies the UAS reads: SDP (plain or inside multipart/mixed) and DTMF INFO."""

from __future__ import annotations

import re
from dataclasses import dataclass

from voice_gateway.sip.message import Request, Response

SDP_TYPE = "application/sdp"
DTMF_RELAY_TYPE = "application/dtmf-relay"
DTMF_TYPE = "application/dtmf"

_BOUNDARY_RE = re.compile(r';\s*boundary\s*=\s*"?([^";]+)"?', re.IGNORECASE)
# RFC 4733 event codes 10..15 as sent by some gateways in Signal=
_EVENT_DIGITS = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}
_DIGITS = frozenset("0123456789*#ABCD")


def find_sdp(request: Request | Response) -> bytes | None:
    """The SDP body of a request (or of a response to ours): the body itself, or the
    application/sdp part of a multipart/mixed body (RFC 4475 §3.1.1.11 mpart01). ``None``
    if there is none."""
    if not request.body:
        return None
    content_type = request.content_type
    if content_type in ("", SDP_TYPE):
        return request.body
    if content_type.startswith("multipart/"):
        match = _BOUNDARY_RE.search(request.headers.get("Content-Type") or "")
        if match is None:
            return None
        delimiter = b"--" + match.group(1).encode()
        for part in request.body.split(delimiter)[1:]:
            if part.startswith(b"--"):
                break
            head, _, body = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-type" and value.strip().lower().startswith(
                    SDP_TYPE.encode()
                ):
                    return body.removesuffix(b"\r\n")
    return None


def acceptable_body(request: Request) -> bool:
    """Whether the body of an INVITE/re-INVITE is something we can read (else 415)."""
    return not request.body or find_sdp(request) is not None


@dataclass(frozen=True)
class DtmfDigit:
    """A digit carried by SIP INFO."""

    digit: str
    duration_ms: int | None


def parse_dtmf_info(content_type: str, body: bytes) -> DtmfDigit:
    """Parse ``Signal=5\\r\\nDuration=160`` (dtmf-relay) or ``5`` (application/dtmf).

    Raises ``ValueError`` when no valid digit is found.
    """
    text = body.decode("ascii", "replace")
    duration: int | None = None
    if content_type == DTMF_TYPE:
        signal = text.strip()
    else:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip().lower()] = value.strip()
        signal = fields.get("signal", "")
        if fields.get("duration", "").isdigit():
            duration = int(fields["duration"])
    signal = _EVENT_DIGITS.get(signal, signal.upper())
    if len(signal) != 1 or signal not in _DIGITS:
        raise ValueError("no DTMF digit in INFO body")
    return DtmfDigit(signal, duration)


def parse_sipfrag_status(body: bytes) -> int | None:
    """The status code of a message/sipfrag body's start line (``SIP/2.0 200 OK``), or None
    when it holds no status line (RFC 3420; RFC 3515 §2.4.5)."""
    first = body.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
    parts = first.split(None, 2)
    if len(parts) < 2 or not parts[0].upper().startswith(b"SIP/"):
        return None
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
        return None
    return int(code)
