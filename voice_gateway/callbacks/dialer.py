"""The outbound leg: one survey call placed through the SIP gateway's core and driven by
the same call machine as every inbound call.

How it works. :meth:`Dialer.call` binds the call's RTP port, puts it in our SDP offer and
sends the INVITE through the gateway's :class:`~voice_gateway.sip.uac.UserAgent` (one
socket set for both directions). Until the callee answers, the attempt belongs to the SIP
core alone (ringing, CANCEL on ring timeout, digest, redirects); a failure comes back as
its outcome (busy, no-answer, rejected, failed) with nothing stored. Once answered, an
:class:`OutboundCallTransport` (a :class:`SipCallTransport` whose ``answer`` is already
done) and a :class:`~voice_gateway.calls.runner.CallRunner` take the call exactly as the
gateway does for an inbound one: the runner is registered under the dialog's handle, so
the callee's BYE, INFO keys and re-INVITEs reach it through the gateway's own routing.
The machine walks the survey menu; at the end, instead of drafting a work order, the
runner hands the menu choices to :meth:`Dialer._conclude`, which reads them as answers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import asdict, dataclass

from ivr import Menu
from storage import Event as StoredEvent
from storage.repository import new_id
from voice_gateway import metrics
from voice_gateway.callbacks.prompts import (
    SUMMARY_PROMPT,
    CallPrompts,
    render_summary,
    summary_text,
)
from voice_gateway.callbacks.survey import SurveyAnswers, answers_from_choices, heard_by_sound
from voice_gateway.calls import machine as m
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.prompts import PromptLibrary
from voice_gateway.calls.runner import CallRunner
from voice_gateway.calls.sip_gateway import SAMPLE_RATE, SipCallTransport, SipGateway
from voice_gateway.sip import Event as SipEvent
from voice_gateway.sip.events import (
    CallHandle,
    OutboundAnswered,
    OutboundFailed,
    OutboundProgress,
)
from voice_gateway.sip.sdp import build_offer, offered_audio
from voice_gateway.sip.uac import OutboundRoute

log = logging.getLogger(__name__)
_NO_CALL = CallHandle("", "", "")


@dataclass(frozen=True)
class DialResult:
    """One attempt's outcome: ``answered`` with the survey's answers, or why not."""

    outcome: str  # answered | busy | no-answer | rejected | cancelled | failed
    status: int | None = None
    retry_after: int | None = None
    call_id: str | None = None  # the stored call (answered attempts only)
    answers: SurveyAnswers | None = None
    duration_s: float = 0.0


class OutboundCallTransport(SipCallTransport):
    """A callback's SIP and RTP as its runner sees them: the same as an inbound call's,
    except that the RTP port is bound before the INVITE and the call is answered by the
    callee (our ``answer`` only starts the media keep-alive)."""

    async def bind(self) -> int:
        """Bind the RTP port our offer names."""
        g = self.gateway
        bind_host = g.host if g.settings.host in ("0.0.0.0", "::") else g.settings.host
        self.port = await self.rtp.bind(bind_host, g.ports)
        return self.port

    async def prepare(self) -> None:
        return None  # bound before the INVITE, and no 180 to send: we are the caller

    def answer(self) -> bool:
        self.answered_at = asyncio.get_running_loop().time()
        if self.port and not self.rtp.closed:
            self.rtp.keep_alive()
        return True


class Dialer:
    """Places survey calls through a started :class:`SipGateway` (one per process)."""

    def __init__(self, gateway: SipGateway, menu: Menu) -> None:
        self.gateway = gateway
        self.menu = menu
        self._waiting: dict[CallHandle, asyncio.Future[OutboundAnswered | OutboundFailed]] = {}
        self._early: dict[CallHandle, OutboundCallTransport] = {}
        gateway.on_outbound = self._on_outbound

    @property
    def active(self) -> int:
        """Attempts ringing plus surveys under way."""
        return len(self._waiting) + sum(1 for r in self.gateway.calls.values()
                                        if isinstance(r.transport, OutboundCallTransport))

    async def call(self, target: str, route: OutboundRoute, *, order_id: str,
                   caller_number: str | None = None,
                   summary: str | None = None) -> DialResult:  # fmt: skip
        """Dial ``target`` (a SIP URI) and run the survey if answered; ``summary`` (the
        order's) is spoken where the menu reads it out. Each attempt is counted on
        /metrics by outcome (an error: ``failed``), and an answered one's answers."""
        try:
            result = await self._call(target, route, order_id=order_id,
                                      caller_number=caller_number, summary=summary)  # fmt: skip
        except Exception:
            metrics.callback_attempt("failed")
            raise
        metrics.callback_attempt(result.outcome)
        if result.answers is not None:
            a = result.answers
            metrics.callback_answers(a.resolved, a.satisfaction, a.do_not_call)
        return result

    async def _call(self, target: str, route: OutboundRoute, *, order_id: str,
                    caller_number: str | None, summary: str | None) -> DialResult:
        g = self.gateway
        text = summary_text(self.menu, summary)
        pcm = await render_summary(text, g.services.settings.ivr) if text else None
        prompts = CallPrompts(g.prompts, {SUMMARY_PROMPT: pcm}) if pcm else g.prompts
        services = g.services
        assert services.pool is not None
        policy = g.policy
        transport = OutboundCallTransport(g, _NO_CALL, route.proxy or ("0.0.0.0", 0),
                                          build_offer(policy, g.host, 9, session_id="0"),
                                          offered_audio(policy))  # fmt: skip
        try:
            port = await transport.bind()
            offer = build_offer(policy, g.host, port, session_id=str(secrets.randbits(31)))
            transport.sdp = offer
            handle = g.core.invite(target, offer, route, policy=policy)
            future: asyncio.Future[OutboundAnswered | OutboundFailed] = (
                asyncio.get_running_loop().create_future())
            self._waiting[handle] = future
            self._early[handle] = transport
            g.endpoint.flush()
            try:
                outcome = await future
            except asyncio.CancelledError:
                g.core.cancel(handle)
                g.endpoint.flush()
                raise
            finally:
                self._waiting.pop(handle, None)
                self._early.pop(handle, None)
        except BaseException:
            transport.close()
            raise
        if isinstance(outcome, OutboundFailed):
            transport.close()
            log.info("callback for order %s: %s (%s)", order_id[:8], outcome.outcome,
                     outcome.status)  # fmt: skip
            return DialResult(outcome.outcome, outcome.status, outcome.retry_after)
        return await self._survey(transport, outcome, order_id, caller_number, prompts)

    async def _survey(self, transport: OutboundCallTransport, ev: OutboundAnswered,
                      order_id: str, caller_number: str | None,
                      prompts: PromptLibrary) -> DialResult:  # fmt: skip
        g = self.gateway
        services = g.services
        assert services.pool is not None
        transport.handle = ev.dialog
        transport.source = g.core.next_hop(ev.dialog) or transport.source
        transport.apply_media(ev.media)
        call_id = new_id()
        plan = m.CallPlan(caller_number, self.menu, ring_s=0.0,
                          grammar_choices=services.pool.spec.kind == "vosk",
                          heard_as=heard_by_sound)  # fmt: skip
        audio = CallAudio.open(services.settings, services.pool, call_id, SAMPLE_RATE,
                               record_outbound=True)  # fmt: skip
        concluded: dict[str, object] = {}

        async def conclude(action: m.Draft) -> dict[str, object]:
            answers = answers_from_choices(action.menu_choices)
            payload: dict[str, object] = {"order_id": order_id, **asdict(answers)}
            await services.store.record_event(StoredEvent("callback_answers", call_id,
                                                          payload))  # fmt: skip
            concluded.update(payload)
            return payload

        runner = CallRunner(services, m.CallMachine(plan), transport, audio, call_id=call_id,
                            source="callback", caller_number=caller_number,
                            prompts=prompts, on_done=g._call_done, conclude=conclude,
                            setup_deadline_s=g.settings.setup_deadline_s)  # fmt: skip
        transport.audio, transport.runner = audio, runner
        g.calls[ev.dialog] = runner
        metrics.CALLBACK_SURVEYS.inc()
        try:
            runner.start(m.Offered())
            await runner.finished.wait()
        finally:
            metrics.CALLBACK_SURVEYS.dec()
        answers = answers_from_choices(runner.machine.menu_choices)
        log.info("callback for order %s answered: resolved=%s satisfaction=%s",
                 order_id[:8], answers.resolved, answers.satisfaction)  # fmt: skip
        return DialResult("answered", 200, None, call_id, answers, audio.duration)

    def _on_outbound(self, ev: SipEvent) -> None:
        if isinstance(ev, OutboundProgress):
            transport = self._early.get(ev.call)
            if ev.media is not None and transport is not None:
                transport.apply_media(ev.media)  # early media: ringback or announcements
            return
        if isinstance(ev, OutboundAnswered | OutboundFailed):
            future = self._waiting.get(ev.call)
            if future is not None and not future.done():
                future.set_result(ev)
            elif isinstance(ev, OutboundAnswered):
                # Nobody waits any more (cancelled while the 200 crossed): hang up.
                self.gateway.endpoint.hangup(ev.dialog)
