"""District, street (街道/乡镇/地区) and detailed address from gazetteer mentions.

How much a mention is believed depends on how it was heard:

- a stem with its suffix (双井街道, 双井接到, 朝阳区, 朝阳七) is a place name;
- a bare district name (通州) is too: the sixteen names are distinctive;
- a bare unit stem of three or more characters (回龙观) is, when heard exactly;
- a bare two-character unit stem (德胜, 东四) is often an ordinary word or part of another
  name (东四环), so it counts only right after its own district (西城区德胜);
- a stem heard with other characters (清和 for 清河) needs its suffix, or its district right
  before it.

Overlapping mentions are settled longest-first, so 朝阳门街道 is a street, not 朝阳 + 门.
The address is what follows the last place name, up to where the sentence moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workorders.draft import FieldValue
from workorders.gazetteer import Gazetteer, Mention, Unit
from workorders.text import Compact


@dataclass(frozen=True)
class Places:
    district: FieldValue[str]
    street: FieldValue[str]
    address: FieldValue[str]
    # Where the place names end in the compact text, for the summary and the address.
    unit: Unit | None = None
    # What the chosen names cost by sound (0: heard as written or as homophones).
    street_cost: float = 0.0
    district_cost: float = 0.0


def _priority(m: Mention) -> tuple[int, int, int, float, int]:
    return (int(m.has_suffix), m.end - m.start, int(m.exact), -m.cost, int(m.kind == "district"))


def _non_overlapping(mentions: list[Mention]) -> list[Mention]:
    chosen: list[Mention] = []
    for m in sorted(mentions, key=_priority, reverse=True):
        if all(m.end <= c.start or m.start >= c.end for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.start)


def _district_before(m: Mention, districts: list[Mention]) -> Mention | None:
    """The district mention that ends right where ``m`` starts (allowing 的/在)."""
    for d in districts:
        if d.end == m.start or (d.end + 1 == m.start):
            return d
    return None


def _unit_follows(district: Mention, mentions: list[Mention]) -> bool:
    """A unit of ``district`` is heard right after it (称平息获赢: 昌平区 霍营)."""
    names = {d.name for d in district.districts}
    return any(m.kind == "unit" and _district_before(m, [district]) is district
               and any(u.district in names for u in m.units) for m in mentions)


def _believe_unit(m: Mention, before: Mention | None) -> float:
    stem_len = m.stem_end - m.start
    in_before = before is not None and any(
        u.district in {d.name for d in before.districts} for u in m.units
    )
    if m.cost > 0:
        return round(0.75 - 0.25 * m.cost, 3) if m.has_suffix else 0.0
    if m.has_suffix:
        return 0.95 if m.exact else 0.8
    if m.exact and stem_len >= 3:
        return 0.75
    if stem_len >= 3:
        return 0.6  # 西翁装 for 溪翁庄: three syllables heard as the name's homophones
    if in_before:
        return 0.7 if m.exact else 0.6
    return 0.0


def _believe_district(m: Mention) -> float:
    if m.cost > 0:
        return round(0.7 - 0.25 * m.cost, 3) if m.has_suffix else 0.0
    if m.exact:
        return 0.95 if m.has_suffix else 0.85
    return 0.75 if m.has_suffix and m.stem_end - m.start >= 2 else 0.0


# The address stops where the caller moves on from the location to the problem or to
# themselves. Single characters here are function words that never end a place name.
_ADDRESS_STOP = re.compile(
    "一家|一个|楼下|楼上|附近|门口|旁边|对面|里面|外面|那边|那儿|那里|这边|这里|周边|一带|有个|有一|"
    "我|姓|电话|手机|号码|联系|的|是|有|在|被|把|那|这|又|都|就|也|还|没|不|很|太|天天|"
    "一直|经常|总是|现在|已经|每天|晚上|白天|今天|昨天|最近|好几|从|到|给|和|跟|呢|啊|吧|了"
)
_PLACE_WORD = re.compile(
    "小区|花园|家园|社区|号楼|号院|公寓|大厦|胡同|单元|广场|市场|商场|公园|学校|医院|村|里|"
    "路|街|巷|条|园|苑|庄|区|城|楼|院|口|门|桥|号|座|栋|期|营|屯|店|寺|坊|府|湾|厂|站|地|河|房"
)
_MAX_ADDRESS = 20
_CORRECTION = re.compile("不对|错了|说错|更正|应该是|我是说")


# Relative places and generic words are not an address an officer can go to.
_GENERIC_PLACE = frozenset(
    (
        "路边",
        "路上",
        "路口",
        "楼里",
        "楼下",
        "楼上",
        "门口",
        "小区",
        "我们小区",
        "家里",
        "这边",
        "社区",
        "村里",
        "我们村",
        "街上",
        "马路",
        "那边",
        "里",
    )
)
# An address names places; these characters say the caller has moved on to what happened.
_NOT_ADDRESS = re.compile("[买卖办装修想说看找帮问让搞开发多能要会去来做收交补]")


def _address_after(compact: Compact, start: int) -> FieldValue[str]:
    text = compact.text
    while start < len(text) and text[start] in "在住":
        start += 1
    stop = _ADDRESS_STOP.search(text, start, min(len(text), start + _MAX_ADDRESS + 6))
    end = stop.start() if stop else min(len(text), start + _MAX_ADDRESS)
    ends = [m.end() for m in _PLACE_WORD.finditer(text, start, end)]
    if not ends:
        return FieldValue()
    end = ends[-1]
    piece = text[start:end]
    bare = piece[:-1] if piece[-1] in "里内上" else piece  # 小区里 is as vague as 小区
    if len(piece) < 2 or {bare, piece} & _GENERIC_PLACE or _NOT_ADDRESS.search(piece):
        return FieldValue()
    return FieldValue(piece, 0.7, compact.span(start, end))


def find_places(compact: Compact, gazetteer: Gazetteer) -> Places:
    """District, street and address of the appeal, each with confidence and span.

    Names heard as the gazetteer's characters or their homophones come first; only when
    they leave the district or the street empty are names heard by sound (潮洋期, 方中接到)
    added, and their reading is kept if it fills more fields."""
    heard = gazetteer.mentions(compact.text)
    first = _places(compact, heard)
    if _fit(first) == 3 and not (first.street_cost or first.district_cost):
        return first
    second = _places(compact, heard + gazetteer.sound_mentions(compact.text))

    def rank(p: Places) -> tuple[int, float]:
        return _fit(p), -(p.street_cost + p.district_cost)

    return second if rank(second) > rank(first) else first


def _fit(p: Places) -> int:
    """Fields filled, plus one when the street lies in the district."""
    agree = p.unit is not None and p.unit.district == p.district.value
    return int(p.district.value is not None) + int(p.street.value is not None) + int(agree)


def _places(compact: Compact, heard: list[Mention]) -> Places:
    mentions = _non_overlapping(heard)
    districts = [m for m in mentions if m.kind == "district" and _believe_district(m) > 0
                 and (not m.loose or _unit_follows(m, mentions))]
    named = {d.name for m in districts for d in m.districts}

    best: tuple[float, Mention, list[Unit]] | None = None
    for m in mentions:
        if m.kind != "unit":
            continue
        before = _district_before(m, districts)
        score = _believe_unit(m, before)
        if score <= 0:
            continue
        units = list(m.units)
        if m.suffix_kind:
            # 东风街道 is in 房山, 东风地区 in 朝阳: the heard suffix tells them apart.
            units = [u for u in units if any(f.kind == m.suffix_kind for f in u.forms)] or units
        if named:
            agreeing = [u for u in units if u.district in named]
            if not agreeing and (not m.has_suffix or m.cost > 0):
                # a bare stem from another district is an ordinary word here, and a name
                # that only sounds like one (沾汤镇 → 天坛, in 门头沟区) was misheard
                continue
            units = agreeing or units
            score -= 0.0 if agreeing else 0.25
        if len(units) > 1:
            score -= 0.3  # 八里庄 without a district: the street is known, its district not
        corrected = best is not None and _CORRECTION.search(compact.text, best[1].end, m.start)
        if best is None or score > best[0] or corrected:
            # 清河街道 不对 是西三旗街道: a place said after a correction replaces the one before.
            best = (score, m, units)

    street: FieldValue[str] = FieldValue()
    district: FieldValue[str] = FieldValue()
    unit: Unit | None = None
    last_end = -1
    if best is not None:
        score, m, candidates = best
        unit = candidates[0]
        street = FieldValue(unit.form_for(m.suffix_kind), score, compact.span(m.start, m.end))
        last_end = m.end
    if districts:
        # The district the street lies in; else the surest mention, the first of equals (西城区
        # said in full over a bare 东城 heard in 耳东陈 → 尔东城).
        pick = next(
            (d for d in districts if unit and unit.district in {x.name for x in d.districts}),
            max(districts, key=_believe_district),
        )
        district = FieldValue(
            pick.districts[0].name, _believe_district(pick), compact.span(pick.start, pick.end)
        )
        last_end = max(last_end, pick.end) if unit is None else last_end
    elif best is not None and unit is not None and len({u.district for u in best[2]}) == 1:
        district = FieldValue(unit.district, round(street.confidence * 0.9, 3), street.span)
    address = _address_after(compact, last_end) if last_end >= 0 else FieldValue[str]()
    return Places(district, street, address, unit,
                  street_cost=best[1].cost if best is not None else 0.0,
                  district_cost=pick.cost if districts else 0.0)
