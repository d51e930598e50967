"""Transcript → work-order draft: the drafter's entry point.

Pure and deterministic: the same transcript, caller number and time give the same draft.
The only I/O is reading the shipped data files, once per process (see
:mod:`workorders.knowledge`). Nothing here logs the transcript or any field: they are
personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from config.settings import DraftingSettings
from workorders.classify import appeal_type, classify, is_urgent
from workorders.draft import Draft, FieldValue
from workorders.knowledge import knowledge
from workorders.learned import LearnedAliases, learned_surname, with_aliases
from workorders.names import CallerName, find_name
from workorders.nbest import (
    Reading,
    UtteranceAlternatives,
    read_alternatives,
    utterance_ends,
    with_utterance_breaks,
)
from workorders.phone import find_phone
from workorders.places import Places, find_places
from workorders.summary import dispatch_to, due_at, problem_clause, summarise
from workorders.text import Compact, compact


def name_spans(text: Compact, caller: CallerName) -> list[tuple[int, int]]:
    """Where the caller's name and surname were found, in ``text``'s own positions."""
    return [text.own(span) for span in (caller.surname.span, caller.name.span)
            if span is not None]


def draft(
    transcript: str,
    caller_number: str | None,
    now: datetime,
    *,
    settings: DraftingSettings | None = None,
    learned: LearnedAliases | None = None,
    keypad_phone: str | None = None,
    menu_choices: tuple[str, ...] = (),
    alternatives: Sequence[UtteranceAlternatives] = (),
) -> Draft:
    """Draft a work order from one call's transcript.

    ``caller_number`` is the caller ID, used when no number is spoken; ``keypad_phone``,
    a number the caller confirmed on the keypad, wins over anything heard. ``menu_choices``
    are the labels of the IVR options chosen (``投诉举报``): they guide the appeal type.
    ``now`` is the time the appeal was received: the deadline counts from it.
    ``learned``: the aliases admins approved from agents' corrections
    (:mod:`workorders.learned`), added to the gazetteer, taxonomy and surnames.
    ``alternatives`` are the recognizer's other readings of the transcript's utterances
    (n-best, see :mod:`workorders.nbest`): a place, category or name they strongly support may
    win over the transcript's own reading; evidence spans stay in ``transcript``.
    """
    settings = settings or DraftingSettings()
    data = knowledge(settings)
    if learned is not None:
        data = with_aliases(data, learned)
    text = compact(transcript)

    phone = find_phone(text, caller_number, keypad_phone)
    # Utterance ends are word breaks for names (the caller paused there).
    caller = find_name(with_utterance_breaks(text, utterance_ends(alternatives)))
    if learned is not None:
        caller = replace(caller, surname=learned_surname(text, learned, caller.surname))
    places = find_places(text, data.gazetteer)
    kind = classify(text, data.taxonomy, name_spans(text, caller))
    if alternatives:
        read = read_alternatives(transcript, alternatives, data,
                                 Reading(places, kind, caller))
        places, kind, caller = read.places, read.kind, read.caller
    caller = _name_before_place(transcript, caller, places)
    urgent = is_urgent(text, data.taxonomy.urgent, data.taxonomy)
    appeal = appeal_type(
        text,
        data.taxonomy,
        urgent=bool(urgent.value),
        has_category=kind.category.value is not None,
        menu_choices=menu_choices,
        usual=data.taxonomy.usual_appeal(kind.subcategory.value),
    )
    summary = summarise(
        name=caller.name.value,
        surname=caller.surname.value,
        appeal=appeal.value,
        where=[places.district.value, places.street.value, places.address.value],
        subcategory=kind.subcategory.value,
        clause=problem_clause(
            text,
            kind.evidence,
            [
                places.district.span,
                places.street.span,
                places.address.span,
                caller.name.span,
                caller.surname.span,
                phone.span,
            ],
        ),
    )
    dispatch = dispatch_to(
        data.dispatch,
        district=places.district.value,
        street=places.street.value,
        category=kind.category.value,
        subcategory=kind.subcategory.value,
        confidence=min(kind.category.confidence or 0.5, places.street.confidence or 0.5),
    )
    return Draft(
        name=caller.name,
        surname=caller.surname,
        phone=phone,
        district=places.district,
        street=places.street,
        address=places.address,
        category=kind.category,
        subcategory=kind.subcategory,
        appeal_type=appeal,
        urgent=urgent,
        summary=summary,
        dispatch_to=dispatch,
        due_at=due_at(now, bool(urgent.value), settings),
    )


def _name_before_place(transcript: str, caller: CallerName, places: Places) -> CallerName:
    """The caller's full name cut where the district or street heard after it starts: a
    name run on into the place (我叫刘洋锋台汽 …: 刘洋, then 丰台区 heard by sound) ends
    there. Only where a given name of one character or more is left."""
    name, span = caller.name, caller.name.span
    if name.value is None or span is None:
        return caller
    starts = [s[0] for s in (places.district.span, places.street.span)
              if s is not None and span[0] < s[0] < span[1]]
    if not starts:
        return caller
    cut = sum(1 for ch in transcript[min(starts) : span[1]] if not ch.isspace())
    surname = caller.surname.value or name.value[0]
    if len(name.value) - cut <= len(surname) or not name.value.startswith(surname):
        return caller
    return replace(caller, name=FieldValue(name.value[:-cut], round(
        (name.confidence or 0.5) * _CUT_NAME, 3), (span[0], min(starts))))


# A name cut before a place is believed this much less.
_CUT_NAME = 0.9


__all__ = ["Draft", "FieldValue", "draft"]
