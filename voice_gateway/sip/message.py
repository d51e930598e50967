"""SIP requests and responses: parse (RFC 3261 §7, §18.3), serialize, build responses.

``parse_message(data)`` takes one whole message (a UDP datagram, or what
:class:`~voice_gateway.sip.framing.StreamFramer` cut from a TCP stream) and returns a
:class:`Request` or :class:`Response`, or raises
:class:`~voice_gateway.sip.errors.SipMessageError` carrying the status to answer with.
Header text must be UTF-8 (RFC 3261 §25.1): a Request-URI, header name or header value
that is not is a 400 here, so that no later reader (a caller number on its way to the
database) meets bytes it cannot encode. The one exception is a quoted display name
(``"张三" <sip:…>``), where trunks send GBK: no one reads it as text, and since header bytes
are decoded with ``surrogateescape`` it is copied back unaltered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from voice_gateway.sip import grammar
from voice_gateway.sip.errors import MessageTooLarge, SipMessageError
from voice_gateway.sip.headers import CSeq, Headers, NameAddress, SipUri, Via

SIP_VERSION = "SIP/2.0"
ENCODING = "utf-8"
ERRORS = "surrogateescape"

REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    413: "Request Entity Too Large", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    491: "Request Pending", 500: "Server Internal Error", 501: "Not Implemented",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 603: "Decline",
}  # fmt: skip

# Schemes a Request-URI may use here; anything else is 416 (RFC 4475 §3.3.2 unksm).
SUPPORTED_URI_SCHEMES = frozenset({"sip", "sips", "tel"})
REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")


@dataclass(frozen=True)
class Limits:
    """Size limits for received messages (bytes)."""

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024


DEFAULT_LIMITS = Limits()


class _Message:
    """Accessors shared by requests and responses."""

    headers: Headers
    body: bytes

    @property
    def call_id(self) -> str:
        """The Call-ID value."""
        return (self.headers.get("Call-ID") or "").strip()

    @property
    def cseq(self) -> CSeq:
        """The parsed CSeq (validated by the parser)."""
        return CSeq.parse(self.headers.get("CSeq") or "")

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first (several fields and comma-joined values alike)."""
        return [Via.parse(value) for value in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        """The topmost Via."""
        return Via.parse(self.headers.get_all("Via")[0])

    @property
    def branch(self) -> str | None:
        """The topmost Via's branch parameter."""
        return self.top_via.branch

    @property
    def from_(self) -> NameAddress:
        """The From header."""
        return NameAddress.parse(self.headers.get("From") or "")

    @property
    def to(self) -> NameAddress:
        """The To header."""
        return NameAddress.parse(self.headers.get("To") or "")

    @property
    def from_tag(self) -> str | None:
        """The From tag."""
        return self.from_.tag

    @property
    def to_tag(self) -> str | None:
        """The To tag (``None`` outside a dialog)."""
        return self.to.tag

    @property
    def contact(self) -> NameAddress | None:
        """The first Contact, if any and not ``*``."""
        values = self.headers.get_all("Contact")
        if not values or values[0].strip() == "*":
            return None
        return NameAddress.parse(values[0])

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters."""
        value = self.headers.get("Content-Type") or ""
        return value.split(";", 1)[0].strip().lower()

    def _serialize(self, start_line: str) -> bytes:
        lines = [start_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode(ENCODING, ERRORS) + self.body


@dataclass
class Request(_Message):
    """A SIP request."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def serialize(self) -> bytes:
        """Wire bytes; Content-Length is always written from the body."""
        return self._serialize(f"{self.method} {self.uri} {self.version}")


@dataclass
class Response(_Message):
    """A SIP response."""

    status: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def serialize(self) -> bytes:
        """Wire bytes; Content-Length is always written from the body."""
        return self._serialize(f"{self.version} {self.status} {self.reason}")


Message = Request | Response


def parse_message(data: bytes, *, stream: bool = False, limits: Limits = DEFAULT_LIMITS) -> Message:
    """Parse one complete message; raise :class:`SipMessageError` if it must be refused.

    On a datagram (``stream=False``) a missing Content-Length means the body runs to the
    end of the packet, and bytes beyond Content-Length are ignored (RFC 3261 §18.3); a
    Content-Length larger than what arrived is a 400 (RFC 4475 §3.1.2.2 clerr).
    """
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, rest = data.partition(b"\n\n")
    if len(head) > limits.max_header_bytes:
        raise MessageTooLarge("Header section too large", 513)
    text = head.decode(ENCODING, ERRORS).lstrip("\r\n")
    lines = text.replace("\r\n", "\n").split("\n")
    start_line, header_lines = lines[0], lines[1:]

    is_request = not start_line.startswith("SIP/")
    headers = _parse_headers(header_lines, is_request)

    def fail(reason: str, status: int = 400) -> SipMessageError:
        return SipMessageError(reason, status, headers=headers, is_request=is_request)

    for name, value in headers:
        if not _is_utf8_text(value):
            raise fail(f"{name} header is not valid UTF-8")
    if not separator:
        raise fail("Missing blank line after header fields")
    body = _frame_body(headers, rest, stream, limits, fail)
    if is_request:
        request = _parse_request_line(start_line, headers, body, fail)
        _validate_request(request, fail)
        return request
    match = grammar.STATUS_LINE_RE.fullmatch(start_line)
    if match is None:
        raise fail("Malformed Status-Line")
    if match["version"].upper() != SIP_VERSION:
        raise fail("Version Not Supported", 505)
    response = Response(int(match["status"]), match["reason"] or "", headers, body)
    _validate_common(response, fail)
    return response


class _Fail(Protocol):
    def __call__(self, reason: str, status: int = 400) -> SipMessageError: ...


def _parse_headers(lines: list[str], is_request: bool) -> Headers:
    headers = Headers()
    unfolded: list[str] = []
    for line in lines:
        if line and grammar.CONTINUATION_RE.match(line) and unfolded:
            unfolded[-1] = unfolded[-1].rstrip() + " " + line.strip()
        else:
            unfolded.append(line)
    for line in unfolded:
        match = grammar.HEADER_FIELD_RE.fullmatch(line)
        if match is None:
            not_utf8 = grammar.NOT_UTF8_RE.search(line)
            reason = "Header field is not valid UTF-8" if not_utf8 else "Malformed header field"
            raise SipMessageError(reason, 400, headers=headers, is_request=is_request)
        headers.add(match["name"], match["value"].strip())
    return headers


def _is_utf8_text(value: str) -> bool:
    """Whether a header value is UTF-8 everywhere but in quoted display names."""
    if not grammar.NOT_UTF8_RE.search(value):
        return True
    for item in grammar.split_list(value):
        display = grammar.QUOTED_DISPLAY_NAME_RE.match(item)
        if grammar.NOT_UTF8_RE.search(item, display.end() if display else 0):
            return False
    return True


def _frame_body(headers: Headers, rest: bytes, stream: bool, limits: Limits, fail: _Fail) -> bytes:
    values = headers.fields("Content-Length")
    if len(values) > 1:
        raise fail("Multiple Content-Length values")
    if not values:
        length = 0 if stream else len(rest)
    elif not grammar.DIGITS_RE.fullmatch(values[0]):
        raise fail("Invalid Content-Length")
    else:
        length = int(values[0])
    if length > limits.max_body_bytes:
        raise fail("Request Entity Too Large", 413)
    if length > len(rest):
        raise fail("Content-Length larger than message")
    return rest[:length]


def _parse_request_line(start_line: str, headers: Headers, body: bytes, fail: _Fail) -> Request:
    match = grammar.REQUEST_LINE_RE.fullmatch(start_line)
    if match is None:
        raise fail("Malformed Request-Line")
    if grammar.NOT_UTF8_RE.search(match["uri"]):
        raise fail("Request-URI is not valid UTF-8")
    version = match["version"]
    if not grammar.SIP_VERSION_RE.fullmatch(version):
        raise fail("Malformed Request-Line")
    if version.upper() != SIP_VERSION:
        raise fail("Version Not Supported", 505)
    return Request(match["method"], match["uri"], headers, body, SIP_VERSION)


def _validate_common(message: Message, fail: _Fail) -> None:
    headers = message.headers
    for name in REQUIRED_HEADERS:
        if name not in headers:
            raise fail(f"Missing {name} header")
    for name in grammar.SINGLE_HEADERS:
        if len(headers.fields(name)) > 1:
            raise fail(f"Multiple {grammar.canonical_name(name)} headers")
    if not grammar.CALL_ID_RE.fullmatch(message.call_id):
        raise fail("Malformed Call-ID")
    try:
        message.cseq  # noqa: B018  (parse to validate)
    except ValueError as exc:
        raise fail(f"Invalid CSeq: {exc}") from exc
    try:
        if not message.vias:
            raise ValueError("empty Via")
    except ValueError as exc:
        raise fail("Malformed Via header") from exc
    for name in ("From", "To"):
        try:
            NameAddress.parse(headers.get(name) or "")
        except ValueError as exc:
            raise fail(f"Malformed {name} header") from exc


def _validate_request(request: Request, fail: _Fail) -> None:
    try:
        uri = SipUri.parse(request.uri)
    except ValueError as exc:
        raise fail("Malformed Request-URI") from exc
    _validate_common(request, fail)
    if request.cseq.method != request.method:
        raise fail("CSeq method does not match Request-Line")
    max_forwards = request.headers.get("Max-Forwards")
    if max_forwards is not None and (
        not grammar.DIGITS_RE.fullmatch(max_forwards) or int(max_forwards) > 255
    ):
        raise fail("Invalid Max-Forwards")
    try:
        request.contact  # noqa: B018
    except ValueError as exc:
        raise fail("Malformed Contact header") from exc
    if uri.scheme not in SUPPORTED_URI_SCHEMES:
        raise fail("Unsupported URI Scheme", 416)
    if uri.headers is not None:
        raise fail("Header fields not allowed in Request-URI")


def build_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra_headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """A response to ``request`` (RFC 3261 §8.2.6.2).

    Via (every value, in order), From, Call-ID and CSeq are copied; To is copied and given
    ``to_tag`` unless it already carries a tag (never tag a 100 Trying: pass ``None``).
    """
    headers = Headers()
    for value in request.headers.fields("Via"):
        headers.add("Via", value)
    for name in ("From", "To", "Call-ID", "CSeq"):
        copied = request.headers.get(name)
        if copied is None:
            continue
        if name == "To" and to_tag is not None and status > 100:
            copied = _with_tag(copied, to_tag)
        headers.add(name, copied)
    for name, value in extra_headers:
        headers.add(name, value)
    if content_type is not None:
        headers.add("Content-Type", content_type)
    phrase = reason if reason is not None else REASON_PHRASES.get(status, "Unknown")
    return Response(status, phrase, headers, body)


def _with_tag(value: str, tag: str) -> str:
    try:
        if NameAddress.parse(value).tag is not None:
            return value
    except ValueError:
        return value
    return f"{value};tag={tag}"


def stamp_received(request: Request, source: tuple[str, int]) -> None:
    """Add ``received``/``rport`` to the top Via of a received request (RFC 3261 §18.2.1,
    RFC 3581), so that every response copies them."""
    fields = request.headers.fields("Via")
    via = Via.parse(request.headers.get_all("Via")[0])
    changed = False
    if via.host.strip("[]") != source[0]:
        via.params["received"] = source[0]
        changed = True
    if "rport" in via.params and via.params["rport"] is None:
        via.params["rport"] = str(source[1])
        changed = True
    if not changed:
        return
    rebuilt = ", ".join([str(via), *list(grammar.split_list(fields[0]))[1:]])
    headers = Headers()
    replaced = False
    for name, value in request.headers:
        if name == "Via" and not replaced:
            headers.add(name, rebuilt)
            replaced = True
        else:
            headers.add(name, value)
    request.headers = headers
