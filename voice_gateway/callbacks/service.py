"""Callbacks inside ``serve`` and from the command line: the dialer, the trunk's route and
the scheduler wired to a started SIP gateway and the store."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from config import Settings
from ivr import Menu, validate
from ivr.errors import MenuError, PromptError
from storage import DraftWorkflow
from storage.callbacks import AttemptRecord, CallbackJob, CallbackStore
from voice_gateway.callbacks.dialer import Dialer, DialResult
from voice_gateway.callbacks.prompts import SUMMARY_PROMPT
from voice_gateway.callbacks.schedule import CallingHours, next_attempt
from voice_gateway.callbacks.scheduler import CallbackScheduler
from voice_gateway.callbacks.survey import SurveyAnswers, load_survey_menu, needs_rework
from voice_gateway.callbacks.trunk import outbound_route, target_uri
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.services import Services, open_services

log = logging.getLogger(__name__)


def survey_menu(services: Services) -> Menu:
    """The configured survey menu, validated; raises ``ValueError`` naming the problem."""
    source = services.settings.callbacks.menu
    try:
        menu = load_survey_menu(None if source == "survey" else source)
    except MenuError as exc:
        raise ValueError(f"callbacks.menu {source}: {exc}") from exc
    if errors := validate(menu):
        raise ValueError(f"callbacks.menu {source} fails validation: {errors[0]}")
    return menu


async def render_prompts(services: Services, menu: Menu) -> None:
    """Speak the survey's prompts that have no audio yet (as the gateway does for its menu)."""
    from ivr.prompts import render_missing

    settings = services.settings
    try:
        shared = [pid for pid in menu.prompts if pid != SUMMARY_PROMPT]  # per call, not here
        done = await asyncio.to_thread(render_missing, menu, settings.prompt_dir, settings.ivr,
                                       shared)  # fmt: skip
    except (PromptError, OSError) as exc:
        log.warning("survey prompts not rendered (%s): calls skip prompts without audio", exc)
        return
    if done:
        log.info("rendered %d survey prompt(s)", len(done))


async def order_summary(services: Services, order_id: str) -> str | None:
    """The work order's summary (as an agent left it), read out in its survey."""
    found = await DraftWorkflow(services.store.engine, services.store.bus).draft(order_id)
    summary = found[0].get("summary") if found is not None else None
    return summary if isinstance(summary, str) else None


def dialler(services: Services, dialer: Dialer) -> CallbackScheduler:
    """The scheduler dialling through ``dialer`` with the configured trunk."""
    s = services.settings.callbacks
    route = outbound_route(s)
    store = CallbackStore(services.store.engine, services.store.bus)

    async def dial(job: CallbackJob) -> DialResult:
        return await dialer.call(target_uri(job.number, s), route, order_id=job.draft_id,
                                 caller_number=job.number,
                                 summary=await order_summary(services, job.draft_id))

    return CallbackScheduler(store, dial, s, node=services.settings.node_id,
                             zone=services.settings.analytics.timezone)  # fmt: skip


@contextlib.asynccontextmanager
async def callback_service(services: Services,
                           gateway: SipGateway) -> AsyncIterator[CallbackScheduler | None]:
    """With ``callbacks.enabled``, the scheduler running for the block's life."""
    if not services.settings.callbacks.enabled:
        yield None
        return
    menu = survey_menu(services)
    rendering = asyncio.create_task(render_prompts(services, menu))
    scheduler = dialler(services, Dialer(gateway, menu))
    task = asyncio.create_task(scheduler.run(), name="callback-scheduler")
    log.info("callbacks: scheduler running (calling hours %s)",
             services.settings.callbacks.calling_hours)
    try:
        yield scheduler
    finally:
        for t in (task, rendering):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await scheduler.close()


async def call_now(services: Services, gateway: SipGateway, order_id: str,
                   to: str) -> dict[str, object]:  # fmt: skip
    """One survey call of ``order_id`` to ``to`` now, stored as an attempt of its
    callback (queued first if it had none); the CLI's JSON object."""
    s = services.settings.callbacks
    if await DraftWorkflow(services.store.engine, services.store.bus).draft(order_id) is None:
        raise LookupError(f"no order {order_id}")
    menu = survey_menu(services)
    store = CallbackStore(services.store.engine, services.store.bus)
    now = datetime.now(UTC)
    await store.enqueue(order_id, to, now)
    row = await store.for_draft(order_id)
    if row is None:
        raise LookupError(f"order {order_id} has no callback")
    attempts = row["attempts"]
    job = CallbackJob(str(row["id"]), order_id, to, attempts if isinstance(attempts, int) else 0)
    result = await Dialer(gateway, menu).call(target_uri(to, s), outbound_route(s),
                                              order_id=order_id, caller_number=None,
                                              summary=await order_summary(services, order_id))
    answers = result.answers or SurveyAnswers()
    record = AttemptRecord(result.outcome, result.status, result.call_id, answers.resolved,
                           answers.satisfaction, answers.do_not_call,
                           rework=needs_rework(answers))  # fmt: skip
    hours = CallingHours.parse(s.calling_hours, services.settings.analytics.timezone)
    done = datetime.now(UTC)
    next_due = None if result.outcome == "answered" else next_attempt(
        result.outcome, job.attempts + 1, done, s, hours, result.retry_after)
    await store.finish_attempt(job, services.settings.node_id, record, done, next_due)
    return {"order_id": order_id, "outcome": result.outcome, "resolved": answers.resolved,
            "satisfaction": answers.satisfaction, "attempt": job.attempts + 1,
            "call_id": result.call_id}


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


async def cli_call(settings: Settings, order_id: str, to: str) -> int:
    """``voice-intake callbacks call ORDER_ID --to SIP_URI``: one JSON object."""
    # Our own SIP port (any free one): a `serve` on this machine keeps sip.port.
    settings = dataclasses.replace(settings, sip=dataclasses.replace(settings.sip, port=0))
    async with open_services(settings) as services:
        gateway = SipGateway(services)
        await gateway.start()
        try:
            result = await call_now(services, gateway, order_id, to)
        finally:
            await gateway.close()
    print(dumps(result))
    return 0


async def cli_list(settings: Settings, status: str | None) -> int:
    """``voice-intake callbacks list``: the queue, one JSON object a line."""
    async with open_services(settings, with_asr=False) as services:
        rows = await CallbackStore(services.store.engine, services.store.bus).list(status)
    for row in rows:
        print(dumps(row))
    return 0
