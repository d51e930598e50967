"""Calls over TLS in the sans-IO core: Contact and Via name TLS and the TLS port, SRTP is
taken only over TLS, and a secure source must use TLS and SRTP (403 / 488 with Warning)."""

from __future__ import annotations

import base64

from voice_gateway.sip.events import (
    CallEnded,
    IncomingCall,
    MediaAnswered,
    MediaAnswerFailed,
    MediaChanged,
    Transport,
)
from voice_gateway.sip.message import Request, parse_message
from voice_gateway.sip.sdes import SrtpKeys
from voice_gateway.sip.sdp import answer_offer, build_offer
from voice_gateway.sip.uas import UasConfig, UserAgentServer

from .support import SRC, Harness, counter_ids, invite, request

SUITE = "AES_CM_128_HMAC_SHA1_80"
THEIR_KEY = bytes(range(30))
NEW_KEY = bytes(range(50, 80))
CONFIG = UasConfig(local_host="192.0.2.1", local_port=5060, tls_port=5061)


def sdp(proto: str = "RTP/SAVP", key: bytes | None = THEIR_KEY, port: int = 6000) -> str:
    lines = ["v=0", "o=trunk 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio {port} {proto} 0 101", "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:101 telephone-event/8000"]  # fmt: skip
    if key is not None:
        lines.append(f"a=crypto:1 {SUITE} inline:{base64.b64encode(key).decode()}")
    return "\r\n".join([*lines, "a=sendrecv"]) + "\r\n"


def harness(*, secure: bool = False) -> Harness:
    h = Harness(CONFIG)
    h.core = UserAgentServer(CONFIG, new_id=counter_ids(),  # type: ignore[arg-type]
                             secure_source=(lambda host: host == SRC[0]) if secure else None)
    return h


def tls_invite(body: str | None = None) -> bytes:
    return invite(body=sdp() if body is None else body, via_transport="TLS")


def answered(h: Harness, event: IncomingCall) -> None:
    assert event.offer is not None
    ours, _ = answer_offer(event.offer, event.policy, "192.0.2.1", 20000, session_id="1")
    assert h.op(h.core.answer(event.call, ours))


def test_savp_offer_over_tls_is_answered_with_srtp_on_the_same_connection() -> None:
    h = harness()
    (event,) = h.feed(tls_invite(), Transport.TLS)
    assert isinstance(event, IncomingCall) and event.transport is Transport.TLS
    assert event.policy.srtp == "allow"
    answered(h, event)
    ok = h.take()[-1]
    assert ok.transport is Transport.TLS and ok.dest == SRC  # the request's connection
    response = ok.response
    assert response.status == 200
    assert response.headers.get("Contact") == "<sip:intake@192.0.2.1:5061;transport=tls>"
    assert b"m=audio 20000 RTP/SAVP 0 101" in response.body
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in response.body


def test_our_bye_over_tls_names_tls_and_the_tls_port() -> None:
    h = harness()
    (event,) = h.feed(tls_invite(), Transport.TLS)
    assert isinstance(event, IncomingCall)
    answered(h, event)
    h.feed(request("ACK", to_tag="id0", via_transport="TLS"), Transport.TLS)
    h.take()
    assert h.op(h.core.hangup(event.call))
    (bye,) = h.take()
    message = parse_message(bye.data)
    assert isinstance(message, Request) and message.method == "BYE"
    assert bye.transport is Transport.TLS
    assert (message.headers.get("Via") or "").startswith("SIP/2.0/TLS 192.0.2.1:5061;")


def test_savp_offer_over_udp_or_tcp_gets_488_with_a_warning() -> None:
    for transport in (Transport.UDP, Transport.TCP):
        h = harness()
        assert h.feed(invite(body=sdp()), transport) == []
        (refusal,) = h.take()
        assert refusal.response.status == 488
        assert (refusal.response.headers.get("Warning") or "").startswith('302 192.0.2.1 "')


def test_plain_offer_over_tls_stays_plain() -> None:
    h = harness()
    (event,) = h.feed(tls_invite(sdp("RTP/AVP", key=None)), Transport.TLS)
    assert isinstance(event, IncomingCall)
    answered(h, event)
    assert b"RTP/AVP" in h.take()[-1].response.body


def test_a_secure_source_over_udp_or_tcp_gets_403() -> None:
    for transport in (Transport.UDP, Transport.TCP):
        h = harness(secure=True)
        assert h.feed(invite(body=sdp()), transport) == []
        (refusal,) = h.take()
        assert refusal.response.status == 403 and refusal.response.reason == "TLS Required"
    h = harness(secure=True)  # OPTIONS (a trunk's probe) is still answered
    h.feed(request("OPTIONS"), Transport.UDP)
    assert h.statuses() == [200]


def test_a_secure_source_over_tls_must_offer_srtp() -> None:
    h = harness(secure=True)
    assert h.feed(tls_invite(sdp("RTP/AVP", key=None)), Transport.TLS) == []
    (refusal,) = h.take()
    assert refusal.response.status == 488
    assert "SRTP required" in (refusal.response.headers.get("Warning") or "")
    h = harness(secure=True)
    (event,) = h.feed(tls_invite(), Transport.TLS)
    assert isinstance(event, IncomingCall) and event.policy.srtp == "require"


def test_delayed_offer_from_a_secure_source_is_answered_with_srtp() -> None:
    h = harness(secure=True)
    (event,) = h.feed(request("INVITE", via_transport="TLS"), Transport.TLS)
    assert isinstance(event, IncomingCall) and event.offer is None
    our_key = bytes(range(100, 130))
    offer = build_offer(event.policy, "192.0.2.1", 20000, session_id="1", srtp_key=our_key)
    assert h.op(h.core.answer(event.call, offer))
    events = h.feed(request("ACK", to_tag="id0", body=sdp(), via_transport="TLS"),
                    Transport.TLS)  # fmt: skip
    media = next(e for e in events if isinstance(e, MediaAnswered)).media
    assert media.srtp == SrtpKeys(SUITE, 1, local_key=our_key, remote_key=THEIR_KEY)


def test_delayed_offer_answered_with_plain_rtp_is_hung_up() -> None:
    h = harness(secure=True)
    (event,) = h.feed(request("INVITE", via_transport="TLS"), Transport.TLS)
    assert isinstance(event, IncomingCall)
    offer = build_offer(event.policy, "192.0.2.1", 20000, session_id="1",
                        srtp_key=bytes(30))  # fmt: skip
    h.op(h.core.answer(event.call, offer))
    events = h.feed(request("ACK", to_tag="id0", body=sdp("RTP/AVP", key=None),
                            via_transport="TLS"), Transport.TLS)  # fmt: skip
    assert any(isinstance(e, MediaAnswerFailed) for e in events)


def test_reinvite_keeps_our_key_and_takes_the_peers_new_one() -> None:
    h = harness(secure=True)
    (event,) = h.feed(tls_invite(), Transport.TLS)
    assert isinstance(event, IncomingCall)
    answered(h, event)
    h.feed(request("ACK", to_tag="id0", via_transport="TLS"), Transport.TLS)
    first = next(s.response.body for s in h.take() if s.response.status == 200)
    events = h.feed(invite(body=sdp(key=NEW_KEY), to_tag="id0", cseq=2, branch="z9hG4bKre",
                           via_transport="TLS"), Transport.TLS)  # fmt: skip
    (changed,) = events
    assert isinstance(changed, MediaChanged) and changed.media.srtp is not None
    assert changed.media.srtp.remote_key == NEW_KEY
    reanswer = h.take()[-1].response.body
    ours = [line for line in first.split(b"\r\n") if line.startswith(b"a=crypto")]
    assert ours and ours == [line for line in reanswer.split(b"\r\n")
                             if line.startswith(b"a=crypto")]  # fmt: skip
    # From a secure source, a re-INVITE dropping SRTP is refused; the call goes on.
    assert h.feed(invite(body=sdp("RTP/AVP", key=None), to_tag="id0", cseq=3,
                         branch="z9hG4bKre2", via_transport="TLS"), Transport.TLS) == []
    assert h.statuses() == [488]
    assert not any(isinstance(e, CallEnded) for e in h.events)
