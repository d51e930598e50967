"""The callback number: spoken or written digits, validated, else the caller ID.

Digits are read from maximal runs of digit characters in the compact transcript
(幺/要/腰/妖/耀/雅 are 1, 两 is 2, 拐 is 7, 洞 is 0: the readings people use to spell numbers).
A run may carry a stray digit-word at either end (我要一三八…: 要 is read as 1), so every
valid 11- or 8-digit window in a run is a candidate, and the windows that agree with how
the number was grouped or cued score higher. Amounts, years, floors and room numbers do
not make valid windows: they are short, or followed by a unit (元, 年, 号楼, 室 …).
After a self-correction (不对/错了/重说 …) only what follows counts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from workorders.draft import FieldValue
from workorders.text import Compact, edit_distance

DIGITS: dict[str, str] = {
    **{str(d): str(d) for d in range(10)},
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "要": "1",
    "腰": "1",
    "妖": "1",
    "耀": "1",
    "雅": "1",  # 幺 (yāo) as Whisper also writes it: 零雅零 for 零幺零
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "拐": "7",
    "八": "8",
    "九": "9",
}
# Characters that are words far more often than digits; losing one at a run's edge is cheap.
_SOFT = frozenset("要腰妖耀雅一两")
MOBILE = re.compile(r"1[3-9]\d{9}")
BEIJING_LANDLINE = re.compile(r"010[2-9]\d{7}")
LOCAL_LANDLINE = re.compile(r"[2-9]\d{7}")
# 座机 as the ASR also writes it: zuò jī with another zuo and another ji (左机, 做机, 坐机,
# 作机, 左击, 左极, 做几).
_LANDLINE = "[座左做坐作][机击极几鸡基积级]"
_CUE = re.compile(f"电话|手机|号码|号是|联系|{_LANDLINE}|打这个|打我|拨打|回电|手机号")
# 不对 as speech recognition also writes it (部队 bù duì, 布对 …) counts only before 是.
_CORRECTION = re.compile(
    "不对|错了|说错|重说|更正|纠正|应该是|改成|重新说|不是这个|(?:部队|布对|步对|不队)[，,、 ]?是"
)
_UNIT_AFTER = re.compile(
    "号楼|号院|单元|公里|平米|号|楼|室|层|栋|幢|元|块|万|千|百|年|月|日|岁|点|度|个|次|天|米|户|"
    "区|里|期|路|斤|分|秒|人|辆|套"
)
_CUE_WINDOW = 8
# Words that turn to a landline (座机 as heard too).
_LANDLINE_CUE = re.compile(f"{_LANDLINE}|固话|家里|单位")
# A caller ID or keypad number: "+"? and 3..20 ASCII digits, after RFC 3966 visual
# separators (- . ( )) and spaces are removed.
_CALLER_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")


@dataclass(frozen=True)
class _Candidate:
    digits: str
    start: int  # in compact text
    end: int
    score: float


def normalise_number(number: str | None) -> str | None:
    """Caller ID or keypad entry → bare digits, without +86/0086.

    None unless it is a phone number: an optional ``+`` and 3 to 20 ASCII digits once visual
    separators are removed (the rule of ``voice_gateway.calls.caller_id``). Digits are never
    picked out of anything else: ``%3Csvg%2Fonload%3Dalert(3)%3E`` is not 32333.
    """
    if not number:
        return None
    stripped = number.translate(_VISUAL_SEPARATORS)
    if not _CALLER_NUMBER.fullmatch(stripped):
        return None
    digits = stripped.removeprefix("+")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 12):
            digits = digits[len(prefix) :]
            break
    return digits


def _runs(text: str) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start = None
    for i, ch in enumerate(text):
        if ch in DIGITS:
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(text)))
    return runs


def _valid(digits: str) -> bool:
    return bool(
        MOBILE.fullmatch(digits)
        or BEIJING_LANDLINE.fullmatch(digits)
        or LOCAL_LANDLINE.fullmatch(digits)
    )


_AREA_CODE = "010"


def _misheard_area_code(digits: str) -> bool:
    """0 + two digits one off the local area code (幺 lost between two 零), then a local
    number: 00083225674 for 010 8322 5674."""
    return (digits[0] == "0" and _one_digit_changed(digits[:3], _AREA_CODE)
            and bool(LOCAL_LANDLINE.fullmatch(digits[3:])))


def _windows(compact: Compact, start: int, end: int) -> list[_Candidate]:
    text = compact.text
    digits = "".join(DIGITS[ch] for ch in text[start:end])
    # A correction just before the digits (…不对是 零零八…) cues them as a phone number too.
    cued = bool(_CUE.search(text, max(0, start - _CUE_WINDOW), start)
                or _CORRECTION.search(text, max(0, start - 4), start)
                or _LANDLINE_CUE.search(text, max(0, start - 4), start))
    unit_after = bool(_UNIT_AFTER.match(text, end))
    found: list[_Candidate] = []
    if len(digits) == 11 and _misheard_area_code(digits):
        # 零幺零 heard as 零零零 / 零七零: the local area code with one digit misheard.
        found.append(_Candidate(_AREA_CODE + digits[3:], start, end, 6.0 if cued else 4.0))
    if len(digits) == 12 and digits.startswith("000"):
        # 零幺零 六九八幺… heard as 零零零 六九八一零…: one 零 too many after the misheard
        # area code; taken when dropping any one 零 of the local part gives one number.
        local = {digits[3:i] + digits[i + 1:] for i in range(3, 12) if digits[i] == "0"}
        if len(local) == 1 and LOCAL_LANDLINE.fullmatch(number := local.pop()):
            found.append(_Candidate(_AREA_CODE + number, start, end, 5.0 if cued else 3.0))
    if (cued and len(digits) == 10 and digits.startswith("00")
            and LOCAL_LANDLINE.fullmatch(digits[2:])):
        # 零幺零 heard as 零零, 幺 lost: after a phone cue, 010 and a local number.
        found.append(_Candidate(_AREA_CODE + digits[2:], start, end, 6.0))
    for size in (11, 8):
        if len(digits) < size or len(digits) > size + 3:
            continue
        for offset in range(len(digits) - size + 1):
            window = digits[offset : offset + size]
            if not _valid(window):
                continue
            if size == 8 and not (cued and len(digits) == 8):
                continue  # eight digits alone are as likely an order or ID number
            lo, hi = start + offset, start + offset + size
            score = 3.0 if size == 11 else 2.0
            score += 2.0 if cued else 0.0
            if offset == 0 and hi == end:
                score += 2.0
            if (lo == start or lo in compact.breaks) and (hi == end or hi in compact.breaks):
                score += 1.0  # agrees with the spoken grouping
            dropped = text[start:lo] + text[hi:end]
            if dropped and all(ch in _SOFT for ch in dropped[:1]):
                score += 0.5
            if hi == end and unit_after:
                score -= 4.0  # 一三八…元: a quantity, not a number to call
            found.append(_Candidate(window, lo, hi, score))
    return found


def _grouped_pieces(compact: Compact, start: int, end: int) -> list[tuple[int, int]]:
    """Split an over-long run at the spoken group boundaries into phone-sized stretches."""
    cuts = [start] + [b for b in sorted(compact.breaks) if start < b < end] + [end]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(cuts) - 1:
        for j in range(len(cuts) - 1, i, -1):
            if cuts[j] - cuts[i] in (8, 11):
                pieces.append((cuts[i], cuts[j]))
                i = j
                break
        else:
            i += 1
    if not pieces and (end - start) % 11 == 0:
        pieces = [(s, s + 11) for s in range(start, end, 11)]
    return pieces


def _one_digit_apart(heard: str, number: str) -> bool:
    """Whether ``heard`` is ``number`` with one digit added or dropped."""
    if abs(len(heard) - len(number)) != 1:
        return False
    longer, shorter = (heard, number) if len(heard) > len(number) else (number, heard)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _one_digit_changed(heard: str, number: str) -> bool:
    """Whether ``heard`` is ``number`` with exactly one digit replaced."""
    if len(heard) != len(number):
        return False
    return sum(a != b for a, b in zip(heard, number, strict=True)) == 1


# A mobile number heard this many digit edits from the caller ID is the caller ID misheard
# (18851827364 for 18518227364: Whisper doubled one 8 and lost a 2). Another person's
# number is nowhere near: two random mobiles differ in about eight of their last nine.
_NEAR_CALLER_EDITS = 2


def _near_caller(heard: str, caller: str) -> bool:
    if len(heard) == len(caller) == 11:
        return 0 < edit_distance(heard, caller) <= _NEAR_CALLER_EDITS
    return _one_digit_changed(heard, caller)


def _own_landline(caller: str) -> str | None:
    """Calling from 010 69712048, a Beijing caller says their landline without the area
    code: 69712048 is the caller ID as said."""
    if BEIJING_LANDLINE.fullmatch(caller):
        return caller[3:]
    return None


def _misheard_caller_id(compact: Compact, runs: list[tuple[int, int]],
                        caller: str) -> tuple[int, int] | None:
    """A cued run one digit off the caller ID (Whisper gains or drops a repeated digit), or
    two cued runs with one character between that are the caller ID with that character
    as one of its digits (四 heard as 算).

    Only a run that is not itself a well-formed number counts: a caller who gives a
    different, valid number means that number.
    """
    text = compact.text
    for start, end in runs:
        if end - start == len(caller) or not _CUE.search(text, max(0, start - _CUE_WINDOW), start):
            continue
        if _one_digit_apart("".join(DIGITS[ch] for ch in text[start:end]), caller):
            return start, end
    for (start, end), (after, stop) in itertools.pairwise(runs):
        # 要三算二六零五七七八腰: one digit heard as a word (四 → 算) splits the caller ID
        # in two; the two runs and one character between are the caller ID exactly.
        if after != end + 1 or not _CUE.search(text, max(0, start - _CUE_WINDOW), start):
            continue
        head = "".join(DIGITS[ch] for ch in text[start:end])
        tail = "".join(DIGITS[ch] for ch in text[after:stop])
        if (len(head) + 1 + len(tail) == len(caller) and caller.startswith(head)
                and caller.endswith(tail)):
            return start, stop
    return None


# A correction may name the part it fixes first (最后是, 后四位是) before its digits.
_TAIL_REACH = 5


def _tail_corrected(text: str, runs: list[tuple[int, int]], at: int,
                    before: list[_Candidate]) -> list[_Candidate]:
    """…六三九五 说错了 最后是六三五九: digits after a correction, fewer than a whole number,
    replace as many of the last digits of the number said before it."""
    run = next(((lo, hi) for lo, hi in runs if at <= lo <= at + _TAIL_REACH), None)
    earlier = [c for c in before if len(c.digits) == 11]
    if run is None:
        return []
    fix = "".join(DIGITS[ch] for ch in text[run[0] : run[1]])
    if not 0 < len(fix) < 11:
        return []
    if not earlier:
        return _head_short(text, runs, at, run, fix)
    last = max(earlier, key=lambda c: (c.score, c.start))
    digits = last.digits[: 11 - len(fix)] + fix
    return [_Candidate(digits, last.start, run[1], last.score)] if _valid(digits) else []


def _head_short(text: str, runs: list[tuple[int, int]], at: int, run: tuple[int, int],
                fix: str) -> list[_Candidate]:
    """幺八六二四五七幺三九 不对 是 零二五四七幺三九: the number before the correction was
    heard a digit short (Whisper merges a repeated digit: 五五 → 五) and the correction
    says its tail again, whole: the head comes from what was heard before it."""
    said = next(((lo, hi) for lo, hi in reversed(runs)
                 if hi < at and at - hi <= _CORRECTION_REACH + _TAIL_REACH), None)
    if said is None or len(fix) < 4:
        return []
    head = "".join(DIGITS[ch] for ch in text[said[0] : said[1]])
    if not head.startswith("1") or not 11 - len(fix) <= len(head) < 11:
        return []
    digits = head[: 11 - len(fix)] + fix
    return [_Candidate(digits, said[0], run[1], 4.0)] if MOBILE.fullmatch(digits) else []


# A correction of a number comes right after it (…三四五六 哎 不对 是…), not a clause later
# (…三四五六 物业费收得不对); the ASR may garble what comes between (4419艾部对收错了).
_CORRECTION_REACH = 4


def _corrected_at_once(text: str, end: int) -> bool:
    m = _CORRECTION.search(text, end)
    return m is not None and m.start() - end <= _CORRECTION_REACH


def find_phone(
    compact: Compact, caller_number: str | None, keypad_phone: str | None = None
) -> FieldValue[str]:
    """The number to call back, with its confidence and span."""
    keypad = normalise_number(keypad_phone)
    if keypad:
        return FieldValue(keypad, 0.99, None)
    text = compact.text
    candidates: list[_Candidate] = []
    runs = _runs(text)
    for start, end in runs:
        if end - start > 14:
            for lo, hi in _grouped_pieces(compact, start, end):
                candidates.extend(_windows(compact, lo, hi))
        else:
            candidates.extend(_windows(compact, start, end))
    candidates = [c for c in candidates if c.score > 0]
    caller = normalise_number(caller_number)
    misheard = _misheard_caller_id(compact, runs, caller) if caller else None
    local = _own_landline(caller) if caller else None
    if local and not misheard and (heard := _misheard_caller_id(compact, runs, local)):
        # The caller's own landline said without its area code, a digit gained or lost:
        # the caller ID misheard, given as the caller said it.
        caller, misheard = local, heard
    corrections = [m.end() for m in _CORRECTION.finditer(text)]
    if not candidates and corrections:
        candidates = _tail_corrected(text, runs, corrections[-1], [])
    if candidates:
        # The caller said exactly the number they call from, then corrected it.
        away_from_caller = False
        if corrections:
            said = [c for c in candidates if c.end <= corrections[-1]]
            after = [c for c in candidates if c.start >= corrections[-1]]
            if not after and not (caller and any(_near_caller(c.digits, caller) for c in said)):
                # (the caller's own number, a digit misheard and then mended: the caller
                # ID, below)
                after = _tail_corrected(text, runs, corrections[-1], said)
            elif (after and all(len(c.digits) == 8 for c in after)
                  and any(MOBILE.fullmatch(c.digits) for c in said)
                  and not _LANDLINE_CUE.search(text, corrections[-1], min(c.start for c in after))):
                # 幺三八六二零九四零幺七 不对 六二零八四零幺七: eight digits after a mobile
                # number mend its last eight, unless the caller turns to a landline (座机).
                after = _tail_corrected(text, runs, corrections[-1], said) or after
            away_from_caller = bool(after and caller and any(
                c.digits == caller and _corrected_at_once(text, c.end) for c in said))
            candidates = after or candidates
        best = max(candidates, key=lambda c: (c.score, c.start))
        if away_from_caller and best.digits != caller:
            # 电话 <the caller ID> 不对 是 <another number>: the correction is deliberate,
            # however close to the caller ID (the ASR does not invent a correction).
            return FieldValue(best.digits, 0.85, compact.span(best.start, best.end))
        if caller and misheard and misheard[0] <= best.start < misheard[1]:
            # The best reading comes from a run that is the caller ID with a digit too
            # many: the ASR stuttered, the caller ID is right.
            return FieldValue(caller, 0.85, compact.span(*misheard))
        # 13122284405 heard, 13122684405 calling: a caller giving another number does not
        # give one a digit or two away from their own (or from its local part, 69712048
        # of 01069712048); the ASR misheard.
        own = next((n for n in (caller, local) if n and _near_caller(best.digits, n)), None)
        if own is not None:
            return FieldValue(own, 0.8, compact.span(best.start, best.end))
        confidence = min(0.97, 0.55 + best.score * 0.05)
        if caller and best.digits == caller:
            confidence = 0.99
        return FieldValue(best.digits, round(confidence, 3), compact.span(best.start, best.end))
    if caller and misheard:
        return FieldValue(caller, 0.85, compact.span(*misheard))
    if caller:
        return FieldValue(caller, 0.7, None)
    return FieldValue()
