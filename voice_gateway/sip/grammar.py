"""RFC 3261 grammar as regular expressions, with the ABNF quoted above each one.

Only what the parser needs is here; the structure follows ``h11/_abnf.py``. Every
pattern is meant for ``fullmatch`` unless said otherwise. Header values arrive here
already unfolded (continuation lines joined with a single space).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# UTF8-NONASCII  =  %xC0-DF 1UTF8-CONT / %xE0-EF 2UTF8-CONT / ... (RFC 3261 §25.1)
# Header text is UTF-8. The parser decodes with surrogateescape, so every byte that is not
# part of valid UTF-8 becomes a lone surrogate U+DC80..U+DCFF: this finds one (use search).
NOT_UTF8_RE = re.compile("[\udc80-\udcff]")

# alphanum  =  ALPHA / DIGIT
# token     =  1*(alphanum / "-" / "." / "!" / "%" / "*"
#              / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(TOKEN)

# SIP-Version    =  "SIP" "/" 1*DIGIT "." 1*DIGIT
SIP_VERSION = r"[Ss][Ii][Pp]/[0-9]+\.[0-9]+"
SIP_VERSION_RE = re.compile(SIP_VERSION)

# Method            =  INVITEm / ACKm / OPTIONSm / BYEm
#                      / CANCELm / REGISTERm
#                      / extension-method
# extension-method  =  token
METHOD = TOKEN

# Request-Line   =  Method SP Request-URI SP SIP-Version CRLF
# (the URI is checked separately; a single SP on either side, RFC 4475 lwsstart/lwsruri)
REQUEST_LINE_RE = re.compile(rf"(?P<method>{METHOD}) (?P<uri>[^ \t]+) (?P<version>[^ \t]+) ?")

# Status-Line     =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
# Status-Code     =  3DIGIT (the value must lie in 100..699)
# Reason-Phrase   =  *(reserved / unreserved / escaped
#                    / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
STATUS_LINE_RE = re.compile(
    rf"(?P<version>{SIP_VERSION}) (?P<status>[1-6][0-9][0-9])(?: (?P<reason>[^\r\n]*))?"
)

# message-header  =  header-name HCOLON header-value CRLF
# header-name     =  token
# HCOLON          =  *( SP / HTAB ) ":" SWS
HEADER_FIELD_RE = re.compile(rf"(?P<name>{TOKEN})[ \t]*:[ \t]*(?P<value>.*)", re.DOTALL)

# LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
# A line starting with WSP continues the previous header field (folding).
CONTINUATION_RE = re.compile(r"[ \t]")

# Request-URI    =  SIP-URI / SIPS-URI / absoluteURI
# absoluteURI    =  scheme ":" ( hier-part / opaque-part )
# scheme         =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
URI_SCHEME_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*):(?P<rest>\S+)")

# SIP-URI          =  "sip:" [ userinfo ] hostport
#                     uri-parameters [ headers ]
# userinfo         =  ( user / telephone-subscriber ) [ ":" password ] "@"
# user             =  1*( unreserved / escaped / user-unreserved )
# user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
# hostport         =  host [ ":" port ]
# host             =  hostname / IPv4address / IPv6reference
# uri-parameters   =  *( ";" uri-parameter)
# headers          =  "?" header *( "&" header )
SIP_URI_RE = re.compile(
    r"(?P<scheme>[Ss][Ii][Pp][Ss]?):"
    r"(?:(?P<user>[^:@\s<>]+)(?::(?P<password>[^@\s<>]*))?@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<params>(?:;[^;?\s]*)*)"
    r"(?:\?(?P<headers>\S*))?"
)

# escaped     =  "%" HEXDIG HEXDIG
ESCAPED_RE = re.compile(r"%([0-9A-Fa-f]{2})")

# name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
# display-name   =  *(token LWS)/ quoted-string
# quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
NAME_ADDR_RE = re.compile(
    rf"[ \t]*(?P<display>{QUOTED_STRING}|(?:{TOKEN}[ \t]*)*)"
    r"[ \t]*<(?P<uri>[^<>\s]*)>[ \t]*(?P<params>(?:;.*)?)",
    re.DOTALL,
)
# The display-name of a name-addr when it is a quoted-string, up to LAQUOT (use with match).
QUOTED_DISPLAY_NAME_RE = re.compile(rf"[ \t]*{QUOTED_STRING}[ \t]*(?=<)")
# addr-spec      =  SIP-URI / SIPS-URI / absoluteURI
# (without angle brackets, the URI ends at the first ";": what follows are header params)
ADDR_SPEC_RE = re.compile(r"[ \t]*(?P<uri>[^<>;,?\s\"]+)[ \t]*(?P<params>(?:;.*)?)", re.DOTALL)

# generic-param  =  token [ EQUAL gen-value ]
# gen-value      =  token / host / quoted-string
GENERIC_PARAM_RE = re.compile(
    rf"[ \t]*(?P<name>{TOKEN})[ \t]*(?:=[ \t]*(?P<value>{QUOTED_STRING}|[^;\s]+))?[ \t]*"
)

# CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
CSEQ_RE = re.compile(rf"(?P<number>[0-9]+)[ \t]+(?P<method>{METHOD})")

# Call-ID  =  ( "Call-ID" / "i" ) HCOLON callid
# callid   =  word [ "@" word ]
# word     =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
#             / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?"
#             / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
CALL_ID_RE = re.compile(rf"{WORD}(?:@{WORD})?")

# via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol     =  protocol-name SLASH protocol-version SLASH transport
# sent-by           =  host [ COLON port ]
VIA_RE = re.compile(
    rf"(?P<name>{TOKEN})[ \t]*/[ \t]*(?P<version>{TOKEN})[ \t]*/[ \t]*(?P<transport>{TOKEN})"
    r"[ \t]+(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*(?P<port>[0-9]{1,5}))?"
    r"[ \t]*(?P<params>(?:;.*)?)",
    re.DOTALL,
)

# Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
# Max-Forwards    =  "Max-Forwards" HCOLON 1*DIGIT
DIGITS_RE = re.compile(r"[0-9]{1,10}")

# IPv4address    =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4_RE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")

# Compact forms (RFC 3261 §7.3.3, plus RFC 3515/3891/4028/6665 assignments).
COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
}

# Canonical spelling of the header names we emit or look at.
_CANONICAL = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "In-Reply-To",
    "Max-Forwards", "MIME-Version", "Min-Expires", "Organization", "P-Asserted-Identity",
    "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reply-To", "Require", "Retry-After", "Route",
    "Server", "Session-Expires", "Subject", "Supported", "Timestamp", "To", "Unsupported",
    "User-Agent", "Via", "Warning", "WWW-Authenticate",
]  # fmt: skip
CANONICAL_NAMES = {name.lower(): name for name in _CANONICAL}

# Header fields whose value is a comma-separated list (RFC 3261 §7.3.1). Authorization and
# WWW-Authenticate carry commas inside one value and are deliberately absent.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require",
        "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language",
        "Allow-Events", "Content-Encoding", "Content-Language", "Warning", "Reason",
    )
)  # fmt: skip

# Header fields that may appear at most once (RFC 4475 §3.3.8 multi01, mcl01).
SINGLE_HEADERS = frozenset(
    name.lower() for name in ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length")
)


def canonical_name(name: str) -> str:
    """The canonical spelling of a header name; compact forms become the long form."""
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return CANONICAL_NAMES.get(lower, name)


def split_list(value: str) -> Iterator[str]:
    """Split a comma-separated header value, respecting quoted strings and ``<...>``.

    COMMA  =  SWS "," SWS ; comma
    """
    depth_angle = False
    in_quote = False
    escaped = False
    start = 0
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif in_quote:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quote = False
        elif char == '"':
            in_quote = True
        elif char == "<":
            depth_angle = True
        elif char == ">":
            depth_angle = False
        elif char == "," and not depth_angle:
            item = value[start:index].strip()
            if item:
                yield item
            start = index + 1
    item = value[start:].strip()
    if item:
        yield item


def split_params(text: str) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` into a dict keyed by lower-case name.

    Quoted values keep their quotes removed; a malformed parameter raises ``ValueError``.
    """
    params: dict[str, str | None] = {}
    if not text.strip():
        return params
    if not text.lstrip().startswith(";"):
        raise ValueError("parameters must start with ';'")
    for part in _split_semicolons(text.lstrip()[1:]):
        match = GENERIC_PARAM_RE.fullmatch(part)
        if match is None:
            raise ValueError("malformed parameter")
        value = match["value"]
        if value is not None and value.startswith('"'):
            value = unquote(value)
        params[match["name"].lower()] = value
    return params


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    in_quote = False
    escaped = False
    start = 0
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and in_quote:
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char == ";" and not in_quote:
            parts.append(text[start:index])
            start = index + 1
    if in_quote:
        raise ValueError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def unquote(text: str) -> str:
    """Remove the quotes of a quoted-string and resolve its quoted-pairs."""
    inner = text[1:-1]
    return re.sub(r"\\(.)", r"\1", inner)


def quote(text: str) -> str:
    """Make a quoted-string of ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unescape(text: str) -> str:
    """Resolve ``%HH`` escapes (RFC 3261 §19.1.4 compares URIs unescaped)."""
    return ESCAPED_RE.sub(lambda m: chr(int(m.group(1), 16)), text)
