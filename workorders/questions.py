"""Per-question decoding: what to bias the recogniser with when the caller answers a known
intake question, and how the biased reading feeds the draft.

When the IVR's intake dialogue asks for the caller's name, address or problem, the answer
is decoded a second time with a :class:`QuestionBias`: a Whisper prompt (the text the
model takes as coming before the utterance) and a grammar of phrases (for engines that
take one, Vosk). The engine uses whichever it understands. The biases:

- ``name``: surnames and their spoken descriptions (弓长张, 立早章 …, :data:`SPELLED`);
- ``address``: the districts, then the streets and towns of the district already heard
  (in the free decode of the answer or earlier in the call);
- ``problem``: the taxonomy's strong phrases.

The free decode stays the record (the transcript agents see); the biased reading only
feeds the fields the question is about (:data:`QUESTION_FIELDS`), through
:func:`merge_answers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from config.settings import DraftingSettings
from workorders.draft import Draft, FieldValue
from workorders.drafter import draft
from workorders.gazetteer import split_suffix
from workorders.knowledge import Knowledge, knowledge
from workorders.learned import LearnedAliases
from workorders.names import (  # by frequency
    _SURNAME_ORDER,
    IMPLAUSIBLE_NAME_CONFIDENCE,
    SPELLED,
    SURNAMES,
    answer_name,
)
from workorders.nbest import STRONG_CATEGORY, written_phrase
from workorders.phone import DIGITS, find_phone
from workorders.pinyin import readings
from workorders.places import find_places
from workorders.sound import substitution_cost
from workorders.summary import dispatch_to
from workorders.text import compact

# Whisper base caps prompt tokens at 223; a Chinese character is 1-2 tokens.
MAX_PROMPT_CHARS = 120
# The fields each question's answer feeds.
QUESTION_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "surname"),
    "address": ("district", "street", "address"),
    "problem": ("category", "subcategory"),
}
QUESTIONS = tuple(QUESTION_FIELDS)
UNK = "[unk]"

# No example answer in a lead: Whisper echoes it (我姓张 for 我姓赵 and for 我先注意).
_NAME_LEAD = "请问您贵姓？怎么写？"
_ADDRESS_LEAD = "请问您说的地址在哪个区哪个街道？"
_PROBLEM_LEAD = "请说一下您要反映的问题。"
# Surnames given in the prompt after the spelled ones (the commonest first).
_PROMPT_SURNAMES = 24


@dataclass(frozen=True)
class QuestionBias:
    """How to decode the answer to ``question`` again: ``prompt`` for Whisper, ``phrases``
    (a grammar, ending with ``[unk]``) for engines that take one."""

    question: str
    prompt: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """One answer to an intake question: the free decode (the record) and the biased one."""

    question: str
    free: str
    biased: str
    # Whether the utterance answered this question when the IVR asked it (您贵姓? — 王),
    # not a second-pass reading of a monologue's utterance for it.
    asked: bool = False


def _fill(lead: str, terms: Sequence[str], max_chars: int) -> str:
    prompt = lead
    for term in dict.fromkeys(t for t in terms if t):
        if len(prompt) + len(term) + 1 > max_chars:
            break
        prompt += term + "、"
    return prompt.rstrip("、") + "。"


def _name_bias(max_chars: int) -> QuestionBias:
    spelled = list(SPELLED)
    common = [s for s in _SURNAME_ORDER[:_PROMPT_SURNAMES] if s in SURNAMES]
    prompt = _fill(_NAME_LEAD, spelled + ["我姓" + s for s in common], max_chars)
    phrases = ("我姓", "我叫", "免贵姓", *spelled, *_SURNAME_ORDER, UNK)
    return QuestionBias("name", prompt, tuple(dict.fromkeys(phrases)))


def _by_sound(names: list[str], heard: str) -> list[str]:
    """``names`` with those sharing most (fuzzy) syllables with ``heard`` first: a district
    has more streets than a prompt holds, and the one said sounds like what was heard."""
    sounds = {r for ch in heard for r in readings(ch)}

    def shared(name: str) -> int:
        stem = split_suffix(name)[0]
        return -sum(bool(readings(ch) & sounds) for ch in stem)

    return sorted(names, key=shared)


def _address_bias(heard: str, data: Knowledge, max_chars: int) -> QuestionBias:
    gazetteer = data.gazetteer
    districts = list(gazetteer.districts)
    district = find_places(compact(heard), gazetteer).district.value if heard else None
    units = _by_sound([u.name for u in gazetteer.units_by_district.get(district or "", [])],
                      heard)
    # The district heard goes first, so that its streets follow it in the prompt.
    ordered = ([district] if district else []) + districts
    if district:
        prompt = _fill(_ADDRESS_LEAD, [district, *units, *districts], max_chars)
    else:
        prompt = _fill(_ADDRESS_LEAD, ordered, max_chars)
    everywhere = units or [u.name for u in gazetteer.units]
    phrases = (*ordered, *everywhere, "区", "街道", "镇", "乡", "小区", "号楼", UNK)
    return QuestionBias("address", prompt, tuple(dict.fromkeys(phrases)))


def _problem_bias(data: Knowledge, max_chars: int) -> QuestionBias:
    strong: list[str] = []
    for sub in data.taxonomy.subcategories:
        # Strong phrases weigh three times their length (see knowledge.load_taxonomy).
        strong.extend(p for p, w in sub.phrases if w >= 3 * len(p))
    # The shortest first: more subcategories fit in the prompt.
    firsts: list[str] = []
    for sub in data.taxonomy.subcategories:
        mine = sorted((p for p, w in sub.phrases if w >= 3 * len(p)), key=len)
        firsts.extend(mine[:1])
    prompt = _fill(_PROBLEM_LEAD, firsts + strong, max_chars)
    return QuestionBias("problem", prompt, (*dict.fromkeys(strong), UNK))


def question_bias(question: str, heard: str, data: Knowledge,
                  max_chars: int = MAX_PROMPT_CHARS) -> QuestionBias | None:
    """The bias for the answer to ``question`` (None for a question without one);
    ``heard``: what the call has said so far, this answer's free decode included."""
    if question == "name":
        return _name_bias(max_chars)
    if question == "address":
        return _address_bias(heard, data, max_chars)
    if question == "problem":
        return _problem_bias(data, max_chars)
    return None


def read_back_prompt(free: str, biased: str) -> bool:
    """Whether the biased decode is the prompt read back rather than the answer: on a short
    answer Whisper may go on with its prompt (我健身 → 我健身弓长张小孙水工江沙大水工江…).
    The same audio does not hold twice as many characters."""
    return len(biased) > 2 * len(free) + 4


# An answer placed in both texts: its free decode at (start, end) of the transcript, its
# biased one at (start, end) of the biased transcript.
_Placed = tuple[Answer, tuple[int, int], tuple[int, int]]


def _placed(transcript: str, answers: Sequence[Answer]) -> tuple[str, list[_Placed]]:
    out, rest, used, placed = "", transcript, 0, []
    for a in answers:
        if not a.free or not a.biased or read_back_prompt(a.free, a.biased):
            continue
        at = rest.find(a.free)
        if at < 0:
            continue
        out += rest[:at]
        start = used + at
        placed.append((a, (start, start + len(a.free)), (len(out), len(out) + len(a.biased))))
        out += a.biased
        rest = rest[at + len(a.free):]
        used = start + len(a.free)
    return out + rest, placed


def biased_transcript(transcript: str, answers: Sequence[Answer]) -> str:
    """``transcript`` with each answer's free decode replaced by its biased one (the
    first occurrence after the previous answer, in order)."""
    return _placed(transcript, answers)[0]


def _answer_span(placed: list[_Placed],
                 biased_span: tuple[int, int] | None) -> tuple[int, int] | None:
    """Where in the transcript the answer lies whose biased reading holds ``biased_span``
    (the field's evidence in the biased transcript): that utterance's free decode, what
    the agent sees; else the first answer's."""
    if biased_span is not None:
        for _a, free_at, biased_at in placed:
            if biased_at[0] <= biased_span[0] < biased_at[1]:
                return free_at
    return placed[0][1] if placed else None


def merge_answers(free: Draft, biased: Draft, transcript: str, answers: Sequence[Answer],
                  data: Knowledge) -> Draft:
    """The free draft with the fields of each answered question read from the biased
    draft where it found a value. Such a field's span is its answer's free decode in the
    transcript (what the agent sees); the department is chosen again from the result."""
    changes: dict[str, FieldValue[object]] = {}
    placed = _placed(transcript, answers)[1]
    for a in answers:
        if read_back_prompt(a.free, a.biased):
            continue
        for name in QUESTION_FIELDS.get(a.question, ()):
            value = biased.get(name)
            if value.value is None or name in changes:
                continue
            mine = free.get(name)
            if (name in _SURER_KEEPS and mine.value is not None
                    and (mine.confidence or 0) > (value.confidence or 0)):
                continue  # 詹天佑的詹 read, 章天佑的章 biased: the surer reading stands
            if value.value != mine.value:
                span = _answer_span(placed, value.span)
                changes[name] = FieldValue(value.value, value.confidence, span)
    surname = changes["surname"].value if "surname" in changes else free.surname.value
    if ("name" in changes and isinstance(free.name.value, str) and isinstance(surname, str)
            and free.name.value.startswith(surname)
            and (free.name.confidence or 0) >= (changes["name"].confidence or 0)):
        # The same surname with another given name (周桂兰 → 周贵篮): the given name is a
        # homophone either decode may have written; the biased one is no better, keep the
        # record's, unless the record's was flagged implausible (谷见金 → 谷建军).
        del changes["name"]
    if ("name" in changes and isinstance(surname, str)
            and not str(changes["name"].value).startswith(surname)):
        del changes["name"]  # 吴春生 biased where 穆 stood: a name must agree with the surname
    if not changes:
        return free
    return _redispatched(dataclasses.replace(free, **changes), data)  # type: ignore[arg-type]


def _redispatched(merged: Draft, data: Knowledge) -> Draft:
    """``merged`` with its department chosen again from its place and category."""
    department = dispatch_to(
        data.dispatch, district=merged.district.value, street=merged.street.value,
        category=merged.category.value, subcategory=merged.subcategory.value,
        confidence=min(merged.category.confidence or 0.5, merged.street.confidence or 0.5))
    return dataclasses.replace(merged, dispatch_to=department)


# Fields whose free reading stands when it is surer than the biased one: a surname settled
# by the caller's description of it (0.9) is not undone by a biased reading that heard the
# description worse.
_SURER_KEEPS = ("surname", "name")
# A biased reading that goes on at least this many characters past where the free decode
# of the same utterance stopped heard a tail the free decode lost.
_TAIL_MIN = 6
# The free decode's last characters, found by sound in the biased reading, at this cost
# at most (two characters written as others, or several near homophones).
_TAIL_KEY = 6
_TAIL_KEY_COST = 2.0
# A number heard only in a lost tail is taken at this fraction of its confidence.
_TAIL_CONFIDENCE = 0.9


def lost_tail(free: str, biased: str) -> str:
    """The end of an utterance that the biased reading heard and the free decode did not:
    Whisper sometimes ends a long utterance's decode early (…后山那边我幸福, and no more),
    where a reading of the same audio with a prompt goes on (…我幸福付款的扶要8案34601975).
    Empty when the free decode reached the end, or the biased one is its prompt read back."""
    if (not free or read_back_prompt(free, biased)
            or len(biased) < len(free) + _TAIL_MIN or len(free) < _TAIL_KEY):
        return ""
    key = free[-_TAIL_KEY:]
    best: tuple[float, int] | None = None
    for at in range(len(free) // 2, len(biased) - _TAIL_KEY - _TAIL_MIN + 1):
        cost = substitution_cost(key, biased[at : at + _TAIL_KEY])
        if cost <= _TAIL_KEY_COST and (best is None or cost < best[0]):
            best = (cost, at)
    if best is None:
        return ""
    tail = biased[best[1] + _TAIL_KEY :]
    return tail if len(tail) >= _TAIL_MIN else ""


def _phone_from_tails(out: Draft, transcript: str, answers: Sequence[Answer],
                      caller_number: str | None) -> Draft:
    """``out`` with the number said in a lost tail (:func:`lost_tail`) where it had only
    the caller ID. Only the number is read there: a prompt has no digits, so a tail
    cannot make one up (it may hold the prompt's surnames and places). Its span is the
    answer's free decode, what the agent sees (and hears)."""
    if out.phone.span is not None or not answers:
        return out
    longest: dict[str, Answer] = {}  # per utterance (its name and address readings)
    for a in answers:
        tail = lost_tail(a.free, a.biased)
        if not any(ch in DIGITS for ch in tail):
            continue
        kept = longest.get(a.free)
        if kept is None or len(a.free) + len(tail) > len(kept.biased):
            longest[a.free] = Answer(a.question, a.free, a.free + tail)
    if not longest:
        return out
    text, placed = _placed(transcript, list(longest.values()))
    phone = find_phone(compact(text), caller_number)
    if phone.value is None or phone.span is None or phone.value == out.phone.value:
        return out
    span = _answer_span(placed, phone.span)
    confidence = round((phone.confidence or 0.5) * _TAIL_CONFIDENCE, 3)
    return dataclasses.replace(out, phone=FieldValue(phone.value, confidence, span))


def _bare_name(out: Draft, transcript: str, group: Sequence[Answer]) -> Draft:
    """An answer to the name question that is only a name (王建国, 耳东陈 陈建军, 宋朝的宋)
    has no 我姓/我叫 for the drafter to find: read each short answer as a name, the biased
    decode first, and take the first that names someone (or, where the draft has the
    surname, the full name under it), its span the answer's free decode."""
    placed = _placed(transcript, group)[1]
    for a, free_at, _biased_at in placed:
        for text in (a.biased, a.free):
            # A surname alone only where the IVR asked for the name (您贵姓? — 王): a
            # monologue's short utterance (李家村那边) is read for a name too, and there
            # only a spelled, described, titled or full name counts.
            found = answer_name(text, bare=a.asked)
            if found.surname.value is None:
                continue
            changes: dict[str, FieldValue[object]] = {}
            if out.surname.value is None:
                changes["surname"] = FieldValue(found.surname.value, found.surname.confidence,
                                                free_at)
            elif out.surname.value != found.surname.value:
                continue  # another surname than the one the draft has: not this answer
            if found.name.value is not None:
                changes["name"] = FieldValue(found.name.value, found.name.confidence, free_at)
            if changes:
                return dataclasses.replace(out, **changes)  # type: ignore[arg-type]
    return out


def draft_with_answers(free: Draft, transcript: str, answers: Sequence[Answer],
                       caller_number: str | None, now: datetime, *,
                       settings: DraftingSettings | None = None,
                       keypad_phone: str | None = None,
                       menu_choices: tuple[str, ...] = (),
                       learned: LearnedAliases | None = None) -> Draft:
    """``free`` (the draft of ``transcript``) with the answered questions' fields read
    from the transcript in which each answer is its biased decode (read with the approved
    aliases ``learned``, as the free draft was). Each question is read on its own: one
    utterance decoded again for the name and for the address (the second pass) gives
    two biased readings of the same words, each for its own fields."""
    by_question: dict[str, list[Answer]] = {}
    for a in answers:
        by_question.setdefault(a.question, []).append(a)
    out = free
    readings: list[tuple[str, list[Answer], Draft]] = []  # each group's biased draft
    for group in by_question.values():
        text = biased_transcript(transcript, group)
        if text != transcript:
            biased = draft(text, caller_number, now, settings=settings,
                           keypad_phone=keypad_phone, menu_choices=menu_choices,
                           learned=learned)
            readings.append((text, group, biased))
            out = merge_answers(out, biased, transcript, group, knowledge(settings))
        if group[0].question == "name" and (out.surname.value is None
                                            or out.name.value is None):
            out = _bare_name(out, transcript, group)
    if keypad_phone is None:
        out = _phone_from_tails(out, transcript, answers, caller_number)
        out = _phone_from_biased(out, transcript, answers, caller_number)
    out = _category_from_biased(out, transcript, readings, knowledge(settings))
    out = _surname_by_majority(out, free, readings)
    out = _name_from_other_readings(out, transcript, readings)
    out = _appeal_from_biased(out, transcript, readings, knowledge(settings))
    return out


# An appeal type said outright is read at this confidence (classify.appeal_type); the
# free decode's own reading below it was only hinted.
_SAID_OUTRIGHT = 0.9


def _appeal_from_biased(out: Draft, transcript: str,
                        readings: Sequence[tuple[str, list[Answer], Draft]],
                        data: Knowledge) -> Draft:
    """``out`` with the appeal type the biased readings say outright (建议, written as the
    taxonomy has it) where the free decode heard it garbled (建于) and only hinted at
    one: every biased reading that says one outright must say the same. Its span is that
    answer's free decode."""
    if (out.appeal_type.confidence or 0) >= _SAID_OUTRIGHT:
        return out
    said: list[tuple[str, tuple[int, int] | None]] = []
    for text, group, biased in readings:
        value, at = biased.appeal_type.value, biased.appeal_type.span
        if value is None or at is None or (biased.appeal_type.confidence or 0) < _SAID_OUTRIGHT:
            continue
        words = compact(text[at[0] : at[1]]).text
        if not any(words == phrase for rule in data.taxonomy.appeals if rule.name == value
                   for phrase in rule.declared):
            continue
        said.append((value, _answer_span(_placed(transcript, group)[1], at)))
    if not said or len({value for value, _span in said}) > 1 or said[0][0] == out.appeal_type.value:
        return out
    value, span = said[0]
    return dataclasses.replace(out, appeal_type=FieldValue(value, _BIASED_APPEAL, span))


# An appeal type read only in a biased reading: believed less than one said in the free decode.
_BIASED_APPEAL = 0.7


# A surname a biased reading found at least this sure (described, spelled) is not outvoted.
_SETTLED_SURNAME = 0.85


def _surname_by_majority(out: Draft, free: Draft,
                         readings: Sequence[tuple[str, list[Answer], Draft]]) -> Draft:
    """``out`` with the free decode's surname (and its name) back where a biased reading
    heard the same audio as another homophone but more of the readings agree with the free
    one (凤叔分 free, 冯叔分 biased for the address → 冯; 彤叔分 biased for the name → 童
    is outvoted). A surname the caller described or spelled is not outvoted."""
    mine, theirs = free.surname.value, out.surname.value
    if mine is None or theirs is None or mine == theirs:
        return out
    if (out.surname.confidence or 0) >= _SETTLED_SURNAME:
        return out
    for_mine = 1 + sum(1 for _t, _g, biased in readings if biased.surname.value == mine)
    for_theirs = sum(1 for _t, _g, biased in readings if biased.surname.value == theirs)
    if for_mine <= for_theirs:
        return out
    name = free.name if isinstance(free.name.value, str) and free.name.value.startswith(mine) \
        else FieldValue()
    return dataclasses.replace(out, surname=free.surname, name=name)


# A name read only in a reading biased for another question: believed less.
_OTHER_READING_NAME = 0.9


def _name_from_other_readings(out: Draft, transcript: str,
                              readings: Sequence[tuple[str, list[Answer], Draft]]) -> Draft:
    """``out`` with the full name a reading biased for another question heard where the
    draft has none (我叫凤叔分 free, 彤叔分 biased for the name, 冯叔分 biased for the
    address: 冯淑芬). Every biased reading is of the same audio; the name prompt does not
    always win. Only a full name whose given name is plausible, and that agrees with the
    draft's surname where it has one; its span is that answer's free decode."""
    if out.name.value is not None:
        return out
    for _text, group, biased in readings:
        if group[0].question == "name" or biased.name.value is None:
            continue
        if (out.surname.value is not None and out.surname.value != biased.surname.value) or (
                (biased.name.confidence or 0) <= IMPLAUSIBLE_NAME_CONFIDENCE):
            continue
        span = _answer_span(_placed(transcript, group)[1], biased.name.span)
        changes: dict[str, FieldValue[object]] = {"name": FieldValue(
            biased.name.value, round((biased.name.confidence or 0.5) * _OTHER_READING_NAME, 3),
            span)}
        if out.surname.value is None:
            changes["surname"] = FieldValue(
                biased.surname.value,
                round((biased.surname.confidence or 0.5) * _OTHER_READING_NAME, 3), span)
        return dataclasses.replace(out, **changes)  # type: ignore[arg-type]
    return out


def _category_from_biased(out: Draft, transcript: str,
                          readings: Sequence[tuple[str, list[Answer], Draft]],
                          data: Knowledge) -> Draft:
    """``out`` with the category a biased reading names where the free decode named none
    (其他 for want of any phrase): the second pass's readings of the call, biased for the
    name or the address, still hear the rest of each utterance, and one of them may write
    a taxonomy phrase the free decode garbled (拖欠工资 where it heard 拖钱公子). Only a
    phrase written as the taxonomy has it, at the strength the n-best readings need
    (:data:`workorders.nbest.STRONG_CATEGORY`); its span is that answer's free decode.
    ``readings`` are each question's biased transcript, its answers and its draft."""
    if out.category.span is not None:
        return out
    for text, group, biased in readings:
        category, at = biased.category, biased.category.span
        if (category.value is None or at is None
                or (category.confidence or 0) < STRONG_CATEGORY
                or not written_phrase(compact(text[at[0] : at[1]]).text, data.taxonomy)):
            continue
        span = _answer_span(_placed(transcript, group)[1], at)
        return _redispatched(dataclasses.replace(
            out,
            category=FieldValue(category.value, _BIASED_CATEGORY, span),
            subcategory=FieldValue(biased.subcategory.value, _BIASED_CATEGORY, span)), data)
    return out


# A category read only in a biased reading: believed less than one the free decode names.
_BIASED_CATEGORY = 0.5


# A free decode holding at least this many digits tried to say a number: where no number
# could be read from it, a biased reading of the same audio may have heard it whole.
_SAID_DIGITS = 7
# A number read so that begins as the caller ID does (15001193938 from 15001209938) is the
# caller's own, misheard: two mobiles picked at random rarely share five leading digits.
_OWN_PREFIX = 5


def _phone_from_biased(out: Draft, transcript: str, answers: Sequence[Answer],
                       caller_number: str | None) -> Draft:
    """``out`` with the number a biased reading heard where the free decode of the same
    utterance heard digits but no number (幺八九 幺零二三 五五六八 decoded 1891235568, a
    零 lost, and 18910235568 with the name prompt), where the draft had only the caller
    ID. Digits come from the audio, not from a prompt (a prompt has none), and only from
    an answer whose free decode has digits too. Its span is that answer's free decode."""
    if out.phone.span is not None or not answers:
        return out
    found: list[tuple[float, FieldValue[str]]] = []
    for a in answers:
        if (read_back_prompt(a.free, a.biased)
                or sum(ch in DIGITS for ch in a.free) < _SAID_DIGITS):
            continue
        text, placed = _placed(transcript, [a])
        if not placed:
            continue
        phone = find_phone(compact(text), caller_number)
        if phone.value is None or phone.span is None or phone.value == out.phone.value:
            continue
        if out.phone.value and phone.value[:_OWN_PREFIX] == out.phone.value[:_OWN_PREFIX]:
            continue  # the caller's own number, misheard in both readings: the caller ID
        at = placed[0][2]
        if not at[0] <= phone.span[0] < at[1]:
            continue  # read elsewhere in the transcript, not in this answer
        found.append((phone.confidence or 0.5, FieldValue(
            phone.value, round((phone.confidence or 0.5) * _TAIL_CONFIDENCE, 3),
            placed[0][1])))
    if not found or len({f.value for _c, f in found}) > 1:
        return out  # none, or the readings disagree
    return dataclasses.replace(out, phone=max(found, key=lambda f: f[0])[1])
