"""Our UAC core (voice_gateway.sip.uac) against the real sipp as the citizen's phone or
the outbound trunk: answered and hung up, busy, ringing until our CANCEL, digest auth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.sipp.harness import free_port
from tests.sipp.uas import sipp_uas
from voice_gateway.sip.events import (
    CallEnded,
    Event,
    OutboundAnswered,
    OutboundFailed,
    OutboundProgress,
)
from voice_gateway.sip.sdp import AudioPolicy, build_offer
from voice_gateway.sip.transactions import TimerConfig
from voice_gateway.sip.transport import SipEndpoint
from voice_gateway.sip.uac import OutboundRoute, UserAgent
from voice_gateway.sip.uas import UasConfig

pytestmark = [pytest.mark.slow]


class Caller:
    """A UserAgent over a real UDP socket; events in a queue."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.port = free_port()
        core = UserAgent(UasConfig(local_host="127.0.0.1", local_port=self.port,
                                   timers=TimerConfig(t1=0.1)))  # fmt: skip
        self.endpoint = SipEndpoint(core, self.events.put_nowait)
        self.core = core

    async def __aenter__(self) -> Caller:
        await self.endpoint.start_udp("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.endpoint.close()

    def call(self, sipp_port: int, route: OutboundRoute | None = None) -> object:
        offer = build_offer(AudioPolicy(), "127.0.0.1", free_port(), session_id="1")
        route = route or OutboundRoute(proxy=("127.0.0.1", sipp_port), domain="hotline.example")
        handle = self.core.invite(f"sip:13800000000@127.0.0.1:{sipp_port}", offer, route)
        self.endpoint.flush()
        return handle

    async def next(self, kind: type, within: float = 20.0) -> Event:
        while True:
            event = await asyncio.wait_for(self.events.get(), within)
            if isinstance(event, kind):
                return event


async def test_answered_callback_is_acked_and_hung_up_by_us(tmp_path: Path) -> None:
    async with sipp_uas("uas_answer.xml", tmp_path,
                        values={"MEDIA": ""}) as uas:  # fmt: skip
        async with Caller() as caller:
            call = caller.call(uas.port)
            ringing = await caller.next(OutboundProgress)
            assert isinstance(ringing, OutboundProgress) and ringing.status == 180
            answered = await caller.next(OutboundAnswered)
            assert isinstance(answered, OutboundAnswered) and answered.call == call
            assert answered.media.codec == "PCMU" and answered.media.telephone_event_pt == 101
            assert caller.endpoint.hangup(answered.dialog)
            ended = await caller.next(CallEnded)
            assert isinstance(ended, CallEnded) and ended.status == 200
        run = await uas.result()
    assert run.returncode == 0, run.errors or run.stdout[-2000:]


async def test_busy_is_reported_with_retry_after_and_acked(tmp_path: Path) -> None:
    async with sipp_uas("uas_busy.xml", tmp_path) as uas, Caller() as caller:
        call = caller.call(uas.port)
        failed = await caller.next(OutboundFailed)
        run = await uas.result()
    assert failed == OutboundFailed(call, 486, "Busy Here", "busy", 60)  # type: ignore[arg-type]
    assert run.returncode == 0, run.errors


async def test_ring_timeout_sends_cancel_and_counts_no_answer(tmp_path: Path) -> None:
    async with sipp_uas("uas_ring_forever.xml", tmp_path) as uas, Caller() as caller:
        route = OutboundRoute(proxy=("127.0.0.1", uas.port), ring_timeout_s=1.0)
        call = caller.call(uas.port, route)
        failed = await caller.next(OutboundFailed)
        run = await uas.result()
    assert failed == OutboundFailed(call, 487, "Request Terminated", "no-answer")  # type: ignore[arg-type]
    assert run.returncode == 0, run.errors


@pytest.mark.parametrize(("password", "answered"), [("s3cret", True), ("wrong", False)])
async def test_digest_challenge_from_the_trunk(tmp_path: Path, password: str,
                                              answered: bool) -> None:  # fmt: skip
    async with sipp_uas("uas_auth.xml", tmp_path) as uas, Caller() as caller:
        route = OutboundRoute(proxy=("127.0.0.1", uas.port), username="hotline",
                              password=password)  # fmt: skip
        caller.call(uas.port, route)
        if answered:
            up = await caller.next(OutboundAnswered)
            assert isinstance(up, OutboundAnswered)
            caller.endpoint.hangup(up.dialog)
            await caller.next(CallEnded)
        else:
            failed = await caller.next(OutboundFailed)
            assert isinstance(failed, OutboundFailed) and failed.status == 403
            assert failed.outcome == "rejected"
        run = await uas.result()
    assert run.returncode == 0, run.errors or run.stdout[-2000:]


async def test_answered_over_tcp(tmp_path: Path) -> None:
    """The trunk's transport from the route: INVITE, ACK and BYE over one TCP connection."""
    from voice_gateway.sip.events import Transport

    async with (sipp_uas("uas_answer.xml", tmp_path, values={"MEDIA": ""},
                         transport="t1") as uas, Caller() as caller):  # fmt: skip
        route = OutboundRoute(proxy=("127.0.0.1", uas.port), transport=Transport.TCP)
        caller.call(uas.port, route)
        answered = await caller.next(OutboundAnswered)
        assert isinstance(answered, OutboundAnswered)
        assert caller.endpoint.hangup(answered.dialog)
        ended = await caller.next(CallEnded)
        assert isinstance(ended, CallEnded) and ended.status == 200
        run = await uas.result()
    assert run.returncode == 0, run.errors or run.stdout[-2000:]


async def test_redirect_followed_once_then_busy(tmp_path: Path) -> None:
    """sipp answers 302 to another number on its host; the INVITE that follows it (sipp
    checks its Request-URI) gets 486."""
    async with sipp_uas("uas_redirect.xml", tmp_path) as uas, Caller() as caller:
        call = caller.call(uas.port)
        failed = await caller.next(OutboundFailed)
        run = await uas.result()
    assert failed == OutboundFailed(call, 486, "Busy Here", "busy")  # type: ignore[arg-type]
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
