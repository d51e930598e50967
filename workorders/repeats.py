"""Repeat callers: link a draft to earlier work orders about the same thing.

Pure: storage supplies the earlier orders (:class:`PriorOrder`), this module decides.
An earlier order within the window (30 days by default) is related when it has the same
phone number, or the same address and category. The appeal that makes ``escalate_at``
(3 by default) is flagged for escalation: the responsible unit's head must contact the
caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.settings import DraftingSettings
from workorders.draft import Draft
from workorders.phone import normalise_number


@dataclass(frozen=True)
class PriorOrder:
    """The fields of an earlier work order that repeat detection compares."""

    id: str
    phone: str | None
    district: str | None
    street: str | None
    address: str | None
    category: str | None
    created_at: datetime


def _place_key(
    district: str | None, street: str | None, address: str | None
) -> tuple[str, str, str] | None:
    """Same address means same detailed address within the same street (or district)."""
    if not address:
        return None
    folded = "".join(address.split()).lower()
    return (district or "", street or "", folded)


def is_repeat(draft: Draft, phone: str | None, prior: PriorOrder) -> bool:
    """Whether ``prior`` is an earlier appeal by the same caller or about the same place."""
    earlier_phone = normalise_number(prior.phone)
    if phone and earlier_phone and phone == earlier_phone:
        return True
    here = _place_key(draft.district.value, draft.street.value, draft.address.value)
    there = _place_key(prior.district, prior.street, prior.address)
    if here is None or there is None or draft.category.value is None:
        return False
    same_place = (
        here[2] == there[2]
        and (here[1] == there[1] or not here[1] or not there[1])
        and (here[0] == there[0] or not here[0] or not there[0])
    )
    return same_place and draft.category.value == prior.category


def link_repeats(
    draft: Draft,
    caller_number: str | None,
    prior: Sequence[PriorOrder],
    now: datetime,
    settings: DraftingSettings | None = None,
) -> Draft:
    """The draft with ``related`` (oldest first) and ``escalate`` filled in."""
    settings = settings or DraftingSettings()
    since = now - timedelta(days=settings.repeat_window_days)
    phone = normalise_number(draft.phone.value) or normalise_number(caller_number)
    related = sorted(
        (p for p in prior if since <= p.created_at <= now and is_repeat(draft, phone, p)),
        key=lambda p: (p.created_at, p.id),
    )
    ids = tuple(dict.fromkeys(p.id for p in related))
    escalate = len(ids) + 1 >= settings.escalate_at
    return dataclasses.replace(draft, related=ids, escalate=escalate)
