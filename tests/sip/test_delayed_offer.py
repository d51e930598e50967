"""Delayed offer (RFC 3261 §13.2.1, RFC 3264): an INVITE without SDP gets our offer in the
200, and the caller's answer comes in the ACK. Cisco CUBE/CUCM call this way by default."""

from __future__ import annotations

import pytest

from voice_gateway.sip.dialog import CallState
from voice_gateway.sip.events import (
    AckReceived,
    CallHandle,
    HoldChanged,
    IncomingCall,
    MediaAnswered,
    MediaAnswerFailed,
)
from voice_gateway.sip.sdp import AudioPolicy, NegotiatedAudio, build_offer, offered_audio

from .support import OFFER, Harness, request

VIA = "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKb1\r\n"
FROM = "From: <sip:13812345678@127.0.0.1>;tag=ft1\r\n"
TO = "To: <sip:12345@127.0.0.1>"

OUR_OFFER = (
    b"v=0\r\n"
    b"o=voice-intake 42 0 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 20000 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)


def answer_sdp(m_line: str = "m=audio 6000 RTP/AVP 0 101", *extra: str,
               connection: str = "c=IN IP4 192.0.2.7") -> str:  # fmt: skip
    """The caller's answer to :data:`OUR_OFFER`."""
    lines = ["v=0", "o=caller 1 1 IN IP4 192.0.2.7", "s=-", connection, "t=0 0", m_line,
             "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
             "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", *extra]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def ack(body: str = "", *, content_type: str | None = None, branch: str = "z9hG4bKack") -> bytes:
    return request("ACK", to_tag="id0", body=body, content_type=content_type, branch=branch)


def offerless(harness: Harness) -> CallHandle:
    """An INVITE without a body, answered with our offer."""
    (event,) = harness.feed(request("INVITE"))
    assert isinstance(event, IncomingCall) and event.offer is None
    offer = build_offer(AudioPolicy(), "127.0.0.1", 20000, session_id="42")
    assert harness.op(harness.core.answer(event.call, offer))
    return event.call


def test_invite_without_sdp_gets_our_offer_in_the_200() -> None:
    harness = Harness()
    offerless(harness)
    trying, ok = harness.take()
    assert trying.data == (
        f"SIP/2.0 100 Trying\r\n{VIA}{FROM}{TO}\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\n"
        "Server: voice-intake\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    assert ok.data == (
        f"SIP/2.0 200 OK\r\n{VIA}{FROM}{TO};tag=id0\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sip:intake@127.0.0.1:5060>\r\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY\r\nServer: voice-intake\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(OUR_OFFER)}\r\n\r\n"
    ).encode() + OUR_OFFER


def audio(codec: str = "PCMU", payload_type: int = 0, *, te: int | None = 101,
          direction: str = "sendrecv", on_hold: bool = False) -> NegotiatedAudio:  # fmt: skip
    return NegotiatedAudio(codec, payload_type, 8000, te, 20, "192.0.2.7", 6000, direction,
                           on_hold)  # fmt: skip


MULTIPART = (
    "--b1\r\nContent-Type: application/sdp\r\n\r\n" + answer_sdp() +
    "\r\n--b1\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n--b1--\r\n"
)  # fmt: skip

# (name, ACK bytes, what the core says after AckReceived)
ACKS = [
    ("PCMU answer", ack(answer_sdp()), MediaAnswered, audio()),
    ("PCMA answer", ack(answer_sdp("m=audio 6000 RTP/AVP 8 101")), MediaAnswered,
     audio("PCMA", 8)),
    ("no telephone-event", ack(answer_sdp("m=audio 6000 RTP/AVP 0")), MediaAnswered,
     audio(te=None)),
    ("media-level c= line", ack(answer_sdp("m=audio 6000 RTP/AVP 0 101", "c=IN IP4 192.0.2.7",
                                           connection="c=IN IP4 198.51.100.1")),
     MediaAnswered, audio()),
    ("answer in multipart/mixed", ack(MULTIPART, content_type='multipart/mixed;boundary="b1"'),
     MediaAnswered, audio()),
    ("caller only sends (recvonly for us)", ack(answer_sdp("m=audio 6000 RTP/AVP 0 101",
                                                           "a=sendonly")),
     MediaAnswered, audio(direction="recvonly", on_hold=True)),
    ("no SDP in the ACK", ack(), MediaAnswerFailed, "no SDP answer in the ACK"),
    ("unparsable SDP", ack("v=1\r\nnot sdp\r\n"), MediaAnswerFailed, "unparsable SDP answer"),
    ("a codec we did not offer", ack(answer_sdp("m=audio 6000 RTP/AVP 18",
                                                "a=rtpmap:18 G729/8000")),
     MediaAnswerFailed, "no acceptable audio stream in the answer"),
    ("audio stream refused (port 0)", ack(answer_sdp("m=audio 0 RTP/AVP 0")),
     MediaAnswerFailed, "no acceptable audio stream in the answer"),
    ("SRTP profile", ack(answer_sdp("m=audio 6000 RTP/SAVP 0")), MediaAnswerFailed,
     "no acceptable audio stream in the answer"),
    ("no connection address", ack(answer_sdp(connection="b=AS:64")), MediaAnswerFailed,
     "no acceptable audio stream in the answer"),
    ("an offer's body that is not SDP", ack("hello", content_type="text/plain"),
     MediaAnswerFailed, "no SDP answer in the ACK"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "kind", "detail"), ACKS, ids=[a[0] for a in ACKS])
def test_the_ack_carries_the_answer(name: str, data: bytes, kind: type, detail: object) -> None:
    harness = Harness()
    call = offerless(harness)
    harness.take()
    events = harness.feed(data)
    assert [type(e) for e in events] == [AckReceived, kind]
    assert harness.take() == []  # nothing sent: the application decides (a BYE on failure)
    assert harness.core.call_state(call) is CallState.CONFIRMED
    last = events[-1]
    if isinstance(last, MediaAnswered):
        assert last == MediaAnswered(call, detail)  # type: ignore[arg-type]
    else:
        assert last == MediaAnswerFailed(call, detail)  # type: ignore[arg-type]


def test_a_failed_answer_is_hung_up_with_a_bye() -> None:
    harness = Harness()
    call = offerless(harness)
    harness.take()
    harness.feed(ack())
    assert harness.op(harness.core.hangup(call))
    (bye,) = harness.take()
    assert bye.data.startswith(b"BYE sip:caller@127.0.0.1:5061 SIP/2.0\r\n")


def test_a_retransmitted_ack_reports_nothing_again() -> None:
    harness = Harness()
    offerless(harness)
    harness.feed(ack(answer_sdp()))
    assert harness.feed(ack(answer_sdp())) == []
    assert harness.feed(ack(answer_sdp(), branch="z9hG4bKother")) == []


def test_an_ack_after_we_hung_up_sends_the_bye_and_reports_no_media() -> None:
    harness = Harness()
    call = offerless(harness)
    harness.op(harness.core.hangup(call))  # before the ACK: the BYE waits for it
    harness.take()
    events = harness.feed(ack(answer_sdp()))
    assert [type(e) for e in events] == [AckReceived]
    (bye,) = harness.take()
    assert bye.data.startswith(b"BYE ")


def test_a_reinvite_after_a_delayed_offer_is_answered_from_our_offer() -> None:
    harness = Harness()
    call = offerless(harness)
    harness.feed(ack(answer_sdp("m=audio 6000 RTP/AVP 8 101")))  # PCMA
    harness.take()
    held = OFFER.replace("a=sendrecv", "a=sendonly")  # PCMA first again
    events = harness.feed(request("INVITE", to_tag="id0", cseq=2, branch="z9hG4bKre",
                                  body=held))  # fmt: skip
    assert [type(e) for e in events] == [HoldChanged]
    (ok,) = harness.take()
    assert ok.response.status == 200
    assert b"m=audio 20000 RTP/AVP " in ok.response.body
    assert events[0] == HoldChanged(call, True, NegotiatedAudio(
        "PCMA", 8, 8000, 101, 20, "127.0.0.1", 6000, "recvonly", True))


def test_offered_audio_is_what_the_endpoint_starts_with() -> None:
    # Until the answer: our first codec and events, no remote address yet.
    assert offered_audio(AudioPolicy()) == NegotiatedAudio(
        "PCMU", 0, 8000, 101, 20, "0.0.0.0", 0, "sendrecv", False)
    assert offered_audio(AudioPolicy(codecs=("PCMA",), telephone_event=False)) == (
        NegotiatedAudio("PCMA", 8, 8000, None, 20, "0.0.0.0", 0, "sendrecv", False))
