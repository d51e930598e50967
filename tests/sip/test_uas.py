"""The UAS core: (state, input bytes) -> exact output bytes and events, and call flows."""

from __future__ import annotations

import pytest

from voice_gateway.sip.dialog import CallState
from voice_gateway.sip.errors import LocalProtocolError
from voice_gateway.sip.events import (
    AckReceived,
    CallCancelled,
    CallEnded,
    CallHandle,
    Dtmf,
    EndReason,
    HoldChanged,
    IncomingCall,
    MediaAnswered,
    MediaChanged,
    OptionsPing,
    Transmit,
    Transport,
)
from voice_gateway.sip.framing import StreamFramer
from voice_gateway.sip.sdp import AudioPolicy, SessionDescription, answer_offer, build_offer
from voice_gateway.sip.uas import Refusal, UasConfig, UserAgentServer

from .support import OFFER, SRC, Harness, counter_ids, invite, request

VIA = "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKb1\r\n"
FROM = "From: <sip:13812345678@127.0.0.1>;tag=ft1\r\n"


def expected(status_line: str, *lines: str, cseq: str = "1 INVITE", to_tag: str | None) -> bytes:
    to = "To: <sip:12345@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "") + "\r\n"
    head = f"SIP/2.0 {status_line}\r\n{VIA}{FROM}{to}Call-ID: call-1\r\nCSeq: {cseq}\r\n"
    return (head + "".join(line + "\r\n" for line in lines) + "Content-Length: 0\r\n\r\n").encode()


# (name, input, exact bytes sent back, event types)
EXACT = [
    ("INVITE: 100 Trying at once, without a To tag", invite(),
     [expected("100 Trying", "Server: voice-intake", to_tag=None)], [IncomingCall]),
    ("OPTIONS: 200 with Allow and Accept", request("OPTIONS"),
     [expected("200 OK", "Accept: application/sdp",
               "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY", "Server: voice-intake",
               cseq="1 OPTIONS", to_tag="id0")], [OptionsPing]),
    ("unknown method: 501", request("FROB"),
     [expected("501 Not Implemented", "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY",
               "Server: voice-intake", cseq="1 FROB", to_tag="id0")], []),
    ("SUBSCRIBE: 405", request("SUBSCRIBE"),
     [expected("405 Method Not Allowed", "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY",
               "Server: voice-intake", cseq="1 SUBSCRIBE", to_tag="id0")], []),
    ("BYE without dialog: 481", request("BYE", to_tag="zz"),
     [expected("481 Call/Transaction Does Not Exist", "Server: voice-intake", cseq="1 BYE",
               to_tag="zz")], []),
    ("Require: 420 with Unsupported", request("OPTIONS", extra="Require: 100rel"),
     [expected("420 Bad Extension", "Unsupported: 100rel", "Server: voice-intake",
               cseq="1 OPTIONS", to_tag="id0")], []),
    ("badvers: 505 with its reason", request("OPTIONS").replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1),
     [expected("505 Version Not Supported", "Server: voice-intake", cseq="1 OPTIONS",
               to_tag="id0")], []),
    ("no common codec: 488 and no event", invite(body=OFFER.replace("8 0 101", "101")),
     [expected("488 Not Acceptable Here", "Server: voice-intake", to_tag="id0")], []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "out", "event_types"), EXACT, ids=[e[0] for e in EXACT])
def test_exact_output(name: str, data: bytes, out: list[bytes], event_types: list[type]) -> None:
    harness = Harness()
    events = harness.feed(data)
    assert [s.data for s in harness.take()] == out
    assert [type(e) for e in events] == event_types


def incoming(harness: Harness, **kwargs: object) -> CallHandle:
    (event,) = harness.feed(invite(**kwargs))
    assert isinstance(event, IncomingCall)
    harness.take()
    return event.call


def our_answer(offer: str = OFFER) -> SessionDescription:
    sdp, _ = answer_offer(SessionDescription.parse(offer), AudioPolicy(), "127.0.0.1", 20000,
                          session_id="42")  # fmt: skip
    return sdp


def ack(cseq: int = 1, body: str = "", branch: str = "z9hG4bKack") -> bytes:
    return request("ACK", to_tag="id0", cseq=cseq, branch=branch, body=body)


def established(harness: Harness) -> CallHandle:
    call = incoming(harness)
    harness.op(harness.core.answer(call, our_answer()))
    harness.take()
    assert [type(e) for e in harness.feed(ack())] == [AckReceived]
    return call


def test_answer_exact_200() -> None:
    harness = Harness()
    call = incoming(harness)
    assert harness.op(harness.core.ringing(call))
    assert harness.op(harness.core.answer(call, our_answer()))
    ringing, ok = harness.take()
    assert ringing.data == expected("180 Ringing", "Server: voice-intake", to_tag="id0")
    sdp = our_answer().serialize()
    assert (
        ok.data
        == (
            "SIP/2.0 200 OK\r\n" + VIA + FROM + "To: <sip:12345@127.0.0.1>;tag=id0\r\n"
            "Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:intake@127.0.0.1:5060>\r\n"
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY\r\nServer: voice-intake\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
        ).encode()
        + sdp
    )
    assert harness.core.call_state(call) is CallState.ANSWERED


def test_record_route_is_copied_into_200_and_used_for_bye() -> None:
    harness = Harness()
    call = incoming(harness, extra="Record-Route: <sip:10.9.9.9:5070;lr>")
    harness.op(harness.core.answer(call, our_answer()))
    (ok,) = harness.take()
    assert b"Record-Route: <sip:10.9.9.9:5070;lr>\r\n" in ok.data
    harness.feed(ack())
    harness.op(harness.core.hangup(call))
    (bye,) = harness.take()
    assert bye.dest == ("10.9.9.9", 5070)
    assert b"Route: <sip:10.9.9.9:5070;lr>\r\n" in bye.data
    assert bye.data.startswith(b"BYE sip:caller@127.0.0.1:5061 SIP/2.0\r\n")


def test_full_call_with_dtmf_hold_and_remote_bye() -> None:
    harness = Harness()
    call = established(harness)
    harness.take()
    relay = "application/dtmf-relay"
    dtmf = request("INFO", to_tag="id0", cseq=2, branch="z9hG4bKi1",
                   content_type=relay, body="Signal=5\r\nDuration=160\r\n")  # fmt: skip
    assert harness.feed(dtmf) == [Dtmf(call, "5", 160)]
    assert harness.statuses() == [200]
    star = request("INFO", to_tag="id0", cseq=3, branch="z9hG4bKi2",
                   content_type="application/dtmf-relay", body="Signal=10\r\n")  # fmt: skip
    assert harness.feed(star) == [Dtmf(call, "*", None)]
    harness.take()

    hold = invite(to_tag="id0", cseq=4, branch="z9hG4bKre1",
                  body=OFFER.replace("a=sendrecv", "a=sendonly"))  # fmt: skip
    (event,) = harness.feed(hold)
    assert isinstance(event, HoldChanged) and event.on_hold
    (ok,) = harness.take()
    assert ok.response.status == 200 and ok.response.body.endswith(b"a=recvonly\r\n")
    assert b"o=voice-intake 42 1 " in ok.response.body  # version bumped: SDP changed
    assert harness.feed(ack(cseq=4, branch="z9hG4bKack4")) == []

    unhold = invite(to_tag="id0", cseq=5, branch="z9hG4bKre2")
    (event,) = harness.feed(unhold)
    assert isinstance(event, HoldChanged) and not event.on_hold
    harness.take()
    harness.feed(ack(cseq=5, branch="z9hG4bKack5"))

    moved = invite(to_tag="id0", cseq=6, branch="z9hG4bKre3",
                   body=OFFER.replace("m=audio 6000", "m=audio 6002"))  # fmt: skip
    (event,) = harness.feed(moved)
    assert isinstance(event, MediaChanged) and event.media.remote_port == 6002
    harness.feed(ack(cseq=6, branch="z9hG4bKack6"))
    harness.take()

    bye = request("BYE", to_tag="id0", cseq=7, branch="z9hG4bKbye")
    assert harness.feed(bye) == [CallEnded(call, EndReason.REMOTE_BYE)]
    assert harness.statuses() == [200]
    assert harness.feed(bye) == []  # retransmission: the stored 200 again, no second event
    assert harness.statuses() == [200]
    assert harness.core.active_calls == 0
    harness.advance(100)
    assert harness.live_timers == 0


def test_reinvite_with_no_common_codec_gets_488_and_call_survives() -> None:
    harness = Harness()
    call = established(harness)
    harness.take()
    bad = invite(to_tag="id0", cseq=2, branch="z9hG4bKre", body=OFFER.replace("8 0 101", "101"))
    assert harness.feed(bad) == []
    assert harness.statuses() == [488]
    assert harness.core.call_state(call) is CallState.CONFIRMED


def test_cancel_before_answer() -> None:
    harness = Harness()
    call = incoming(harness)
    cancel = request("CANCEL", cseq=1)
    assert harness.feed(cancel) == [CallCancelled(call)]
    ok, terminated = harness.take()
    assert ok.data == expected("200 OK", "Server: voice-intake", cseq="1 CANCEL", to_tag="id1")
    assert terminated.data == expected("487 Request Terminated", "Server: voice-intake",
                                       to_tag="id0")  # fmt: skip
    assert harness.feed(request("ACK", cseq=1, to_tag="id0")) == []  # same branch as INVITE
    assert not harness.op(harness.core.answer(call, our_answer()))  # too late: a no-op
    harness.advance(100)
    assert harness.live_timers == 0 and harness.core.active_calls == 0


def test_cancel_after_answer_has_no_effect() -> None:
    harness = Harness()
    call = incoming(harness)
    harness.op(harness.core.answer(call, our_answer()))
    harness.take()
    assert harness.feed(request("CANCEL")) == []
    assert harness.statuses() == [200]
    assert harness.core.call_state(call) is CallState.ANSWERED


def test_invite_retransmission_gets_last_response_not_a_new_call() -> None:
    harness = Harness()
    call = incoming(harness)
    assert harness.feed(invite()) == []
    assert harness.statuses() == [100]
    harness.op(harness.core.ringing(call))
    harness.take()
    harness.feed(invite())
    assert harness.statuses() == [180]


def test_reject_with_retry_after_and_ack() -> None:
    harness = Harness()
    call = incoming(harness)
    assert harness.op(harness.core.reject(call, 503, retry_after=30))
    (sent,) = harness.take()
    assert sent.data == expected("503 Service Unavailable", "Retry-After: 30",
                                 "Server: voice-intake", to_tag="id0")  # fmt: skip
    harness.advance(0.6)
    assert harness.statuses() == [503]  # Timer G retransmission
    assert harness.feed(request("ACK", to_tag="id0")) == []
    harness.advance(10)
    assert harness.take() == [] and harness.live_timers == 0


def test_hangup_sends_bye_and_reports_200() -> None:
    harness = Harness()
    call = established(harness)
    harness.take()
    assert harness.op(harness.core.hangup(call))
    (bye,) = harness.take()
    assert bye.data == (
        b"BYE sip:caller@127.0.0.1:5061 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKid1;rport\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:12345@127.0.0.1>;tag=id0\r\n"
        b"To: <sip:13812345678@127.0.0.1>;tag=ft1\r\n"
        b"Call-ID: call-1\r\n"
        b"CSeq: 2 BYE\r\n"
        b"User-Agent: voice-intake\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert harness.core.call_state(call) is CallState.TERMINATING
    response = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKid1;rport=5060\r\n"
        b"From: <sip:12345@127.0.0.1>;tag=id0\r\nTo: <sip:13812345678@127.0.0.1>;tag=ft1\r\n"
        b"Call-ID: call-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    assert harness.feed(response) == [CallEnded(call, EndReason.LOCAL_BYE, 200)]
    assert harness.feed(response) == []
    harness.advance(100)
    assert harness.live_timers == 0 and harness.core.active_calls == 0


def test_hangup_without_answer_reports_timer_f() -> None:
    harness = Harness()
    call = established(harness)
    harness.take()
    harness.op(harness.core.hangup(call))
    events = harness.advance(64 * 0.5)
    assert events == [CallEnded(call, EndReason.LOCAL_BYE_TIMEOUT)]
    assert len(harness.take()) == 11  # the BYE and its ten retransmissions
    assert harness.core.active_calls == 0


def test_hangup_before_ack_waits_for_it() -> None:
    harness = Harness()
    call = incoming(harness)
    harness.op(harness.core.answer(call, our_answer()))
    harness.op(harness.core.hangup(call))
    harness.take()
    assert harness.core.call_state(call) is CallState.HANGUP_PENDING
    assert [type(e) for e in harness.feed(ack())] == [AckReceived]
    (bye,) = harness.take()
    assert bye.data.startswith(b"BYE ")


def test_hangup_of_unanswered_call_is_480() -> None:
    harness = Harness()
    call = incoming(harness)
    assert harness.op(harness.core.hangup(call))
    assert harness.statuses() == [480]


def test_no_ack_means_bye_and_call_ended() -> None:
    harness = Harness()
    call = incoming(harness)
    harness.op(harness.core.answer(call, our_answer()))
    harness.take()
    events = harness.advance(32)
    assert events == [CallEnded(call, EndReason.ACK_TIMEOUT)]
    sent = harness.take()
    assert [s.data[:3] for s in sent].count(b"SIP") == 10 and sent[-1].data.startswith(b"BYE")


def test_remote_bye_before_ack_stops_200_retransmissions() -> None:
    harness = Harness()
    call = incoming(harness)
    harness.op(harness.core.answer(call, our_answer()))
    harness.take()
    bye = request("BYE", to_tag="id0", cseq=2, branch="z9hG4bKbye")
    assert harness.feed(bye) == [CallEnded(call, EndReason.REMOTE_BYE)]
    harness.take()
    harness.advance(100)
    assert harness.take() == [] and harness.live_timers == 0


def test_late_offer() -> None:
    harness = Harness()
    (event,) = harness.feed(invite(body=""))
    assert isinstance(event, IncomingCall) and event.offer is None
    offer = build_offer(AudioPolicy(), "127.0.0.1", 20000, session_id="1")
    harness.op(harness.core.answer(event.call, offer))
    got, answered = harness.feed(ack(body=OFFER))
    assert isinstance(got, AckReceived) and got.answer is not None
    assert isinstance(answered, MediaAnswered) and answered.media.codec == "PCMA"


def test_out_of_order_cseq_is_500() -> None:
    harness = Harness()
    established(harness)
    harness.feed(request("INFO", to_tag="id0", cseq=9, branch="z9hG4bKa"))
    harness.feed(request("INFO", to_tag="id0", cseq=8, branch="z9hG4bKb"))
    assert harness.statuses() == [200, 500]


def test_info_with_unknown_body_is_415() -> None:
    harness = Harness()
    established(harness)
    harness.take()
    harness.feed(request("INFO", to_tag="id0", cseq=2, content_type="text/plain", body="hi"))
    assert harness.statuses() == [415]


def test_operations_check_state() -> None:
    harness = Harness()
    call = established(harness)
    with pytest.raises(LocalProtocolError):
        harness.core.answer(call, our_answer())
    with pytest.raises(LocalProtocolError):
        harness.core.reject(call, 486)
    unknown = CallHandle("nope", "a", "b")
    assert harness.core.hangup(unknown) is False


def test_via_received_and_rport_stamped() -> None:
    core = UserAgentServer(new_id=counter_ids())  # type: ignore[arg-type]
    data = request("OPTIONS").replace(b"127.0.0.1:5061;branch=z9hG4bKb1",
                                      b"client.invalid:5061;branch=z9hG4bKb1;rport")  # fmt: skip
    core.receive_data(data, ("192.0.2.7", 40000))
    (action,) = [a for a in core.drain_actions() if isinstance(a, Transmit)]
    assert b"branch=z9hG4bKb1;rport=40000;received=192.0.2.7\r\n" in action.data
    assert action.dest == ("192.0.2.7", 40000)


def test_tcp_responses_and_contact() -> None:
    harness = Harness()
    (event,) = harness.feed(invite(via_transport="TCP"), Transport.TCP)
    assert isinstance(event, IncomingCall) and event.transport is Transport.TCP
    harness.op(harness.core.answer(event.call, our_answer()))
    trying, ok = harness.take()
    assert trying.transport is Transport.TCP
    assert b"Contact: <sip:intake@127.0.0.1:5060;transport=tcp>\r\n" in ok.data


def test_screen_refuses_with_status() -> None:
    def screen(req: object, source: tuple[str, int]) -> Refusal | None:
        return Refusal(503, retry_after=5) if source == SRC else None

    core = UserAgentServer(UasConfig(), new_id=counter_ids(), screen=screen)  # type: ignore[arg-type]
    assert core.receive_data(invite(), SRC) == []
    (action,) = [a for a in core.drain_actions() if isinstance(a, Transmit)]
    assert action.data.startswith(b"SIP/2.0 503 Service Unavailable\r\n")
    assert b"Retry-After: 5\r\n" in action.data


def test_many_calls_leave_nothing_behind() -> None:
    harness = Harness()
    for n in range(50):
        (event,) = harness.feed(invite(call_id=f"c{n}", branch=f"z9hG4bK{n}", from_tag=f"f{n}"))
        assert isinstance(event, IncomingCall)
        harness.op(harness.core.answer(event.call, our_answer()))
        harness.feed(request("ACK", call_id=f"c{n}", from_tag=f"f{n}", branch=f"z9hG4bKa{n}",
                             to_tag=event.call.local_tag))  # fmt: skip
        harness.op(harness.core.hangup(event.call))
    assert harness.core.active_calls == 50
    harness.advance(200)
    assert harness.core.active_calls == 0 and harness.live_timers == 0
    assert sum(isinstance(e, CallEnded) for e in harness.events) == 50
    core = harness.core
    assert not core._server and not core._client and not core._txn_call


def test_first_reinvite_moving_media_is_reported() -> None:
    harness = Harness()
    call = established(harness)
    moved = invite(to_tag="id0", cseq=2, branch="z9hG4bKre",
                   body=OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.9"))  # fmt: skip
    (event,) = harness.feed(moved)
    assert isinstance(event, MediaChanged) and event.call == call
    assert event.media.remote_host == "127.0.0.9"


def test_reinvite_without_sdp_gets_our_current_sdp() -> None:
    harness = Harness()
    established(harness)
    harness.take()
    assert harness.feed(invite(to_tag="id0", cseq=2, branch="z9hG4bKre", body="")) == []
    (ok,) = harness.take()
    assert ok.response.status == 200 and ok.response.body == our_answer().serialize()


# A From that is not UTF-8 (\xc3 then "("): it once parsed, and broke the database insert.
BAD_FROM = invite().replace(b"<sip:13812345678@", b"<sip:\xc3\x28138123@")


@pytest.mark.parametrize("transport", [Transport.UDP, Transport.TCP])
def test_header_not_utf8_is_answered_400_with_no_call(transport: Transport) -> None:
    harness = Harness()
    assert harness.feed(BAD_FROM, transport) == []
    assert [s.data for s in harness.take()] == [
        b"SIP/2.0 400 From header is not valid UTF-8\r\n"
        + VIA.encode()
        + b"From: <sip:\xc3\x28138123@127.0.0.1>;tag=ft1\r\n"
        b"To: <sip:12345@127.0.0.1>;tag=id0\r\n"
        b"Call-ID: call-1\r\nCSeq: 1 INVITE\r\nServer: voice-intake\r\nContent-Length: 0\r\n\r\n"
    ]
    assert harness.core.stats.malformed_answered == 1


def test_header_not_utf8_over_a_stream_leaves_the_framing_intact() -> None:
    framer, harness = StreamFramer(), Harness()
    statuses = []
    for item in framer.feed(BAD_FROM + request("OPTIONS", branch="z9hG4bKo")):
        assert isinstance(item, bytes)
        harness.feed(item, Transport.TCP)
        statuses += harness.statuses()
    assert statuses == [400, 200]
    assert not framer.broken
