"""The caller's number from a SIP URI user part, or unknown with the raw value as evidence.

Pure: :func:`parse_caller_id` takes the user part as received (percent-encoded, as in
``sip:%2B8613812345678@host``) and returns a :class:`CallerId`. A number is an optional
leading ``+`` and 3 to 20 ASCII digits once RFC 3966 visual separators (``-`` ``.`` ``(``
``)``) and spaces are removed. Anything else, ``anonymous`` or markup, is unknown: the
number is ``None`` and ``raw`` keeps an escaped, shortened copy that is safe to store and
show (HTML-escaped, non-printable characters as ``\\xNN``), so no digit is ever picked out
of it (``%3Csvg%2Fonload%3Dalert(3)%3E`` is not the number 32333).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import unquote

# telephone-subscriber digits (RFC 3966 §3): "+" and 3..20 ASCII digits, after separators.
_NUMBER_RE = re.compile(r"\+?[0-9]{3,20}")
# visual-separator = "-" / "." / "(" / ")"  (RFC 3966 §3), and spaces people type.
_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")
MAX_EVIDENCE_CHARS = 64


@dataclass(frozen=True)
class CallerId:
    """A caller ID: ``number`` when it is a phone number, else ``None``.

    ``raw`` is the user part as received when ``number`` is set, an escaped copy of at most
    64 characters when it is not, and ``None`` when no caller ID was sent.
    """

    number: str | None
    raw: str | None


def parse_caller_id(raw: str | None) -> CallerId:
    """Validate and normalise a URI user part (see the module docstring)."""
    if raw is None:
        return CallerId(number=None, raw=None)
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        decoded = None  # percent-encoded bytes that are not UTF-8
    if decoded is not None:
        # user-parameters of a telephone-subscriber (;npdi, ;cpc=ordinary, ;phone-context)
        # as carriers' trunks send them: the number is what comes before.
        number = decoded.split(";", 1)[0].translate(_VISUAL_SEPARATORS)
        if _NUMBER_RE.fullmatch(number):
            return CallerId(number=number, raw=raw)
    return CallerId(number=None, raw=_evidence(unquote(raw, errors="backslashreplace")))


def _evidence(text: str) -> str:
    """``text`` HTML-escaped, non-printable characters as ``\\xNN``, cut to 64 characters
    (never inside an escape)."""
    out: list[str] = []
    size = 0
    for char in text:
        piece = html.escape(char) if char.isprintable() else _escape(char)
        if size + len(piece) > MAX_EVIDENCE_CHARS:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
