"""Fields read from the recognizer's other hypotheses (n-best).

How it works. The transcript shown to agents is the first hypothesis of every utterance.
The recognizer also gives, per utterance, its next-best readings (海淀区 where the first
heard 海电七). Each of them makes a *variant* of the transcript: the same text with that
one utterance replaced. The field extractors read every variant; a place or category
that the gazetteer or the taxonomy *strongly* supports in a variant (a name written as
the gazetteer writes it, with its suffix; a phrase of the taxonomy written as such) wins
over a weaker or empty reading of the first hypothesis. The value is the variant's; its
evidence span is mapped back into the shown text by aligning the alternative with the
utterance shown (characters that differ are substitutions, as homophones are); where the
span cannot be mapped, the whole utterance is the evidence, at lower confidence.

Names: where the first hypothesis's given name is implausible (see
:func:`workorders.names.plausible_given_name`) or missing, a variant's plausible full name
with the same surname wins; a surname only a variant gives is taken when the first has
none. Utterance ends are word ends for names (the caller paused there).
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from workorders.classify import Classification, classify
from workorders.draft import FieldValue
from workorders.knowledge import Knowledge, Taxonomy
from workorders.names import IMPLAUSIBLE_NAME_CONFIDENCE, CallerName, find_name
from workorders.places import Places, find_places
from workorders.text import Compact, compact

T = TypeVar("T")

# A reading from an alternative costs this much confidence: the first hypothesis is the
# engine's own best, so a tie goes to it.
ALTERNATIVE_DISCOUNT = 0.9
# The evidence of a value whose span could not be mapped is the whole utterance, believed
# less again.
UNMAPPED_DISCOUNT = 0.8
# Variants read at most (the drafter stays at milliseconds: 2.3 ms of CPU per draft of
# the bench's calls against 1.0 ms without, about 2.4 variants a call).
MAX_VARIANTS = 40


@dataclass(frozen=True)
class UtteranceAlternatives:
    """One utterance of the transcript: its span ``[start, end)`` in the transcript and
    the recognizer's other readings of the same audio, best first."""

    start: int
    end: int
    texts: tuple[str, ...]


def utterance_alternatives(
    transcript: str, readings: Sequence[tuple[str, Sequence[str]]]
) -> tuple[UtteranceAlternatives, ...]:
    """Locate each utterance (text, alternatives) in ``transcript`` (their texts joined, in
    order); utterances that cannot be found are left out. Utterances without alternatives
    are kept too: where one ends, a word ends (see :func:`with_utterance_breaks`)."""
    out: list[UtteranceAlternatives] = []
    at = 0
    for text, alternatives in readings:
        if not text:
            continue
        start = transcript.find(text, at)
        if start < 0:
            continue
        at = start + len(text)
        alts = tuple(dict.fromkeys(a for a in alternatives if a and a != text))
        out.append(UtteranceAlternatives(start, at, alts))
    return tuple(out)


def with_utterance_breaks(text: Compact, ends: Iterable[int]) -> Compact:
    """``text`` with a word break where each utterance ends (``ends``: offsets in the
    transcript): the caller paused there, which the joined transcript no longer shows
    (我叫刘洋 | 风排… must not read as the name 刘洋风)."""
    extra = {bisect_left(text.origin, end) for end in ends}
    extra = {i for i in extra if 0 < i < len(text.text)}
    return replace(text, breaks=text.breaks | extra) if extra - text.breaks else text


def utterance_ends(alternatives: Sequence[UtteranceAlternatives],
                   variant: Variant | None = None) -> list[int]:
    """Where the utterances end in the transcript, or in a variant of it."""
    if variant is None:
        return [u.end for u in alternatives]
    u = variant.utterance
    shift = len(variant.alternative) - (u.end - u.start)
    return [e if e < u.end else e + shift for e in (x.end for x in alternatives)]


@dataclass(frozen=True)
class Variant:
    """The transcript with one utterance read as an alternative (``text``), and the
    transcript shown (``shown``), to map spans back."""

    text: str
    shown: str
    utterance: UtteranceAlternatives
    alternative: str

    def to_shown(self, span: tuple[int, int] | None) -> tuple[tuple[int, int] | None, bool]:
        """``span`` of this variant's text as a span of the shown transcript, and whether
        it was mapped (False: the whole utterance stands for it)."""
        if span is None:
            return None, True
        u = self.utterance
        alt_end = u.start + len(self.alternative)
        shift = (u.end - u.start) - len(self.alternative)
        start, end = span
        if end <= u.start:
            return span, True
        if start >= alt_end:
            return (start + shift, end + shift), True
        table = align(self.alternative, self.shown[u.start : u.end])
        lo = u.start + table[start - u.start] if start >= u.start else start
        hi = u.start + table[end - u.start] if end <= alt_end else end + shift
        if hi <= lo:
            return (u.start, u.end), False
        return (lo, hi), True


def align(alt: str, shown: str) -> list[int]:
    """For each boundary 0..len(alt) of ``alt``, the matching boundary in ``shown``.

    Equal runs map one to one; a replaced run maps proportionally (a homophone replaces
    characters one for one); characters only in ``alt`` collapse onto one boundary."""
    table = [0] * (len(alt) + 1)
    matcher = difflib.SequenceMatcher(None, alt, shown, autojunk=False)
    for _tag, a0, a1, b0, b1 in matcher.get_opcodes():
        for k in range(a0, a1 + 1):
            table[k] = b0 + ((k - a0) * (b1 - b0)) // max(1, a1 - a0)
    table[len(alt)] = len(shown)
    return table


def variants(
    transcript: str, alternatives: Sequence[UtteranceAlternatives]
) -> Iterator[Variant]:
    """The transcript with one utterance at a time read as one of its alternatives."""
    made = 0
    for u in alternatives:
        if transcript[u.start : u.end] == "" or u.end > len(transcript):
            continue
        for alt in u.texts:
            if made >= MAX_VARIANTS:
                return
            made += 1
            yield Variant(transcript[: u.start] + alt + transcript[u.end :], transcript, u, alt)


def from_variant(
    variant: Variant, value: FieldValue[T]
) -> FieldValue[T]:
    """A variant's field as a field of the shown transcript: span mapped, confidence
    discounted (more when the span could not be mapped)."""
    span, mapped = variant.to_shown(value.span)
    confidence = value.confidence * ALTERNATIVE_DISCOUNT
    if not mapped:
        confidence *= UNMAPPED_DISCOUNT
    return FieldValue(value.value, round(confidence, 3), span)


def better(
    first: FieldValue[T],
    found: Sequence[tuple[Variant, FieldValue[T]]],
    strong: Callable[[FieldValue[T]], bool],
) -> FieldValue[T]:
    """The first hypothesis's field, unless a variant strongly supports another value the
    first does not: a value where the first has none, or one believed more than the
    first's (after the alternative's discount). Ties go to the first."""
    best = first
    for variant, value in found:
        if value.value is None or value.value == first.value or not strong(value):
            continue
        candidate = from_variant(variant, value)
        if first.value is not None and candidate.confidence <= first.confidence:
            continue
        if best is first or candidate.confidence > best.confidence:
            best = candidate
    return best


# What "strongly supported" means, per field: the value's confidence in the variant, and
# that it was read as written (no sound matching: 潮洋期 is no evidence in an alternative).
STRONG_STREET = 0.75
STRONG_DISTRICT = 0.85
STRONG_CATEGORY = 0.7
STRONG_SURNAME = 0.8  # a self-introduction with a listed surname (我叫X…, 我姓X)


@dataclass(frozen=True)
class Reading:
    """The fields the alternatives may change."""

    places: Places
    kind: Classification
    caller: CallerName


def read_alternatives(
    transcript: str,
    alternatives: Sequence[UtteranceAlternatives],
    data: Knowledge,
    first: Reading,
) -> Reading:
    """Places, category and name of ``transcript``, with what its utterances'
    alternatives strongly support where the first hypothesis read less (see the module
    docstring). A full name is taken from an alternative only when the first's given
    name is implausible (or absent) and the alternative's is plausible, with the same
    surname."""
    places, kind = first.places, first.kind
    shown = compact(transcript)
    streets: list[tuple[Variant, FieldValue[str]]] = []
    districts: list[tuple[Variant, FieldValue[str]]] = []
    kinds: list[tuple[Variant, Classification]] = []
    names: list[tuple[Variant, FieldValue[str]]] = []
    surnames: list[tuple[Variant, FieldValue[str]]] = []
    for variant in variants(transcript, alternatives):
        text = compact(variant.text)
        caller = find_name(with_utterance_breaks(text, utterance_ends(alternatives, variant)))
        if first.caller.surname.value in (None, caller.surname.value):
            names.append((variant, caller.name))
            surnames.append((variant, caller.surname))
        p = find_places(text, data.gazetteer)
        if p.street_cost == 0:
            streets.append((variant, p.street))
        if p.district_cost == 0:
            districts.append((variant, p.district))
        k = classify(text, data.taxonomy)
        if k.evidence is not None and written_phrase(text.text[k.evidence[0] : k.evidence[1]],
                                                     data.taxonomy):
            kinds.append((variant, k))
    street = better(places.street, streets, lambda v: v.confidence >= STRONG_STREET)
    district = better(places.district, districts,
                      lambda v: v.confidence >= STRONG_DISTRICT)
    if street is not places.street and district is places.district and (
            places.unit is not None and places.unit.district == places.district.value):
        street = places.street  # the first's street and district agree: keep the pair
    out_places = replace(places, street=street, district=district)
    out_caller = first.caller
    if first.caller.surname.value is None:  # 玛丽间 in the first, 马利坚 in another
        out_caller = replace(out_caller, surname=better(
            first.caller.surname, surnames, lambda v: v.confidence >= STRONG_SURNAME))
    if first.caller.name.confidence <= IMPLAUSIBLE_NAME_CONFIDENCE:
        name = better(first.caller.name, names,
                      lambda v: v.confidence > IMPLAUSIBLE_NAME_CONFIDENCE)
        out_caller = replace(out_caller, name=name)
    category = better(kind.category, [(v, k.category) for v, k in kinds],
                      lambda v: v.confidence >= STRONG_CATEGORY)
    if category is kind.category:
        return Reading(out_places, kind, out_caller)
    variant, chosen = next((v, k) for v, k in kinds if k.category.value == category.value
                           and from_variant(v, k.category) == category)
    sub = from_variant(variant, chosen.subcategory)
    evidence = shown.own(category.span) if category.span is not None else None
    return Reading(out_places, Classification(category, sub, evidence), out_caller)


def written_phrase(phrase: str, taxonomy: Taxonomy) -> bool:
    """Whether ``phrase`` (a classification's strongest, as written) is a taxonomy phrase."""
    return any(p == phrase for sub in taxonomy.subcategories for p, _ in sub.phrases)
