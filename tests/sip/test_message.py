"""Parsing, serializing and framing of SIP messages."""

from __future__ import annotations

import pytest

from voice_gateway.sip.errors import MessageTooLarge, SipMessageError
from voice_gateway.sip.framing import KEEPALIVE, StreamFramer
from voice_gateway.sip.headers import Headers, NameAddress, SipUri, Via
from voice_gateway.sip.message import Limits, Request, Response, build_response, parse_message

from .support import invite, request

COMPACT = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
    b"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"t: Bob <sip:bob@biloxi.example.com>\r\n"
    b"i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"c: application/sdp\r\n"
    b"k: timer\r\n"
    b"s: hello\r\n"
    b"e: identity\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\n"
)


def test_compact_forms_are_expanded() -> None:
    message = parse_message(COMPACT)
    assert isinstance(message, Request)
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert message.from_tag == "1928301774"
    assert message.to_tag is None
    assert message.branch == "z9hG4bKnashds8"
    assert message.content_type == "application/sdp"
    assert message.headers.get("Supported") == "timer"
    assert message.headers.get("subject") == "hello"
    assert message.headers.get("Content-Encoding") == "identity"
    assert message.body == b"v=0\r"[:4]
    contact = message.contact
    assert contact is not None and str(contact.uri) == "sip:alice@pc33.atlanta.example.com"


def test_names_are_case_insensitive_and_serialized_canonically() -> None:
    data = request("OPTIONS").replace(b"Call-ID:", b"CALL-id:").replace(b"CSeq:", b"cseq:")
    message = parse_message(data)
    assert message.call_id == "call-1"
    wire = message.serialize()
    assert b"\r\nCall-ID: call-1\r\n" in wire and b"\r\nCSeq: 1 OPTIONS\r\n" in wire


def test_folded_header_is_unfolded() -> None:
    data = request("OPTIONS", extra="Subject: first\r\n  second\r\n\tthird")
    assert parse_message(data).headers.get("Subject") == "first second third"


def test_several_via_fields_and_comma_joined_values() -> None:
    data = request("OPTIONS", extra="").replace(
        b"Max-Forwards",
        b"Via: SIP/2.0/TCP proxy.example.com:5070;branch=z9hG4bK2, "
        b"SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK3;received=10.0.0.1\r\nMax-Forwards",
    )
    message = parse_message(data)
    vias = message.vias
    assert [v.transport for v in vias] == ["UDP", "TCP", "UDP"]
    assert vias[1].sent_by == "proxy.example.com:5070"
    assert vias[2].host == "[2001:db8::1]" and vias[2].params["received"] == "10.0.0.1"
    response = build_response(message, 200)
    assert response.headers.fields("Via") == message.headers.fields("Via")


def test_multi_value_header_accessors() -> None:
    headers = Headers([("Allow", "INVITE, ACK"), ("allow", "BYE"), ("Authorization", "a, b")])
    assert headers.get_all("Allow") == ["INVITE", "ACK", "BYE"]
    assert headers.get_all("Authorization") == ["a, b"]
    headers.set("ALLOW", "OPTIONS")
    assert headers.fields("Allow") == ["OPTIONS"]


def test_request_round_trip() -> None:
    data = invite()
    message = parse_message(data)
    assert message.serialize() == data


def test_response_parse() -> None:
    data = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        b"From: <sip:a@a.example.com>;tag=1\r\nTo: <sip:b@b.example.com>;tag=2\r\n"
        b"Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert isinstance(message, Response)
    assert (message.status, message.reason, message.to_tag) == (180, "Ringing", "2")


def test_build_response_copies_and_tags() -> None:
    message = parse_message(invite())
    assert isinstance(message, Request)
    response = build_response(message, 486, to_tag="abc")
    assert response.serialize() == (
        b"SIP/2.0 486 Busy Here\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKb1\r\n"
        b"From: <sip:13812345678@127.0.0.1>;tag=ft1\r\n"
        b"To: <sip:12345@127.0.0.1>;tag=abc\r\n"
        b"Call-ID: call-1\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert b"tag=" not in build_response(message, 100, to_tag="abc").headers.get("To").encode()  # type: ignore[union-attr]


def test_gbk_display_name_survives_copying() -> None:
    data = invite().replace(b"From: <", '"张三" <'.encode("gbk").join([b"From: ", b""]))
    message = parse_message(data)
    assert isinstance(message, Request)
    assert '"张三"'.encode("gbk") in build_response(message, 200).serialize()


@pytest.mark.parametrize(
    ("text", "user", "host", "port", "params"),
    [
        ("sip:alice@atlanta.com", "alice", "atlanta.com", None, {}),
        ("sip:+86-10-12345@10.0.0.1:5080;user=phone", "+86-10-12345", "10.0.0.1", 5080,
         {"user": "phone"}),
        ("sips:[2001:db8::10]:5061;transport=tls;lr", None, "[2001:db8::10]", 5061,
         {"transport": "tls", "lr": None}),
        ("sip:%61lice@atlanta.com", "%61lice", "atlanta.com", None, {}),
    ],
)  # fmt: skip
def test_sip_uri(
    text: str, user: str | None, host: str, port: int | None, params: dict[str, str | None]
) -> None:
    uri = SipUri.parse(text)
    assert (uri.user, uri.host, uri.port, uri.params) == (user, host, port, params)
    assert str(uri) == text


def test_name_address_forms() -> None:
    assert NameAddress.parse('"A \\"q\\"" <sip:a@b>;tag=1').display_name == 'A "q"'
    plain = NameAddress.parse("sip:a@b;tag=7")
    assert plain.tag == "7" and plain.uri.params == {}
    assert NameAddress.parse("Bob  Smith <sip:bob@b>").display_name == "Bob Smith"
    with pytest.raises(ValueError):
        NameAddress.parse('"unterminated <sip:a@b>')


def test_via_serialize() -> None:
    via = Via.parse("SIP/2.0/udp host.example:5070 ;branch=z9hG4bKx;rport")
    assert str(via) == "SIP/2.0/UDP host.example:5070;branch=z9hG4bKx;rport"


# --- datagram framing ----------------------------------------------------------------


def test_datagram_without_content_length_takes_the_rest() -> None:
    data = invite().replace(b"Content-Length: 231\r\n", b"")
    message = parse_message(data)
    assert message.body.startswith(b"v=0")


def test_datagram_extra_bytes_after_body_are_ignored() -> None:
    data = request("OPTIONS") + b"garbage after the message"
    assert parse_message(data).body == b""


def test_oversized_header_section() -> None:
    data = request("OPTIONS", extra="X-Big: " + "a" * 200)
    with pytest.raises(MessageTooLarge) as info:
        parse_message(data, limits=Limits(max_header_bytes=200))
    assert info.value.status == 513


def test_oversized_body() -> None:
    with pytest.raises(SipMessageError) as info:
        parse_message(invite(), limits=Limits(max_body_bytes=10))
    assert info.value.status == 413 and info.value.headers is not None


# --- stream framing --------------------------------------------------------------------


def test_stream_framer_splits_and_joins_chunks() -> None:
    one, two = invite(), request("OPTIONS", branch="z9hG4bKo")
    stream = one + two
    framer = StreamFramer()
    out: list[object] = []
    for index in range(0, len(stream), 7):
        out += framer.feed(stream[index : index + 7])
    assert out == [one, two]
    assert framer.buffered == 0


def test_stream_framer_keepalives() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r\n") == [KEEPALIVE]
    assert framer.feed(b"\r\n\r\n" + request("OPTIONS")) == [KEEPALIVE, request("OPTIONS")]


def test_stream_framer_bad_content_length_hands_out_headers_and_breaks() -> None:
    framer = StreamFramer()
    data = request("OPTIONS").replace(b"Content-Length: 0", b"Content-Length: x")
    (item,) = framer.feed(data)
    assert framer.broken
    assert isinstance(item, bytes)
    with pytest.raises(SipMessageError) as info:
        parse_message(item, stream=True)
    assert info.value.status == 400


def test_stream_framer_unterminated_header_section() -> None:
    framer = StreamFramer(Limits(max_header_bytes=100))
    with pytest.raises(MessageTooLarge):
        framer.feed(b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 30)
    assert framer.broken


def test_stream_missing_content_length_means_empty_body() -> None:
    data = request("OPTIONS").replace(b"Content-Length: 0\r\n", b"")
    assert StreamFramer().feed(data) == [data]
    assert parse_message(data, stream=True).body == b""


# --- header text must be UTF-8 ---------------------------------------------------------

# (name, exact bytes in, the 400's reason). \xc3\x28 is a lead byte followed by "(", the
# From of a trunk whose bad value reached the database; \xc0\xaf an overlong "/";
# \xed\xa0\x80 an encoded surrogate; \xe5\xa4 a three-byte character cut short.
NOT_UTF8 = [
    ("From URI user", invite().replace(b"<sip:13812345678@", b"<sip:\xc3\x28138123@"),
     "From header is not valid UTF-8"),
    ("To URI user", invite().replace(b"<sip:12345@", b"<sip:12\xff345@"),
     "To header is not valid UTF-8"),
    ("Request-URI", invite().replace(b"INVITE sip:12345@", b"INVITE sip:\xc0\xaf12345@"),
     "Request-URI is not valid UTF-8"),
    ("Call-ID", invite().replace(b"Call-ID: call-1", b"Call-ID: call-\xed\xa0\x80"),
     "Call-ID header is not valid UTF-8"),
    ("Contact", invite().replace(b"<sip:caller@", b"<sip:call\xe5\xa4er@"),
     "Contact header is not valid UTF-8"),
    ("extension header", invite(extra="X-Note: abc").replace(b"X-Note: abc", b"X-Note: a\xe5\xa4"),
     "X-Note header is not valid UTF-8"),
    ("compact form", invite().replace(b"From: <sip:13812345678@", b"f: <sip:\xc3\x28@"),
     "From header is not valid UTF-8"),
    ("folded continuation line", invite(extra="Subject: a\r\n b").replace(b"\r\n b\r\n",
                                                                          b"\r\n \xff\r\n"),
     "Subject header is not valid UTF-8"),
    ("header name", invite().replace(b"Max-Forwards:", b"Max-F\xf6rwards:"),
     "Header field is not valid UTF-8"),
    ("GBK outside the display name",
     invite().replace(b"From: <sip:13812345678@", '"张三" <sip:张三@'.encode("gbk").join(
         [b"From: ", b""])),
     "From header is not valid UTF-8"),
    ("GBK display name in a quoted auth parameter",
     invite(extra='Authorization: Digest username="x"').replace(
         b'username="x"', 'username="张三"'.encode("gbk")),
     "Authorization header is not valid UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "reason"), NOT_UTF8, ids=[n for n, _, _ in NOT_UTF8])
@pytest.mark.parametrize("stream", [False, True], ids=["udp", "tcp"])
def test_header_that_is_not_utf8_is_400(name: str, data: bytes, reason: str, stream: bool) -> None:
    with pytest.raises(SipMessageError) as info:
        parse_message(data, stream=stream)
    assert (info.value.status, info.value.reason) == (400, reason)
    assert info.value.is_request and info.value.headers is not None


def test_utf8_and_gbk_display_names_are_accepted() -> None:
    # UTF-8 anywhere is fine (RFC 3261 UTF8-NONASCII). Other bytes are tolerated in a quoted
    # display name only: it is never read as text, and is copied back byte for byte.
    utf8 = invite().replace(b"<sip:13812345678@", '"张三" <sip:张三@'.encode())
    assert parse_message(utf8).from_.uri.user == "张三"
    gbk_list = invite().replace(
        b"Contact: <sip:caller@127.0.0.1:5061>",
        'Contact: "张三" <sip:a@127.0.0.1>, "李四"<sip:b@127.0.0.1>'.encode("gbk"),
    )
    message = parse_message(gbk_list)
    assert isinstance(message, Request)
    assert [NameAddress.parse(v).uri.user for v in message.headers.get_all("Contact")] == ["a", "b"]
