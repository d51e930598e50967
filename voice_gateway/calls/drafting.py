"""From a finished call's transcript to a stored draft, linked to earlier appeals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.callbacks import CallbackStore
from voice_gateway import metrics
from voice_gateway.callbacks.survey import DO_NOT_CALL_LABEL
from voice_gateway.calls.machine import AnswerRow
from voice_gateway.services import Services
from workorders import PriorOrder, draft, link_repeats, utterance_alternatives
from workorders.questions import Answer, draft_with_answers

log = logging.getLogger(__name__)


async def draft_and_store(
    services: Services,
    call_id: str | None,
    transcript: str,
    caller_number: str | None,
    keypad_phone: str | None = None,
    menu_choices: tuple[str, ...] = (),
    readings: Sequence[tuple[str, Sequence[str]]] = (),
    answers: tuple[AnswerRow, ...] = (),
) -> dict[str, Any]:
    """Draft the work order, link repeats from storage, store it.

    ``answers``: (question, free decode, biased decode, asked) of the intake answers
    decoded again for their question (:mod:`workorders.questions`); they feed those fields.

    ``readings``: the transcript's utterances with the recognizer's other hypotheses
    (n-best), where a place or category the first one missed may be heard.

    The drafter runs in a thread: it is pure and takes milliseconds, but its first call in
    a process loads the gazetteer's sound index (seconds), and the event loop carries every
    live call's SIP and RTP meanwhile (a proxy's dispatcher took a gateway stalled that
    long for dead)."""
    settings = services.settings.drafting
    now = datetime.now(UTC)
    try:
        alternatives = utterance_alternatives(transcript, readings)
        drafted = await asyncio.to_thread(
            draft, transcript, caller_number, now, settings=settings,
            learned=services.store.learning.current, keypad_phone=keypad_phone,
            menu_choices=menu_choices, alternatives=alternatives)  # fmt: skip
    except Exception:
        # A drafter fault on this transcript must not leave the call undrafted (the sweep
        # would fail on it forever): the agent gets the transcript with the fields the
        # caller ID, keypad and menus give, and fills in the rest.
        log.exception("drafter failed on call %s: drafted from the keypad and caller ID only",
                      call_id)
        metrics.drafter_failed()
        drafted = draft("", caller_number, now, settings=settings, keypad_phone=keypad_phone,
                        menu_choices=menu_choices)
        answers = ()
    if answers:  # intake answers decoded again for their question feed their fields
        try:
            drafted = await asyncio.to_thread(
                draft_with_answers, drafted, transcript, [Answer(*a) for a in answers],
                caller_number, now, settings=settings, keypad_phone=keypad_phone,
                menu_choices=menu_choices, learned=services.store.learning.current)  # fmt: skip
        except Exception:
            log.exception("drafter failed on the intake answers of call %s: not used", call_id)
            metrics.drafter_failed()
    since = now - timedelta(days=settings.repeat_window_days)
    rows = await services.store.recent_drafts_like(
        drafted.phone.value, drafted.district.value, drafted.street.value, since
    )
    prior = [
        PriorOrder(
            id=r.id, phone=r.phone, district=r.district, street=r.street,
            address=r.fields.get("address"), category=r.category,
            created_at=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
        )
        for r in reversed(rows)  # oldest first
    ]
    if prior:
        drafted = link_repeats(drafted, caller_number, prior, now, settings)
    stored = await services.store.save_draft(
        call_id, transcript, drafted.to_dict(), drafted.evidence(),
        list(drafted.related), drafted.escalate,
    )
    metrics.draft_stored(stored)
    if DO_NOT_CALL_LABEL in menu_choices:  # 如不需要回访请按6: stored on the order
        await CallbackStore(services.store.engine, services.store.bus).decline(
            str(stored["id"]), drafted.phone.value, now)
    return stored
