"""Torture cases modelled on RFC 4475: what the core answers to each message.

Each row is (name, message, expected): an int is the status of the single response sent
back, ``None`` means silently dropped, ``"call"`` means an IncomingCall event (after 100).
"""

from __future__ import annotations

import pytest

from voice_gateway.sip.events import IncomingCall, OptionsPing

from .support import OFFER, Harness, invite, request

SDP_LEN = len(OFFER)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# §3.1.1.1 wsinv: a short, tortuous INVITE (folding, odd spacing, compact and long forms).
WSINV = crlf(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n  ;\n  tag = 98asjd8\n'
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    "Content-Length   : 0\n"
    "cseq: 0009\n  INVITE\n"
    "Via  : SIP  /   2.0\n /UDP\n    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Contact:\n <sip:user@host.example.com>\n\n"
)

# §3.1.1.2 intmeth: a wide range of token characters in the method -> 501 at a UA.
INTMETH = (
    crlf(
        "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$"
        "/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
        'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" '
        "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        "@example.com>\n"
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
        '"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9";tag=_token~1\'+`*%!-.\n'
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
        "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
        "Max-Forwards: 255\n"
        "extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\n"
        "Content-Length: 0\n\n"
    )
    .decode("latin-1")
    .encode("latin-1")
)

# §3.1.1.4 escnull: escaped NUL in user names.
ESCNULL = request("OPTIONS", uri="sip:null-%00-null@example.com")
# §3.1.1.5 esc02: a % that is not an escape in the method name.
ESC02 = request("RE%47IST", uri="sip:registrar.example.com")
# §3.1.1.6 lwsdisp: no LWS between display name and <.
LWSDISP = request("OPTIONS").replace(b"From: <", b"From: caller<")
# §3.1.1.7 longreq: very long values.
LONGREQ = request("OPTIONS", extra="X-Long: " + "a" * 3000, call_id="longreq." + "b" * 500)
# §3.1.1.8 dblreq: two requests in one datagram (only the first is processed).
DBLREQ = request("OPTIONS") + request("OPTIONS", branch="z9hG4bKsecond")
# §3.1.1.9 semiuri: semicolons in the user part.
SEMIURI = request("OPTIONS", uri="sip:user;par=u%40example.net@example.com")
# §3.1.1.10 transports: unusual transport tokens in further Via values.
TRANSPORTS = request("OPTIONS").replace(
    b"Max-Forwards",
    b"Via: SIP/2.0/SCTP t.example.com;branch=z9hG4bK1, SIP/2.0/TLS t2.example.com;branch=z9"
    b"hG4bK2, SIP/2.0/UNKNOWN t3.example.com;branch=z9hG4bK3\r\nMax-Forwards",
)
# §3.1.1.12 unreason: a UTF-8 reason phrase in a response (a response is never answered).
UNREASON = crlf(
    "SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\nCSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\nTo: sip:user@example.edu;tag=2229\n"
    "Content-Length: 0\n\n"
)
# §3.3.14-ish: a Request-URI with a tel: scheme is acceptable.
NOVELSC = invite(uri="tel:+8612345")

VALID = [
    ("wsinv (To tag of no dialog)", WSINV, 481),
    ("intmeth", INTMETH, 501),
    ("escnull", ESCNULL, 200),
    ("esc02", ESC02, 501),
    ("lwsdisp", LWSDISP, 200),
    ("longreq", LONGREQ, 200),
    ("dblreq", DBLREQ, 200),
    ("semiuri", SEMIURI, 200),
    ("transports", TRANSPORTS, 200),
    ("unreason", UNREASON, None),
    ("novelsc", NOVELSC, "call"),
    ("inv2543 (no magic cookie)", invite(branch="oldstyle"), "call"),
    ("zeromf (Max-Forwards 0 at a UAS)", request("OPTIONS", extra="Max-Forwards: 0").replace(
        b"Max-Forwards: 70\r\n", b""), 200),
    ("mpart01 (SDP inside multipart/mixed)", invite(
        content_type='multipart/mixed;boundary="7a9cbec.2"',
        body="--7a9cbec.2\r\nContent-Type: application/sdp\r\n\r\n" + OFFER +
             "\r\n--7a9cbec.2\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n"
             "--7a9cbec.2--\r\n"), "call"),
    ("register (known method, not ours)", request("REGISTER", uri="sip:example.com"), 405),
    ("unknown method", request("FROBNICATE"), 501),
    ("bye outside any dialog", request("BYE"), 481),
    ("bye for unknown dialog", request("BYE", to_tag="nope"), 481),
    ("cancel matching nothing", request("CANCEL"), 481),
    ("stray ack", request("ACK", to_tag="nope"), None),
]  # fmt: skip


def drop_line(data: bytes, prefix: bytes) -> bytes:
    return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(prefix))


INVALID = [
    # §3.1.2.1 badinv01: header field separators where they do not belong.
    ("badinv01", request("OPTIONS").replace(b"Max-Forwards: 70", b"Max-Forwards 70"), 400),
    # §3.1.2.2 clerr: Content-Length larger than the message.
    ("clerr", invite().replace(b"Content-Length: %d" % SDP_LEN, b"Content-Length: 9999"), 400),
    # §3.1.2.3 ncl: negative Content-Length.
    ("ncl", invite().replace(b"Content-Length: %d" % SDP_LEN, b"Content-Length: -999"), 400),
    ("non-numeric Content-Length", request("OPTIONS").replace(
        b"Content-Length: 0", b"Content-Length: zero"), 400),
    # §3.1.2.4 scalar02: overlarge scalar fields.
    ("scalar02 cseq", request("OPTIONS").replace(b"CSeq: 1 ", b"CSeq: 36893488147419103232 "), 400),
    ("scalar02 max-forwards", request("OPTIONS").replace(b"Max-Forwards: 70",
                                                         b"Max-Forwards: 300"), 400),
    # §3.1.2.5 scalarlg / §3.1.2.19 bigcode: bad responses are dropped, never answered.
    ("bigcode", UNREASON.replace(b"200 = 2**3", b"4294967301 Big"), None),
    # §3.1.2.6 quotbal: unterminated quoted string in a display name.
    ("quotbal", request("OPTIONS").replace(b"From: <", b'From: "Mr J. User <'), 400),
    # §3.1.2.7 ltgtruri: <> enclosing the Request-URI.
    ("ltgtruri", request("OPTIONS", uri="<sip:user@example.com>"), 400),
    # §3.1.2.8 lwsruri: embedded LWS in the Request-URI.
    ("lwsruri", request("OPTIONS", uri="sip:user@example.com; lr"), 400),
    # §3.1.2.9 lwsstart: several SP separating Request-Line elements.
    ("lwsstart", request("OPTIONS").replace(b"OPTIONS sip:", b"OPTIONS  sip:", 1), 400),
    # §3.1.2.11 escruri: escaped headers in the Request-URI.
    ("escruri", request("OPTIONS", uri="sip:user@example.com?Route=%3Csip:example.com%3E"), 400),
    # §3.1.2.13 regbadct: name-addr with parameters not enclosed in <>.
    ("regbadct", request("OPTIONS").replace(b"From: <sip:13812345678@127.0.0.1>",
                                            b"From: sip:user@example.com?Route=foo"), 400),
    # §3.1.2.14 badaspec: spaces within addr-spec.
    ("badaspec", request("OPTIONS").replace(b"From: <sip:13812345678@127.0.0.1>",
                                            b'From: "Watson, Thomas" < sip:t.watson@example.org >'),
     400),
    # §3.1.2.15 baddn: non-token characters in an unquoted display name.
    ("baddn", request("OPTIONS").replace(b"From: <", b"From: Bell, Alexander <"), 400),
    # §3.1.2.16 badvers: unknown protocol version.
    ("badvers", request("OPTIONS").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1), 505),
    # §3.1.2.17 cseqmethod: CSeq method does not match the start line.
    ("cseqmethod", request("OPTIONS", cseq_method="INVITE"), 400),
    # §3.1.2.18 unkmeth: unknown method with CSeq method mismatch.
    ("unkmeth", request("NEWMETHOD", cseq_method="INVITE"), 400),
    ("non-numeric CSeq", request("OPTIONS").replace(b"CSeq: 1 ", b"CSeq: one "), 400),
    # §3.3.1 insuf: missing required header fields.
    ("insuf Call-ID", drop_line(request("OPTIONS"), b"Call-ID"), 400),
    ("insuf From", drop_line(request("OPTIONS"), b"From"), 400),
    ("insuf To", drop_line(request("OPTIONS"), b"To:"), 400),
    ("insuf CSeq", drop_line(request("OPTIONS"), b"CSeq"), 400),
    ("no Via at all: nothing to address", drop_line(request("OPTIONS"), b"Via"), None),
    # §3.3.2 unksm: Request-URI with an unknown scheme.
    ("unksm", request("OPTIONS", uri="nobodyKnowsThisScheme:totallyopaque"), 416),
    # §3.3.5 bext01: Require of an extension we lack.
    ("bext01", request("OPTIONS", extra="Require: nothingSupportsThis, nothingSupportsThisEither"),
     420),
    # §3.3.6 invut: unknown Content-Type on an INVITE.
    ("invut", invite(content_type="application/unknownformat", body="<audio>ok</audio>"), 415),
    # §3.3.8 multi01: several values in single-value fields.
    ("multi01", request("OPTIONS", extra="Call-ID: other"), 400),
    # §3.3.9 mcl01: several Content-Length values.
    ("mcl01", request("OPTIONS", extra="Content-Length: 3"), 400),
    # §3.3.15 sdp01: Accept that excludes SDP.
    ("sdp01", invite(extra="Accept: text/nobodyKnowsThis"), 406),
    ("malformed SDP", invite(body="v=1\r\nnot sdp\r\n"), 400),
    ("no common codec", invite(body=OFFER.replace("8 0 101", "18 101").replace(
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:18 G729/8000\r\n")), 488),
    ("malformed header line", request("OPTIONS", extra="no colon here"), 400),
    ("malformed Via", request("OPTIONS").replace(b"Via: SIP/2.0/UDP 127.0.0.1:5061",
                                                 b"Via: SIP/2.0 127.0.0.1:5061"), 400),
    ("broken ACK is never answered", request("ACK").replace(b"CSeq: 1 ACK", b"CSeq: x ACK"), None),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello tls", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "expected"), VALID + INVALID, ids=lambda v: v if isinstance(v, str) else ""
)
def test_torture(name: str, data: bytes, expected: int | str | None) -> None:
    harness = Harness()
    events = harness.feed(data)
    statuses = harness.statuses()
    if expected == "call":
        assert statuses == [100]
        assert [type(e) for e in events] == [IncomingCall]
    elif expected is None:
        assert statuses == []
        assert events == []
    else:
        assert statuses == [expected], name
        assert all(isinstance(e, OptionsPing) for e in events)
    assert harness.core.stats.internal_errors == 0


def test_error_response_carries_reason_and_addressing() -> None:
    harness = Harness()
    harness.feed(request("OPTIONS", cseq_method="INVITE"))
    (sent,) = harness.take()
    assert sent.dest == ("127.0.0.1", 5061)
    assert sent.data.startswith(b"SIP/2.0 400 CSeq method does not match Request-Line\r\n")
    response = sent.response
    assert response.call_id == "call-1" and response.to_tag == "id0"
    assert harness.core.stats.malformed_answered == 1


def test_garbage_is_counted() -> None:
    harness = Harness()
    harness.feed(b"\xff\xfe garbage")
    harness.feed(b"\r\n\r\n")  # a keep-alive is not garbage
    assert harness.core.stats.malformed_dropped == 1
