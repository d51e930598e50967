"""The sans-IO user agent client: our INVITE from offer to BYE, under a fake clock."""

from __future__ import annotations

import pytest

from voice_gateway.sip.auth import AuthResult, DigestAuthenticator
from voice_gateway.sip.events import (
    CallEnded,
    EndReason,
    OutboundAnswered,
    OutboundFailed,
    OutboundProgress,
    Transport,
)
from voice_gateway.sip.message import Request, build_response, parse_message
from voice_gateway.sip.sdp import AudioPolicy, SessionDescription, build_offer
from voice_gateway.sip.uac import OutboundRoute, UserAgent, failure_outcome
from voice_gateway.sip.uas import UasConfig

from .support import OFFER, Harness, counter_ids, request

PROXY = ("127.0.0.1", 5070)
CALLEE = "<sip:callee@127.0.0.1:5062>"
ROUTE = OutboundRoute(proxy=PROXY, caller_id="12345", domain="hotline.example",
                      ring_timeout_s=30.0)  # fmt: skip


class UacHarness(Harness):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.core = self.uac = UserAgent(UasConfig(local_port=5080),
                                         new_id=counter_ids())  # type: ignore[arg-type]  # fmt: skip

    def call(self, target: str = "sip:13800000000@trunk.example", route: OutboundRoute = ROUTE,
             ) -> object:  # fmt: skip
        offer = build_offer(AudioPolicy(), "127.0.0.1", 40000, session_id="1")
        return self.op(self.uac.invite(target, offer, route))

    def last_request(self) -> Request:
        message = parse_message(self.sent[-1].data)
        assert isinstance(message, Request)
        return message

    def answer(self, req: Request, status: int, *, body: str = "",
               extra: tuple[tuple[str, str], ...] = (), tag: str = "callee",
               ) -> list[object]:  # fmt: skip
        response = build_response(req, status, to_tag=tag if status > 100 else None,
                                  extra_headers=list(extra), body=body.encode(),
                                  content_type="application/sdp" if body else None)  # fmt: skip
        return list(self.feed(response.serialize()))


def test_invite_goes_to_the_trunk_with_caller_id_and_offer() -> None:
    h = UacHarness()
    h.call()
    sent = h.take()
    assert [s.dest for s in sent] == [PROXY]
    req = parse_message(sent[0].data)
    assert isinstance(req, Request)
    assert (req.method, req.uri) == ("INVITE", "sip:13800000000@trunk.example")
    assert req.from_.uri.user == "12345" and req.from_.uri.host == "hotline.example"
    assert req.from_tag and req.to_tag is None
    assert req.top_via.branch and req.top_via.branch.startswith("z9hG4bK")
    assert "rport" in req.top_via.params
    assert req.contact is not None and req.contact.uri.port == 5080
    assert SessionDescription.parse(req.body).media[0].port == 40000


def test_timer_a_retransmits_and_timer_b_fails_the_call() -> None:
    h = UacHarness()
    call = h.call()
    events = h.advance(40)
    assert [s.at for s in h.take()] == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert events == [OutboundFailed(call, None, "no response (Timer B)", "failed")]  # type: ignore[arg-type]
    assert h.uac.outbound_calls == 0
    assert h.live_timers == 0


def test_ringing_early_media_answer_ack_and_bye() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    h.take()
    assert h.answer(invite, 100) == []
    [ringing] = h.answer(invite, 180)
    assert ringing == OutboundProgress(call, 180, None)  # type: ignore[arg-type]
    [early] = h.answer(invite, 183, body=OFFER)
    assert isinstance(early, OutboundProgress) and early.media is not None
    assert early.media.remote_port == 6000
    contact = (("Contact", CALLEE),)
    [answered] = h.answer(invite, 200, body=OFFER, extra=contact)
    assert isinstance(answered, OutboundAnswered) and answered.call == call
    assert answered.media.codec == "PCMA" and answered.media.remote_port == 6000
    assert answered.dialog.remote_tag == "callee"
    [ack] = h.take()
    req = parse_message(ack.data)
    assert isinstance(req, Request)
    assert (req.method, req.uri, ack.dest) == ("ACK", "sip:callee@127.0.0.1:5062",
                                               ("127.0.0.1", 5062))  # fmt: skip
    assert req.branch != invite.branch and req.to_tag == "callee"
    assert (req.cseq.number, req.cseq.method) == (invite.cseq.number, "ACK")
    assert h.answer(invite, 200, body=OFFER, extra=contact) == []  # retransmitted 200
    assert [s.data for s in h.take()] == [ack.data]  # ACKed again
    assert h.op(h.core.hangup(answered.dialog))
    [bye] = h.take()
    bye_req = parse_message(bye.data)
    assert isinstance(bye_req, Request) and bye_req.method == "BYE"
    assert bye_req.cseq.number == invite.cseq.number + 1
    assert h.answer(bye_req, 200) == [CallEnded(answered.dialog, EndReason.LOCAL_BYE, 200)]


def test_callee_hangs_up() -> None:
    h = UacHarness()
    h.call()
    invite = h.last_request()
    [answered] = h.answer(invite, 200, body=OFFER, extra=(("Contact", CALLEE),))
    assert isinstance(answered, OutboundAnswered)
    h.take()
    bye = request("BYE", uri="sip:intake@127.0.0.1:5080", call_id=invite.call_id,
                  from_tag="callee", to_tag=invite.from_tag or "", cseq=1,
                  branch="z9hG4bKbye")  # fmt: skip
    bye = bye.replace(b"To: <sip:12345@127.0.0.1>", b"To: <sip:x@127.0.0.1>")
    events = h.feed(bye)
    assert h.statuses() == [200]
    assert events == [CallEnded(answered.dialog, EndReason.REMOTE_BYE)]


def test_busy_is_acked_on_the_invite_branch() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    h.take()
    events = h.answer(invite, 486)
    assert events == [OutboundFailed(call, 486, "Busy Here", "busy")]  # type: ignore[arg-type]
    [ack] = h.take()
    req = parse_message(ack.data)
    assert isinstance(req, Request)
    assert (req.method, req.branch, ack.dest) == ("ACK", invite.branch, PROXY)


def test_service_unavailable_brings_its_retry_after() -> None:
    h = UacHarness()
    call = h.call()
    events = h.answer(h.last_request(), 503, extra=(("Retry-After", "120 (maintenance)"),))
    assert events == [OutboundFailed(call, 503, "Service Unavailable", "failed", 120)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "outcome"), [
    (486, "busy"), (600, "busy"), (480, "no-answer"), (408, "no-answer"), (603, "rejected"),
    (403, "rejected"), (404, "failed"), (500, "failed"), (None, "failed"),
])  # fmt: skip
def test_failure_outcomes(status: int | None, outcome: str) -> None:
    assert failure_outcome(status) == outcome


def test_ring_timeout_cancels_then_487_is_no_answer() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    h.answer(invite, 180)
    h.take()
    assert h.advance(29.9) == []
    assert h.take() == []
    h.advance(0.2)
    [cancel] = h.take()
    req = parse_message(cancel.data)
    assert isinstance(req, Request)
    assert (req.method, req.branch, req.uri) == ("CANCEL", invite.branch, invite.uri)
    assert (req.cseq.number, req.cseq.method) == (invite.cseq.number, "CANCEL")
    assert req.to_tag is None and cancel.dest == PROXY
    assert h.answer(req, 200) == []
    events = h.answer(invite, 487)
    assert events == [OutboundFailed(call, 487, "Request Terminated", "no-answer")]  # type: ignore[arg-type]
    [ack] = h.take()
    assert ack.data.startswith(b"ACK ")
    h.advance(100)
    assert h.live_timers == 0


def test_cancel_waits_for_a_provisional() -> None:
    h = UacHarness()
    h.call()
    invite = h.last_request()
    h.answer(invite, 100)
    h.take()
    h.advance(30.1)  # ring timeout with only 100 Trying... which is a provisional
    assert [s.data[:6] for s in h.take()] == [b"CANCEL"]

    h = UacHarness()
    h.call()
    invite = h.last_request()
    h.uac.cancel(h.uac.outbound_handles()[0])
    h._collect()
    assert [s.data[:6] for s in h.take()] == [b"INVITE"]  # nothing heard yet: no CANCEL
    h.answer(invite, 180)
    assert [s.data[:6] for s in h.take()] == [b"CANCEL"]


def test_digest_challenge_is_answered_once() -> None:
    auth = DigestAuthenticator("trunk.example", b"secret", new_token=lambda: "tok")
    route = OutboundRoute(proxy=PROXY, caller_id="12345", username="hotline",
                          password="pw")  # fmt: skip
    h = UacHarness()
    call = h.call(route=route)
    invite = h.last_request()
    h.take()
    assert h.answer(invite, 401, extra=tuple(auth.challenges(0.0))) == []
    sent = [parse_message(s.data) for s in h.take()]
    assert [r.method for r in sent if isinstance(r, Request)] == ["ACK", "INVITE"]
    again = sent[-1]
    assert isinstance(again, Request)
    assert again.call_id == invite.call_id and again.from_tag == invite.from_tag
    assert again.cseq.number == invite.cseq.number + 1 and again.branch != invite.branch
    assert "SHA-256" in (again.headers.get("Authorization") or "")
    password = {"hotline": "pw"}.get
    assert auth.verify(again, password, 1.0) is AuthResult.OK
    events = h.answer(again, 401, extra=tuple(auth.challenges(1.0)))
    assert events == [OutboundFailed(call, 401, "Unauthorized", "failed")]  # type: ignore[arg-type]


def test_proxy_challenge_gets_proxy_authorization() -> None:
    route = OutboundRoute(proxy=PROXY, caller_id="12345", username="hotline", password="pw")
    h = UacHarness()
    h.call(route=route)
    invite = h.last_request()
    challenge = ('Digest realm="proxy", nonce="abc", qop="auth"')
    h.answer(invite, 407, extra=(("Proxy-Authenticate", challenge),))
    again = h.last_request()
    assert again.method == "INVITE"
    value = again.headers.get("Proxy-Authorization") or ""
    assert 'realm="proxy"' in value and "nc=00000001" in value and "algorithm=MD5" in value


def test_challenge_without_credentials_fails() -> None:
    h = UacHarness()
    call = h.call()
    challenge = ("WWW-Authenticate", 'Digest realm="r", nonce="n"')
    events = h.answer(h.last_request(), 401, extra=(challenge,))
    assert events == [OutboundFailed(call, 401, "Unauthorized", "failed")]  # type: ignore[arg-type]


def test_redirect_followed_once_within_policy() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    moved = (("Contact", "<sip:13900000000@trunk.example>"),)
    assert h.answer(invite, 302, extra=moved) == []
    second = h.last_request()
    assert (second.method, second.uri) == ("INVITE", "sip:13900000000@trunk.example")
    assert second.call_id == invite.call_id and second.cseq.number == 2
    events = h.answer(second, 302, extra=(("Contact", "<sip:13700000000@trunk.example>"),))
    assert [(e.call, e.status, e.outcome) for e in events] == [(call, 302, "failed")]  # type: ignore[attr-defined]


def test_redirect_elsewhere_is_not_followed() -> None:
    h = UacHarness()
    call = h.call()
    events = h.answer(h.last_request(), 302, extra=(("Contact", "<sip:premium@evil.example>"),))
    assert [(e.call, e.status, e.outcome) for e in events] == [(call, 302, "failed")]  # type: ignore[attr-defined]
    assert [s.data[:3] for s in h.take()][-1] == b"ACK"


def test_answer_without_a_usable_sdp_is_hung_up() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    h.take()
    events = h.answer(invite, 200, extra=(("Contact", CALLEE),))
    assert events == [OutboundFailed(call, 200, "no usable SDP answer", "failed")]  # type: ignore[arg-type]
    assert [s.data[:3] for s in h.take()] == [b"ACK", b"BYE"]


def test_over_tcp_the_trunk_transport_is_used() -> None:
    h = UacHarness()
    h.call(route=OutboundRoute(proxy=PROXY, transport=Transport.TCP))
    [sent] = h.take()
    assert sent.transport is Transport.TCP
    req = parse_message(sent.data)
    assert isinstance(req, Request) and req.top_via.transport == "TCP"
    assert req.contact is not None and "transport=tcp" in str(req.contact)


def test_no_final_after_cancel_gives_up_after_64_t1() -> None:
    h = UacHarness()
    call = h.call()
    invite = h.last_request()
    h.answer(invite, 180)
    h.advance(30.1)  # ring timeout: CANCEL
    cancel = parse_message(h.sent[-1].data)
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    h.answer(cancel, 200)  # the CANCEL is taken, but no 487 ever comes
    events = h.advance(32.5)
    assert events == [OutboundFailed(call, None, "no final response after CANCEL",  # type: ignore[arg-type]
                                     "no-answer")]
    assert h.uac.outbound_calls == 0 and h.uac._invites == {}
    h.advance(100)
    assert h.live_timers == 0
