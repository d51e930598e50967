"""What agents' corrections teach the drafter: aliases (heard → meant) an admin approved.

An agent who corrects a field in the console makes a *correction pair*: the text the
drafter read the field from (its evidence span, compacted) and the value the agent put
instead. Pairs that recur become proposals (storage/learning.py); an approved one is an
:class:`Alias`, applied here to the drafter's data:

- ``district`` / ``street``: the heard text becomes another name of the place in the
  gazetteer (潮洋期 → 朝阳区, 方中接到 → 方庄街道); a suffix heard by sound (期, 接到) is
  cut off, so the gazetteer's own suffix handling still says what kind of place it is;
- ``subcategory`` / ``category``: a strong phrase of the subcategory (of the category's
  first one); ``appeal_type``: a declared phrase of that appeal type; ``urgent``: an
  urgent phrase;
- ``surname``: wherever the heard text is in a transcript, it gives that surname;
- ``hotword``: a place name agents keep having to type, for the Whisper prompt
  (:func:`asr.hotwords.build_prompt`'s ``extra``).

Nothing here logs: heard texts are pieces of transcripts.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from typing import Any

from workorders.draft import FieldValue
from workorders.gazetteer import (
    SUFFIX_COST,
    UNIT_SUFFIXES,
    District,
    Gazetteer,
    Unit,
    UnitForm,
    split_suffix,
)
from workorders.knowledge import (
    AppealRule,
    Knowledge,
    Taxonomy,
    knowledge,
)
from workorders.sound import best_by_sound, char_cost, substitution_cost
from workorders.text import Compact, compact

# The fields a correction teaches something about. Names, phones and addresses are
# personal data and never become aliases.
LEARNED_FIELDS = ("district", "street", "category", "subcategory", "appeal_type", "urgent",
                  "surname")
PLACE_FIELDS = ("district", "street")
HOTWORD = "hotword"
# A heard text longer than this is a sentence, not a name or a phrase.
MAX_HEARD = 16
KINDS = {"district": "place", "street": "place", "category": "phrase",
         "subcategory": "phrase", "appeal_type": "phrase", "urgent": "phrase",
         "surname": "surname", HOTWORD: HOTWORD}


@dataclass(frozen=True)
class CorrectionPair:
    """One corrected field: what the drafter heard (None: it found nothing) and the value
    the agent gave."""

    field: str
    heard: str | None
    value: str
    drafted: str | None


@dataclass(frozen=True)
class Alias:
    field: str  # a LEARNED_FIELDS name, or "hotword"
    heard: str  # compact text; "" for a hot-word
    value: str

    @property
    def id(self) -> str:
        return proposal_id(self.field, self.heard, self.value)


@dataclass(frozen=True)
class LearnedAliases:
    """The approved aliases, as the drafter takes them (hashable: drafts cache on it)."""

    aliases: tuple[Alias, ...] = ()

    def of(self, field: str) -> tuple[Alias, ...]:
        return tuple(a for a in self.aliases if a.field == field)

    @property
    def hotwords(self) -> tuple[str, ...]:
        return tuple(a.value for a in self.of(HOTWORD))


NO_ALIASES = LearnedAliases()


def proposal_id(field: str, heard: str, value: str) -> str:
    """A stable id of (field, heard, value): the same on every node and every run."""
    return hashlib.sha256(f"{field}\x1f{heard}\x1f{value}".encode()).hexdigest()[:12]


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def correction_pairs(transcript: str, evidence: dict[str, Any], before: dict[str, Any],
                     after: dict[str, Any], data: Knowledge | None = None) -> list[CorrectionPair]:
    """The pairs one edit makes: for each learnable field given a new, non-empty value,
    the compacted text of the field's evidence span → the value. Where that span cannot
    be what was heard for the value, the heard text is looked for by sound instead (None
    when nothing fits): a place the drafter missed (no span), and a category, subcategory,
    appeal type or urgency, whose span is the evidence of the value the drafter chose
    (``data``: the taxonomy's phrases, default the shipped ones)."""
    pairs: list[CorrectionPair] = []
    text = compact(transcript).text
    for field in LEARNED_FIELDS:
        if field not in after:
            continue
        value = _text(after[field])
        if value is None or value == _text(before.get(field)):
            continue
        heard: str | None = None
        span = evidence.get(field)
        drafted = _text(before.get(field))
        if KINDS[field] == "phrase":
            heard = located_phrase(text, field, value, data or knowledge())
        elif isinstance(span, list | tuple) and len(span) == 2:
            start, end = int(span[0]), int(span[1])
            piece = compact(transcript[start:end]).text
            heard = piece if 0 < len(piece) <= MAX_HEARD else None
        elif drafted is None and field in PLACE_FIELDS:
            heard = located_place(text, value)
        pairs.append(CorrectionPair(field, heard, value, drafted))
    return pairs


def _class_phrases(field: str, value: str, taxonomy: Taxonomy) -> list[str]:
    if field in ("category", "subcategory"):
        key = "category" if field == "category" else "name"
        return [p for s in taxonomy.subcategories if getattr(s, key) == value
                for p, _ in s.phrases]
    if field == "appeal_type":
        return [p for r in taxonomy.appeals if r.name == value for p in (*r.declared, *r.cues)]
    return list(taxonomy.urgent.phrases) if value == "true" else []


def located_phrase(text: str, field: str, value: str, data: Knowledge) -> str | None:
    """The stretch of ``text`` that sounds most like a phrase of the class the agent chose
    (物宴 for 物业 of 物业服务), within the sound matcher's usual budget; None when none does
    or one is written there as such (an alias would add nothing)."""
    phrases = [p for p in _class_phrases(field, value, data.taxonomy) if len(p) >= 2]
    if not phrases or any(p in text for p in phrases):
        return None
    found = best_by_sound(text, phrases)
    return text[found[1].start:found[1].end] if found is not None else None


def located_place(text: str, place: str) -> str | None:
    """Where the drafter found no place, the stretch of ``text`` that sounds most like the
    place's name without its suffix (梅头沟 for 门头沟区), within the sound matcher's usual
    budget; None when nothing does or the name is written there as such."""
    stem = split_suffix(place)[0]
    if len(stem) < 2 or stem in text:
        return None
    found = best_by_sound(text, [stem])
    return text[found[1].start:found[1].end] if found is not None else None


# -- applying approved aliases ------------------------------------------------------------


def _district_stem(heard: str) -> str:
    """潮洋期 → 潮洋: a last character that sounds like 区 is the suffix, found again in
    the text by the gazetteer's district suffixes."""
    stem, kind = split_suffix(heard)
    if kind:
        return stem
    if len(heard) > 2 and char_cost("区", heard[-1]) <= SUFFIX_COST:
        return heard[:-1]
    return heard


def _unit_stem(heard: str) -> str:
    """方中接到 → 方中: a suffix written or heard by sound is cut off."""
    for said, _kind in UNIT_SUFFIXES:
        if heard.endswith(said) and len(heard) > len(said) + 1:
            return heard[: -len(said)]
    for said, _kind in UNIT_SUFFIXES:
        tail = heard[-len(said):]
        if (len(heard) > len(said) + 1 and len(tail) == len(said)
                and substitution_cost(said, tail) <= SUFFIX_COST):
            return heard[: -len(said)]
    return heard


def _gazetteer(base: Gazetteer, districts: tuple[Alias, ...],
               streets: tuple[Alias, ...]) -> Gazetteer:
    stems: dict[str, list[str]] = {}
    for a in districts:
        if a.value in base.districts:
            stems.setdefault(a.value, []).append(_district_stem(a.heard))
    new_districts = [District(d.name, tuple(dict.fromkeys([*d.stems, *stems.get(d.name, [])])))
                     for d in base.districts.values()]
    forms: dict[int, list[UnitForm]] = {}
    for a in streets:
        for i, unit in enumerate(base.units):
            form = next((f for f in unit.forms if f.full == a.value), None)
            if form is None and unit.name != a.value:
                continue
            form = form or unit.forms[0]
            stem = _unit_stem(a.heard)
            if len(stem) > 1:
                forms.setdefault(i, []).append(UnitForm(form.full, stem, form.kind))
            break
    new_units = [Unit(u.name, u.district, (*u.forms, *forms.get(i, ())))
                 for i, u in enumerate(base.units)]
    return Gazetteer(new_districts, new_units)


def _taxonomy(base: Taxonomy, learned: LearnedAliases) -> Taxonomy:
    extra: dict[int, list[str]] = {}
    for a in (*learned.of("subcategory"), *learned.of("category")):
        field = "name" if a.field == "subcategory" else "category"
        index = next((i for i, s in enumerate(base.subcategories)
                      if getattr(s, field) == a.value), None)
        if index is not None:
            extra.setdefault(index, []).append(a.heard)
    subs = []
    for i, sub in enumerate(base.subcategories):
        known = {p for p, _ in sub.phrases}
        added = [(p, 3.0 * len(p)) for p in extra.get(i, []) if p not in known]
        phrases = tuple(sorted((*sub.phrases, *dict(added).items()), key=lambda kv: -len(kv[0])))
        subs.append(replace(sub, phrases=phrases))
    declared = learned.of("appeal_type")
    appeals = tuple(
        AppealRule(rule.name, tuple(dict.fromkeys(
            [*rule.declared, *(a.heard for a in declared if a.value == rule.name)])), rule.cues)
        for rule in base.appeals)
    urgent_phrases = tuple(dict.fromkeys(
        [*base.urgent.phrases, *(a.heard for a in learned.of("urgent") if a.value == "true")]))
    urgent = replace(base.urgent, phrases=urgent_phrases)
    return replace(base, subcategories=tuple(subs), appeals=appeals, urgent=urgent)


# (base data, alias set) → extended data; the base data is held, so its id stays its own.
_EXTENDED: dict[tuple[int, LearnedAliases], tuple[Knowledge, Knowledge]] = {}
_KEEP = 4
_LOCK = threading.Lock()


def with_aliases(data: Knowledge, learned: LearnedAliases) -> Knowledge:
    """The drafter's data with the approved aliases added (built once per alias set: a
    new gazetteer's sound index takes a fraction of a second)."""
    if not learned.aliases:
        return data
    key = (id(data), learned)
    with _LOCK:  # drafts run in threads
        held = _EXTENDED.get(key)
        if held is not None and held[0] is data:
            return held[1]
        extended = _extend(data, learned)
        while len(_EXTENDED) >= _KEEP:
            _EXTENDED.pop(next(iter(_EXTENDED)))
        _EXTENDED[key] = (data, extended)
        return extended


def _extend(data: Knowledge, learned: LearnedAliases) -> Knowledge:
    gazetteer = data.gazetteer
    districts, streets = learned.of("district"), learned.of("street")
    if districts or streets:
        gazetteer = _gazetteer(gazetteer, districts, streets)
    return replace(data, gazetteer=gazetteer, taxonomy=_taxonomy(data.taxonomy, learned))


def known_value(field: str, value: str, data: Knowledge) -> bool:
    """Whether an alias to ``value`` can take effect: a district, unit, category,
    subcategory or appeal type of the data, a surname of one or two characters, or any
    hot-word (a typed place name: "朝阳" is not 朝阳区, and such an alias would do nothing)."""
    if field == "district":
        return value in data.gazetteer.districts
    if field == "street":
        return any(value == u.name or any(f.full == value for f in u.forms)
                   for u in data.gazetteer.units)
    if field == "category":
        return value in data.taxonomy.categories
    if field == "subcategory":
        return any(s.name == value for s in data.taxonomy.subcategories)
    if field == "appeal_type":
        return any(r.name == value for r in data.taxonomy.appeals)
    if field == "urgent":
        return value == "true"
    if field == "surname":
        return 1 <= len(value) <= 2
    return field == HOTWORD


def _overlaps(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def learned_surname(text: Compact, learned: LearnedAliases,
                    drafted: FieldValue[str]) -> FieldValue[str]:
    """The surname an approved alias gives where its heard text is in the transcript,
    when the drafter found none there or read the same stretch otherwise."""
    for alias in learned.of("surname"):
        at = text.text.find(alias.heard)
        if at < 0:
            continue
        span = text.span(at, at + len(alias.heard))
        if drafted.value is None or _overlaps(span, drafted.span):
            return FieldValue(alias.value, 0.9, span)
    return drafted
