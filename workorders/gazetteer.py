"""The Beijing gazetteer: districts and their township-level units, matched by sound.

Each district and unit is indexed by its *stem* (the name without 区/街道/镇/乡/地区) under
the fuzzy pinyin of the stem's first character. :meth:`Gazetteer.mentions` walks the
compact transcript once, tries the stems filed under each character's readings, and
reports every place that sounds like a gazetteer name, with the suffix heard after it.
Deciding which mentions to believe is :mod:`workorders.places`' job.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from workorders.pinyin import readings
from workorders.sound import SoundIndex, char_cost, substitution_cost

PlaceKind = Literal["district", "unit"]
# A stem in the sound index: the stem, its kind, and each character's readings.
_Entry = tuple[str, PlaceKind, tuple[frozenset[str], ...]]

# Suffix heard after a unit stem → the kind of unit it names. ASR writes 街道 as 接到.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("街道办事处", "街道"),
    ("地区办事处", "地区"),
    ("街道办", "街道"),
    ("镇政府", "镇"),
    ("乡政府", "乡"),
    ("街道", "街道"),
    ("接到", "街道"),
    ("街到", "街道"),
    ("接道", "街道"),
    ("节道", "街道"),
    ("地区", "地区"),
    ("镇", "镇"),
    ("乡", "乡"),
    ("办事处", "街道"),
)
# Whisper writes 区 as 七 or 期; a bare district name ("通州") is accepted as well.
DISTRICT_SUFFIXES: tuple[str, ...] = ("区", "七", "期", "曲", "去", "驱", "7")
_QU = frozenset(("qu", "qi"))
# The most a suffix heard by sound may cost (街等 for 街道, 阵 or 见 for 镇, 七 for 区).
SUFFIX_COST = 0.45
# The most a stem and its suffix heard by sound may cost together: about one syllable
# confused, or two that the engine is measured to confuse often.
UNIT_COST = 0.8
# A stem matched through fuzzy readings that costs this much when read as the name is said
# counts as heard by sound, not as a homophone.
RARE_MATCH_COST = 0.5
DISTRICT_COST = 0.6
# A district name and its 区 heard this loosely (称平息 for 昌平区, 怀有七 for 怀柔区: one
# syllable off and 区 as 息/七) count only with one of its units heard right after them.
LOOSE_DISTRICT_COST = 1.0
# Longest first, so that 常营回族乡 loses 回族乡, not just 乡.
_NAME_SUFFIXES = ("满族蒙古族乡", "回族乡", "满族乡", "街道", "地区", "镇", "乡", "区")


@dataclass(frozen=True)
class District:
    name: str
    stems: tuple[str, ...]


@dataclass(frozen=True)
class UnitForm:
    """One name of a unit: 良乡地区 and 良乡镇 are two forms of the same unit."""

    full: str
    stem: str
    kind: str  # 街道, 地区, 镇 or 乡


@dataclass(frozen=True)
class Unit:
    name: str
    district: str
    forms: tuple[UnitForm, ...]

    def form_for(self, kind: str | None) -> str:
        """The name to report when the caller said ``kind`` after the stem: the unit's
        own name if it is of that kind (于家务乡 → 于家务回族乡), else the shortest other
        name of that kind (檀营乡 → 檀营乡, not 檀营满族蒙古族乡)."""
        forms = [form for form in self.forms if kind is not None and form.kind == kind]
        if not forms or forms[0].full == self.name:
            return self.name
        return min(forms, key=lambda f: len(f.full)).full


@dataclass(frozen=True)
class Mention:
    """A stretch of the compact transcript that sounds like a gazetteer name."""

    kind: PlaceKind
    start: int
    stem_end: int
    end: int  # after the suffix, if one was heard
    stem: str
    exact: bool  # heard with the gazetteer's own characters
    suffix_kind: str | None  # 街道/地区/镇/乡 for units, "区" for districts
    districts: tuple[District, ...] = ()
    units: tuple[Unit, ...] = ()
    # 0 for a stem heard as the gazetteer's characters or their homophones; more for a stem
    # heard only by sound (see :meth:`Gazetteer.sound_mentions`).
    cost: float = 0.0
    # A district heard more loosely than DISTRICT_COST allows: it counts only when one of
    # its streets or towns is heard right after it (see workorders.places).
    loose: bool = False

    @property
    def has_suffix(self) -> bool:
        return self.suffix_kind is not None


def split_suffix(name: str) -> tuple[str, str]:
    """``"良乡地区"`` → ``("良乡", "地区")``; ethnic townships count as 乡."""
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            kind = "乡" if suffix.endswith("乡") else suffix
            return name[: -len(suffix)], kind
    return name, ""


class Gazetteer:
    """Districts and units, indexed for matching by sound."""

    def __init__(self, districts: list[District], units: list[Unit]) -> None:
        self.districts = {d.name: d for d in districts}
        self.units = units
        self.units_by_district: dict[str, list[Unit]] = defaultdict(list)
        self._district_stems: dict[str, list[District]] = defaultdict(list)
        self._unit_stems: dict[str, list[Unit]] = defaultdict(list)
        for district in districts:
            for stem in district.stems:
                self._district_stems[stem].append(district)
        for unit in units:
            self.units_by_district[unit.district].append(unit)
            for stem in {f.stem for f in unit.forms}:
                self._unit_stems[stem].append(unit)
        # Stems filed by the readings of their first two characters (one-character stems
        # by their only one), with every character's readings: a text position looks up
        # only the stems that already sound alike for two characters.
        self._index: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        self._single: dict[str, list[_Entry]] = defaultdict(list)
        for stem in self._district_stems:
            self._file(stem, "district")
        for stem in self._unit_stems:
            self._file(stem, "unit")
        self._sound = SoundIndex([*self._district_stems, *self._unit_stems], near_pairs=True,
                                 near_cost=0.6)

    def _file(self, stem: str, kind: PlaceKind) -> None:
        heard = tuple(readings(ch) for ch in stem)
        entry = (stem, kind, heard)
        if len(stem) == 1:
            for r0 in heard[0]:
                self._single[r0].append(entry)
            return
        for r0 in heard[0]:
            for r1 in heard[1]:
                self._index[r0, r1].append(entry)

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        """Load the JSON gazetteer (see ``config/data/beijing_gazetteer.json``)."""
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        districts: list[District] = []
        units: list[Unit] = []
        for entry in raw["districts"]:
            name = str(entry["name"])
            stems = [split_suffix(n)[0] for n in [name, *entry.get("aka", [])]]
            districts.append(District(name, tuple(dict.fromkeys(stems))))
            for item in entry["units"]:
                full, aka = (item, []) if isinstance(item, str) else (item["name"], item["aka"])
                forms = []
                for form_name in [full, *aka]:
                    stem, kind = split_suffix(form_name)
                    # A one-character stem (张镇) is only ever matched whole.
                    forms.append(UnitForm(form_name, stem if len(stem) > 1 else form_name, kind))
                units.append(Unit(full, name, tuple(forms)))
        return cls(districts, units)

    def mentions(self, text: str) -> list[Mention]:
        """Every stretch of ``text`` that sounds like a district or unit name."""
        found: list[Mention] = []
        n = len(text)
        heard = [readings(ch) for ch in text]
        for start in range(n):
            seen: set[tuple[str, PlaceKind]] = set()
            buckets: list[list[_Entry]] = []
            for r0 in heard[start]:
                if (single := self._single.get(r0)) is not None:
                    buckets.append(single)
                if start + 1 < n:
                    buckets.extend(b for r1 in heard[start + 1]
                                   if (b := self._index.get((r0, r1))) is not None)
            for bucket in buckets:
                for stem, kind, sounds in bucket:
                    if (stem, kind) in seen:
                        continue
                    seen.add((stem, kind))
                    stem_end = start + len(stem)
                    if stem_end > n:
                        continue
                    exact = text.startswith(stem, start)
                    # The first two characters already sound alike (the index).
                    if not exact and not all(heard[start + i] & sounds[i]
                                             for i in range(2, len(stem))):
                        continue
                    m = self._mention(text, kind, start, stem_end, stem, exact)
                    if not exact:
                        # Read as the name is said (大台 is da tai), a match that needs a
                        # rare reading (台 read yi) costs what it sounds like.
                        cost = self._sound.cost_at(stem, text, start)
                        if cost >= RARE_MATCH_COST:
                            m = replace(m, cost=cost)
                    found.append(m)
        return found

    def sound_mentions(self, text: str) -> list[Mention]:
        """Stems heard by sound (:mod:`workorders.sound`: 潮洋期 for 朝阳区, 方中接到 for
        方庄街道), each with the suffix heard after it matched by sound as well. Only
        mentions with a suffix are reported: a stem heard this loosely is a place only when
        the caller said what kind of place it is."""
        found: list[Mention] = []
        for stem, hit in self._sound.find(text):
            for kind in self._kinds(stem):
                m = self._sound_mention(text, kind, hit.start, hit.end, stem, hit.cost)
                if m is not None:
                    found.append(m)
        return found

    def _kinds(self, stem: str) -> tuple[PlaceKind, ...]:
        kinds: list[PlaceKind] = []
        if stem in self._district_stems:
            kinds.append("district")
        if stem in self._unit_stems:
            kinds.append("unit")
        return tuple(kinds)

    def _sound_mention(self, text: str, kind: PlaceKind, start: int, stem_end: int,
                       stem: str, cost: float) -> Mention | None:
        exact = text.startswith(stem, start)
        if kind == "district":
            if stem_end >= len(text):
                return None
            suffix_cost = char_cost("区", text[stem_end])
            if suffix_cost <= SUFFIX_COST and cost + suffix_cost <= LOOSE_DISTRICT_COST:
                return Mention(kind, start, stem_end, stem_end + 1, stem, exact, "区",
                               districts=tuple(self._district_stems[stem]),
                               cost=cost + suffix_cost,
                               loose=cost + suffix_cost > DISTRICT_COST)
            return None
        units = tuple(self._unit_stems[stem])
        for said, suffix_kind in UNIT_SUFFIXES:
            heard = text[stem_end:stem_end + len(said)]
            if len(heard) < len(said):
                continue
            suffix_cost = substitution_cost(said, heard)
            if suffix_cost > SUFFIX_COST or cost + suffix_cost > UNIT_COST:
                continue
            if not any(f.kind == suffix_kind for u in units for f in u.forms):
                continue  # 光明正大 is not 光明镇: 光明 is a 街道
            return Mention(kind, start, stem_end, stem_end + len(said), stem, exact,
                           suffix_kind, units=units, cost=cost + suffix_cost)
        return None

    @staticmethod
    def _suffix_by_sound(text: str, at: int, units: tuple[Unit, ...]) -> tuple[str, str] | None:
        kinds = {f.kind for u in units for f in u.forms}
        for said, suffix_kind in UNIT_SUFFIXES:
            heard = text[at:at + len(said)]
            if (suffix_kind in kinds and len(heard) == len(said)
                    and substitution_cost(said, heard) <= SUFFIX_COST):
                return heard, suffix_kind
        return None

    def _mention(
        self, text: str, kind: PlaceKind, start: int, stem_end: int, stem: str, exact: bool
    ) -> Mention:
        if kind == "district":
            suffix = next((s for s in DISTRICT_SUFFIXES if text.startswith(s, stem_end)), "")
            if not suffix and stem_end < len(text) and readings(text[stem_end]) & _QU:
                suffix = text[stem_end]  # 区 heard as 汽, 起, 7 …
            return Mention(
                kind,
                start,
                stem_end,
                stem_end + len(suffix),
                stem,
                exact,
                "区" if suffix else None,
                districts=tuple(self._district_stems[stem]),
            )
        said = next(((s, k) for s, k in UNIT_SUFFIXES if text.startswith(s, stem_end)), None)
        units = tuple(self._unit_stems[stem])
        if said is None:
            # 凉相见 (良乡镇): a suffix heard by sound, of a kind this unit has.
            said = self._suffix_by_sound(text, stem_end, units)
        if stem_end - start > 1 and any(f.full == stem for u in units for f in u.forms):
            # The stem is itself a whole name (杨镇, 张镇): it carries its own suffix.
            said = said or ("", stem[-1])
        return Mention(
            kind,
            start,
            stem_end,
            stem_end + (len(said[0]) if said else 0),
            stem,
            exact,
            said[1] if said else None,
            units=units,
        )
