"""SDES-SRTP in offer/answer (RFC 4568): ``RTP/SAVP`` with ``a=crypto`` lines.

We answer an SRTP offer with ``RTP/SAVP`` and a crypto line of our own (the offer's tag and
suite, our fresh key), offer it ourselves when a call must be secure, and take the peer's
answer to such an offer. Whether SRTP is refused, allowed or required is the policy's
``srtp`` (the core sets it per call from the transport and the source)."""

from __future__ import annotations

import base64

import pytest

from voice_gateway.sip.errors import NoCommonCodec
from voice_gateway.sip.sdes import CryptoAttribute, SrtpKeys
from voice_gateway.sip.sdp import (
    AudioPolicy,
    SessionDescription,
    answer_offer,
    build_offer,
    negotiated_from_answer,
)

THEIR_KEY = bytes(range(30))
OUR_KEY = bytes(range(100, 130))
SUITE_80 = "AES_CM_128_HMAC_SHA1_80"
SUITE_32 = "AES_CM_128_HMAC_SHA1_32"


def inline(key: bytes) -> str:
    return "inline:" + base64.b64encode(key).decode()


def offer(proto: str = "RTP/SAVP", *crypto: str) -> SessionDescription:
    lines = ["v=0", "o=trunk 1 1 IN IP4 192.0.2.7", "s=-", "c=IN IP4 192.0.2.7", "t=0 0",
             f"m=audio 6000 {proto} 8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20",
             *[f"a=crypto:{c}" for c in crypto], "a=sendrecv"]  # fmt: skip
    return SessionDescription.parse("\r\n".join(lines) + "\r\n")


ALLOW = AudioPolicy(srtp="allow")
REQUIRE = AudioPolicy(srtp="require")


def test_savp_offer_is_answered_with_savp_and_our_own_key() -> None:
    sdp, media = answer_offer(offer("RTP/SAVP", f"1 {SUITE_80} {inline(THEIR_KEY)}"), ALLOW,
                              "127.0.0.1", 20000, session_id="1", srtp_key=OUR_KEY)  # fmt: skip
    (m,) = sdp.media
    assert m.proto == "RTP/SAVP"
    assert m.attribute("crypto") == f"1 {SUITE_80} {inline(OUR_KEY)}"
    assert media.srtp == SrtpKeys(SUITE_80, 1, local_key=OUR_KEY, remote_key=THEIR_KEY)
    assert media.codec == "PCMA" and media.remote_port == 6000
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in sdp.serialize()


def test_each_answer_without_a_given_key_gets_a_fresh_random_one() -> None:
    sdp_offer = offer("RTP/SAVP", f"1 {SUITE_80} {inline(THEIR_KEY)}")
    keys = set()
    for _ in range(3):
        _, media = answer_offer(sdp_offer, ALLOW, "127.0.0.1", 20000, session_id="1")
        assert media.srtp is not None and len(media.srtp.local_key) == 30
        keys.add(media.srtp.local_key)
    assert len(keys) == 3 and THEIR_KEY not in keys


def test_the_first_crypto_line_we_can_take_is_answered() -> None:
    sdp_offer = offer(
        "RTP/SAVP",
        f"1 F8_128_HMAC_SHA1_80 {inline(THEIR_KEY)}",  # a suite we do not do
        f"2 {SUITE_80} {inline(THEIR_KEY)}|2^20|1:4",  # an MKI: not supported
        f"3 {SUITE_80} {inline(THEIR_KEY)} UNENCRYPTED_SRTP",  # session parameters
        f"4 {SUITE_32} {inline(THEIR_KEY)}|2^31",
        f"5 {SUITE_80} {inline(THEIR_KEY)}",
    )
    sdp, media = answer_offer(sdp_offer, ALLOW, "127.0.0.1", 20000, session_id="1",
                              srtp_key=OUR_KEY)  # fmt: skip
    assert sdp.media[0].attribute("crypto") == f"4 {SUITE_32} {inline(OUR_KEY)}"
    assert media.srtp == SrtpKeys(SUITE_32, 4, local_key=OUR_KEY, remote_key=THEIR_KEY)


@pytest.mark.parametrize("crypto", [
    (),
    (f"1 F8_128_HMAC_SHA1_80 {inline(THEIR_KEY)}",),
    (f"1 {SUITE_80} {inline(THEIR_KEY[:20])}",),  # key||salt too short
    (f"1 {SUITE_80} inline:not*base64",),
])  # fmt: skip
def test_savp_without_a_usable_crypto_line_is_not_acceptable(crypto: tuple[str, ...]) -> None:
    with pytest.raises(NoCommonCodec):
        answer_offer(offer("RTP/SAVP", *crypto), ALLOW, "127.0.0.1", 20000, session_id="1")


def test_srtp_is_refused_unless_the_policy_allows_it() -> None:
    """The default policy (a call over UDP or TCP: keys would cross in clear text)."""
    with pytest.raises(NoCommonCodec) as refused:
        answer_offer(offer("RTP/SAVP", f"1 {SUITE_80} {inline(THEIR_KEY)}"), AudioPolicy(),
                     "127.0.0.1", 20000, session_id="1")  # fmt: skip
    assert refused.value.status == 488
    assert refused.value.warning is not None and refused.value.warning[0] == 302


def test_plain_rtp_is_refused_when_srtp_is_required() -> None:
    with pytest.raises(NoCommonCodec) as refused:
        answer_offer(offer("RTP/AVP"), REQUIRE, "127.0.0.1", 20000, session_id="1")
    assert refused.value.status == 488
    assert refused.value.warning is not None and refused.value.warning[0] == 302
    assert "SRTP" in refused.value.warning[1]


def test_plain_rtp_offer_stays_plain_where_srtp_is_allowed() -> None:
    sdp, media = answer_offer(offer("RTP/AVP", f"1 {SUITE_80} {inline(THEIR_KEY)}"), ALLOW,
                              "127.0.0.1", 20000, session_id="1")  # fmt: skip
    assert sdp.media[0].proto == "RTP/AVP" and sdp.media[0].attribute("crypto") is None
    assert media.srtp is None


def test_a_stream_we_cannot_take_is_refused_with_its_own_profile() -> None:
    """Two streams, plain and secure: the secure one is taken, the other gets port 0."""
    text = offer("RTP/AVP").serialize().decode() + (
        f"m=audio 6002 RTP/SAVP 0\r\na=crypto:1 {SUITE_80} {inline(THEIR_KEY)}\r\n")
    sdp, media = answer_offer(SessionDescription.parse(text), REQUIRE, "127.0.0.1", 20000,
                              session_id="1", srtp_key=OUR_KEY)  # fmt: skip
    assert [(m.port, m.proto) for m in sdp.media] == [(0, "RTP/AVP"), (20000, "RTP/SAVP")]
    assert media.remote_port == 6002 and media.srtp is not None


def test_our_offer_is_savp_when_given_a_key_and_takes_the_answer() -> None:
    ours = build_offer(REQUIRE, "127.0.0.1", 20000, session_id="7", srtp_key=OUR_KEY)
    (m,) = ours.media
    assert m.proto == "RTP/SAVP"
    assert m.attribute("crypto") == f"1 {SUITE_80} {inline(OUR_KEY)}"
    answer = offer("RTP/SAVP", f"1 {SUITE_80} {inline(THEIR_KEY)}")
    media = negotiated_from_answer(ours, answer, REQUIRE)
    assert media.srtp == SrtpKeys(SUITE_80, 1, local_key=OUR_KEY, remote_key=THEIR_KEY)


@pytest.mark.parametrize("answer", [
    offer("RTP/AVP"),  # the peer dropped SRTP
    offer("RTP/SAVP"),  # no key
    offer("RTP/SAVP", f"2 {SUITE_80} {inline(THEIR_KEY)}"),  # a tag we did not offer
    offer("RTP/SAVP", f"1 {SUITE_32} {inline(THEIR_KEY)}"),  # another suite than tag 1's
])  # fmt: skip
def test_an_answer_that_drops_or_changes_our_crypto_is_refused(
    answer: SessionDescription,
) -> None:
    ours = build_offer(REQUIRE, "127.0.0.1", 20000, session_id="7", srtp_key=OUR_KEY)
    with pytest.raises(NoCommonCodec):
        negotiated_from_answer(ours, answer, REQUIRE)


def test_plain_offer_of_ours_is_unchanged() -> None:
    assert build_offer(AudioPolicy(), "127.0.0.1", 20000, session_id="7").media[0].proto == (
        "RTP/AVP")


@pytest.mark.parametrize("value, parsed", [
    (f"1 {SUITE_80} {inline(THEIR_KEY)}", CryptoAttribute(1, SUITE_80, THEIR_KEY)),
    (f"7 {SUITE_32} {inline(THEIR_KEY)}|2^31",
     CryptoAttribute(7, SUITE_32, THEIR_KEY, lifetime="2^31")),
    (f"1 {SUITE_80} {inline(THEIR_KEY)}|1:4",
     CryptoAttribute(1, SUITE_80, THEIR_KEY, mki="1:4")),
    (f"1 {SUITE_80} {inline(THEIR_KEY)} KDR=1 FEC_ORDER=FEC_SRTP",
     CryptoAttribute(1, SUITE_80, THEIR_KEY, session_params=("KDR=1", "FEC_ORDER=FEC_SRTP"))),
])  # fmt: skip
def test_crypto_attribute_grammar(value: str, parsed: CryptoAttribute) -> None:
    assert CryptoAttribute.parse(value) == parsed
    assert str(parsed) == value


@pytest.mark.parametrize("value", [
    "", "1", f"x {SUITE_80} {inline(THEIR_KEY)}", f"1 {SUITE_80} key:{THEIR_KEY.hex()}",
    f"1 {SUITE_80} inline:", "1 AES inline:@@@@",
])  # fmt: skip
def test_malformed_crypto_attributes(value: str) -> None:
    with pytest.raises(ValueError):
        CryptoAttribute.parse(value)


def test_keys_never_show_in_a_repr() -> None:
    keys = SrtpKeys(SUITE_80, 1, local_key=OUR_KEY, remote_key=THEIR_KEY)
    assert base64.b64encode(OUR_KEY).decode() not in repr(keys)
    assert repr(OUR_KEY) not in repr(keys) and repr(THEIR_KEY) not in repr(keys)
