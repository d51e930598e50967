"""SDP parse/serialize and RFC 3264 offer/answer."""

from __future__ import annotations

import pytest

from voice_gateway.sip.errors import NoCommonCodec, SdpError
from voice_gateway.sip.sdp import (
    AudioPolicy,
    SessionDescription,
    answer_offer,
    build_offer,
    is_hold,
    negotiated_from_answer,
)

from .support import OFFER

POLICY = AudioPolicy()


def answer(offer: str, policy: AudioPolicy = POLICY) -> tuple[str, object]:
    sdp, negotiated = answer_offer(
        SessionDescription.parse(offer), policy, "10.0.0.5", 20000, session_id="7"
    )
    return sdp.serialize().decode(), negotiated


def test_round_trip() -> None:
    sdp = SessionDescription.parse(OFFER)
    assert sdp.serialize().decode() == OFFER
    media = sdp.media[0]
    assert media.rtpmaps() == {8: ("PCMA", 8000), 0: ("PCMU", 8000), 101: ("telephone-event", 8000)}
    assert media.ptime == 20 and media.direction == "sendrecv"


def test_answer_exact() -> None:
    text, negotiated = answer(OFFER)
    assert text == (
        "v=0\r\n"
        "o=voice-intake 7 0 IN IP4 10.0.0.5\r\n"
        "s=-\r\n"
        "c=IN IP4 10.0.0.5\r\n"
        "t=0 0\r\n"
        "m=audio 20000 RTP/AVP 8 101\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )
    assert negotiated.codec == "PCMA" and negotiated.payload_type == 8  # type: ignore[attr-defined]
    assert negotiated.remote_host == "127.0.0.1" and negotiated.remote_port == 6000  # type: ignore[attr-defined]
    assert negotiated.telephone_event_pt == 101  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("m_line", "rtpmaps", "codec", "pt", "event_pt"),
    [
        ("0 8", "", "PCMU", 0, None),  # static types without rtpmap
        ("8 0", "", "PCMA", 8, None),  # the offer's order decides
        ("18 0 96", "a=rtpmap:18 G729/8000\r\na=rtpmap:96 telephone-event/8000\r\n", "PCMU", 0,
         96),
        ("97 8", "a=rtpmap:97 pcmu/8000\r\n", "PCMU", 97, None),  # dynamic PT, name in any case
        ("9 8", "a=rtpmap:9 G722/8000\r\n", "PCMA", 8, None),
    ],
)  # fmt: skip
def test_codec_choice(m_line: str, rtpmaps: str, codec: str, pt: int, event_pt: int | None) -> None:
    offer = (
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
        f"m=audio 4000 RTP/AVP {m_line}\r\n{rtpmaps}"
    )
    _, negotiated = answer(offer)
    assert (negotiated.codec, negotiated.payload_type) == (codec, pt)  # type: ignore[attr-defined]
    assert negotiated.telephone_event_pt == event_pt  # type: ignore[attr-defined]


def test_policy_limits_codecs() -> None:
    _, negotiated = answer(OFFER, AudioPolicy(codecs=("PCMU",)))
    assert negotiated.codec == "PCMU"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "m_line",
    [
        "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000",
        "m=audio 4000 RTP/SAVP 0",  # SRTP is not offered by us
        "m=audio 0 RTP/AVP 0",  # a rejected stream
        "m=video 4000 RTP/AVP 31",
    ],
)
def test_no_common_codec_is_488(m_line: str) -> None:
    offer = f"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n{m_line}\r\n"
    with pytest.raises(NoCommonCodec) as info:
        answer(offer)
    assert info.value.status == 488


def test_other_streams_rejected_with_port_zero() -> None:
    offer = OFFER + "m=video 5000 RTP/AVP 31\r\n"
    text, _ = answer(offer)
    assert "m=video 0 RTP/AVP 31\r\n" in text


@pytest.mark.parametrize(
    ("change", "hold", "our_direction"),
    [
        ("a=sendrecv", False, "sendrecv"),
        ("a=sendonly", True, "recvonly"),
        ("a=inactive", True, "inactive"),
        ("a=recvonly", False, "sendonly"),
        ("c=IN IP4 0.0.0.0", True, "recvonly"),  # RFC 2543 hold
    ],
)
def test_hold_detection(change: str, hold: bool, our_direction: str) -> None:
    if change.startswith("c="):
        offer = OFFER.replace("c=IN IP4 127.0.0.1", change)
    else:
        offer = OFFER.replace("a=sendrecv", change)
    assert is_hold(SessionDescription.parse(offer)) is hold
    text, negotiated = answer(offer)
    assert negotiated.on_hold is hold  # type: ignore[attr-defined]
    assert negotiated.direction == our_direction  # type: ignore[attr-defined]
    assert text.endswith(f"a={our_direction}\r\n")


def test_session_level_direction() -> None:
    offer = OFFER.replace("a=sendrecv\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n")
    assert is_hold(SessionDescription.parse(offer))


@pytest.mark.parametrize(
    "text",
    ["", "v=1\r\n", "v=0\r\no=broken\r\n", "v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nnonsense\r\n"],
)
def test_malformed(text: str) -> None:
    with pytest.raises(SdpError):
        SessionDescription.parse(text)


def test_own_offer_and_answer_back() -> None:
    offer = build_offer(POLICY, "10.0.0.5", 20000, session_id="9")
    assert b"m=audio 20000 RTP/AVP 0 8 101\r\n" in offer.serialize()
    reply = OFFER.replace("m=audio 6000 RTP/AVP 8 0 101", "m=audio 6000 RTP/AVP 0 101")
    negotiated = negotiated_from_answer(offer, SessionDescription.parse(reply), POLICY)
    assert negotiated.codec == "PCMU" and negotiated.remote_port == 6000


@pytest.mark.parametrize(
    ("m_line", "rtpmaps"),
    [
        ("0 13 101", "a=rtpmap:13 CN/8000\r\na=rtpmap:101 telephone-event/8000\r\n"),
        ("0 13", ""),  # static payload type 13 is CN (RFC 3551) without an rtpmap
        ("0 105", "a=rtpmap:105 cn/8000\r\n"),  # dynamic, any case
    ],
)  # fmt: skip
def test_comfort_noise_offered_is_answered_and_agreed(m_line: str, rtpmaps: str) -> None:
    # RFC 3389: a peer that offers CN may get comfort noise instead of silence frames.
    offer = (
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
        f"m=audio 4000 RTP/AVP {m_line}\r\n{rtpmaps}"
    )
    text, negotiated = answer(offer)
    pt = int(m_line.split()[1])
    assert negotiated.comfort_noise_pt == pt  # type: ignore[attr-defined]
    m_answer = next(line for line in text.split("\r\n") if line.startswith("m=audio"))
    assert str(pt) in m_answer.split()[3:]
    assert f"a=rtpmap:{pt} CN/8000" in text


def test_no_comfort_noise_unless_offered_or_allowed() -> None:
    text, negotiated = answer(OFFER)
    assert negotiated.comfort_noise_pt is None and "CN/8000" not in text  # type: ignore[attr-defined]
    offer = OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 8 0 13 101")
    text, negotiated = answer(offer, AudioPolicy(comfort_noise=False))
    assert negotiated.comfort_noise_pt is None and "CN/8000" not in text  # type: ignore[attr-defined]
