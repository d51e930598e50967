"""Blind transfer to agents: our REFER (RFC 3515), the transferee's NOTIFYs, the outcomes."""

from __future__ import annotations

from voice_gateway.sip.bodies import parse_sipfrag_status
from voice_gateway.sip.events import CallEnded, CallHandle, EndReason, TransferProgress
from voice_gateway.sip.message import Request, parse_message

from .support import Harness, request
from .test_uas import established

AGENTS = "sip:agents@10.0.0.5:5060"


def referred(harness: Harness) -> tuple[CallHandle, Request]:
    call = established(harness)
    harness.take()
    assert harness.op(harness.core.refer(call, AGENTS))
    (sent,) = harness.take()
    refer = parse_message(sent.data)
    assert isinstance(refer, Request)
    return call, refer


def answer(refer: Request, status: int, reason: str) -> bytes:
    """The transferee's response to our REFER, built from its headers."""
    h = refer.headers
    return (
        f"SIP/2.0 {status} {reason}\r\nVia: {h.get('Via')}\r\nFrom: {h.get('From')}\r\n"
        f"To: {h.get('To')}\r\nCall-ID: {h.get('Call-ID')}\r\nCSeq: {h.get('CSeq')}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def notify(frag: str, cseq: int, state: str = "active;expires=60",
           event: str = "refer") -> bytes:
    return request(
        "NOTIFY", to_tag="id0", cseq=cseq, branch=f"z9hG4bKn{cseq}", body=frag,
        content_type="message/sipfrag;version=2.0",
        extra=f"Event: {event}\r\nSubscription-State: {state}",
    )


def test_refer_goes_in_the_dialog_with_refer_to_and_a_new_cseq() -> None:
    harness = Harness()
    call, refer = referred(harness)
    assert refer.method == "REFER" and refer.uri == "sip:caller@127.0.0.1:5061"
    assert refer.headers.get("Refer-To") == f"<{AGENTS}>"
    assert refer.headers.get("Referred-By") and refer.headers.get("Contact")
    assert refer.cseq.number == 2 and refer.cseq.method == "REFER"
    assert refer.call_id == call.call_id and refer.from_tag == call.local_tag
    assert refer.to_tag == call.remote_tag
    # Only one transfer at a time.
    assert not harness.core.refer(call, AGENTS)


def test_accepted_then_notified_success() -> None:
    harness = Harness()
    call, refer = referred(harness)
    assert harness.feed(answer(refer, 202, "Accepted")) == [TransferProgress(call, 202, False)]
    assert harness.feed(notify("SIP/2.0 100 Trying\r\n", 2)) == [
        TransferProgress(call, 100, False)]
    assert harness.statuses() == [200]
    (done,) = harness.feed(notify("SIP/2.0 200 OK\r\n", 3, state="terminated;reason=noresource"))
    assert done == TransferProgress(call, 200, True) and done.ok
    assert harness.statuses() == [200]
    # The transfer is over: a stray NOTIFY afterwards names no subscription.
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 4)) == []
    assert harness.statuses() == [481]
    # The call is still ours to end (RFC 5589: the transferor hangs up).
    assert harness.op(harness.core.hangup(call))


def test_target_refusing_fails_the_transfer() -> None:
    harness = Harness()
    call, refer = referred(harness)
    harness.feed(answer(refer, 202, "Accepted"))
    (event,) = harness.feed(notify("SIP/2.0 486 Busy Here\r\n", 2, state="terminated"))
    assert event == TransferProgress(call, 486, True) and not event.ok


def test_refer_refused_or_unanswered_fails_the_transfer() -> None:
    harness = Harness()
    call, refer = referred(harness)
    (event,) = harness.feed(answer(refer, 603, "Decline"))
    assert event == TransferProgress(call, 603, True) and not event.ok
    # A second try is allowed once the first is over; this one gets no answer (Timer F).
    assert harness.op(harness.core.refer(call, AGENTS))
    assert harness.advance(64 * 0.5) == [TransferProgress(call, None, True)]
    assert harness.core.active_calls == 1  # the call itself goes on


def test_notify_for_another_event_package_is_489_and_bad_sipfrag_is_400() -> None:
    harness = Harness()
    call, refer = referred(harness)
    harness.feed(answer(refer, 202, "Accepted"))
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 2, event="presence")) == []
    assert harness.statuses() == [489]
    assert harness.feed(notify("hello\r\n", 3)) == []
    assert harness.statuses() == [400]
    assert harness.core.refer(call, AGENTS) is False  # still waiting for a real answer


def test_remote_bye_during_a_transfer_ends_the_call() -> None:
    harness = Harness()
    call, refer = referred(harness)
    harness.feed(answer(refer, 202, "Accepted"))
    bye = request("BYE", to_tag="id0", cseq=2, branch="z9hG4bKbye")
    assert harness.feed(bye) == [CallEnded(call, EndReason.REMOTE_BYE)]
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 3)) == []
    assert harness.statuses()[-1] == 481


def test_refer_needs_a_confirmed_call() -> None:
    harness = Harness()
    assert not harness.core.refer(CallHandle("nope", "a", "b"), AGENTS)


def test_sipfrag_status() -> None:
    assert parse_sipfrag_status(b"SIP/2.0 180 Ringing\r\n") == 180
    assert parse_sipfrag_status(b"SIP/2.0 200 OK") == 200
    assert parse_sipfrag_status(b"\r\nSIP/2.0 503 Service Unavailable\r\nRetry-After: 5") == 503
    assert parse_sipfrag_status(b"INVITE sip:x SIP/2.0") is None
    assert parse_sipfrag_status(b"SIP/2.0 99 Nope") is None
    assert parse_sipfrag_status(b"") is None


def test_final_status_before_the_subscription_ends_is_reported_once() -> None:
    harness = Harness()
    call, refer = referred(harness)
    harness.feed(answer(refer, 202, "Accepted"))
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 2)) == [TransferProgress(call, 200, True)]
    # The notifier ends its subscription afterwards: answered 200, nothing new to report.
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 3, state="terminated")) == []
    assert harness.statuses() == [200, 200]
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 4)) == []
    assert harness.statuses() == [481]


def test_an_abandoned_transfer_reports_nothing_and_its_notifies_get_481() -> None:
    harness = Harness()
    call, refer = referred(harness)
    harness.feed(answer(refer, 202, "Accepted"))
    harness.core.abandon_transfer(call)
    assert harness.feed(notify("SIP/2.0 200 OK\r\n", 2)) == []
    assert harness.statuses() == [481]
    # And a new transfer may start.
    assert harness.op(harness.core.refer(call, AGENTS))


def test_transfer_target_by_node_uri_then_queue_name_then_agent_uri() -> None:
    from config.settings import IvrSettings
    from voice_gateway.calls.menus import transfer_target

    ivr = IvrSettings(agent_uri="sip:agents@10.0.0.5",
                      queues={"water": "sip:water@10.0.0.6"})
    assert transfer_target("sip:duty@10.0.0.9", ivr) == "sip:duty@10.0.0.9"
    assert transfer_target("water", ivr) == "sip:water@10.0.0.6"
    assert transfer_target("agents", ivr) == "sip:agents@10.0.0.5"
    assert transfer_target("water", IvrSettings(queues={"water": "sip:w@h"})) == "sip:w@h"
    assert transfer_target("agents", IvrSettings(queues={"water": "sip:w@h"})) is None
