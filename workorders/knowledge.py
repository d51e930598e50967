"""The shipped data the drafter reads: gazetteer, taxonomy and dispatch table.

Loaded once per set of paths (the overrides in :class:`DraftingSettings`) and cached for
the life of the process: drafting must cost milliseconds, and these files change only
when an admin edits them and restarts.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from config.data import shipped
from config.settings import DraftingSettings
from workorders.gazetteer import Gazetteer

GAZETTEER_FILE = "beijing_gazetteer.json"
TAXONOMY_FILE = "taxonomy.toml"
DISPATCH_FILE = "dispatch.json"
# A taxonomy phrase weighs its length in characters, times this for `strong` and `weak`.
STRONG_WEIGHT = 3.0
WEAK_WEIGHT = 0.5


class DataError(ValueError):
    """A data file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Subcategory:
    category: str
    name: str
    # (phrase, weight), longest phrase first.
    phrases: tuple[tuple[str, float], ...]
    # The appeal type of a call of this kind whose caller names none and gives no hint
    # (噪声 → 投诉, 违法建设 → 举报); None: 求助, a problem to be solved.
    appeal: str | None = None
    # Its phrases count only in a call that praises or thanks (路过的小伙子 把我扶起来 is a
    # good deed to praise there; in a call about an accident it is part of the story).
    praise_only: bool = False


@dataclass(frozen=True)
class AppealRule:
    name: str
    declared: tuple[str, ...]
    cues: tuple[str, ...]


@dataclass(frozen=True)
class UrgentRules:
    phrases: tuple[str, ...]
    negations: tuple[str, ...]
    all_of: tuple[tuple[tuple[str, ...], ...], ...]
    # Words that put the whole call after the danger (表扬, 感谢信: thanks for a rescue).
    past: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    subcategories: tuple[Subcategory, ...]
    appeals: tuple[AppealRule, ...]
    urgent: UrgentRules
    # The gazetteer's district and township names (朝阳区, 朝阳, 西红门镇): a phrase heard by
    # sound never takes their characters (西红门镇 holds no 门诊). Set by :func:`knowledge`.
    places: frozenset[str] = frozenset()

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.category for s in self.subcategories))

    def usual_appeal(self, subcategory: str | None) -> str | None:
        """The appeal type of a call of this kind that names none (see ``Subcategory``)."""
        for sub in self.subcategories:
            if sub.name == subcategory:
                return sub.appeal
        return None

    @cached_property
    def phrases_by_first_char(self) -> dict[str, tuple[tuple[int, int, str, float], ...]]:
        """Every phrase as (subcategory index, position, phrase, weight), by its first
        character: a transcript only needs the phrases that start with one of its own."""
        index: dict[str, list[tuple[int, int, str, float]]] = {}
        for i, sub in enumerate(self.subcategories):
            for j, (phrase, weight) in enumerate(sub.phrases):
                index.setdefault(phrase[0], []).append((i, j, phrase, weight))
        return {ch: tuple(entries) for ch, entries in index.items()}


@dataclass(frozen=True)
class DispatchTable:
    categories: dict[str, str]
    subcategories: dict[str, str]

    def department(self, category: str | None, subcategory: str | None) -> str | None:
        if subcategory and subcategory in self.subcategories:
            return self.subcategories[subcategory]
        return self.categories.get(category) if category else None


@dataclass(frozen=True)
class Knowledge:
    gazetteer: Gazetteer
    taxonomy: Taxonomy
    dispatch: DispatchTable


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataError(f"{where}: expected a list of non-empty strings")
    return tuple(v.lower() for v in value)


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse the taxonomy TOML (see ``config/data/taxonomy.toml`` for the format)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: {exc}") from exc
    subs: list[Subcategory] = []
    for category, table in raw.get("categories", {}).items():
        for name, entry in table.items():
            where = f"{path.name}: categories.{category}.{name}"
            keywords = _strings(entry.get("keywords", []), where + ".keywords")
            weak = _strings(entry.get("weak", []), where + ".weak")
            strong = _strings(entry.get("strong", []), where + ".strong")
            # A keyword weighs its length; a generic (weak) word half of it, a phrase that
            # settles the subcategory (strong) three times. The later list wins.
            weights = {k: float(len(k)) for k in keywords}
            for k in weak:
                weights[k] = WEAK_WEIGHT * len(k)
            for k in strong:
                weights[k] = STRONG_WEIGHT * len(k)
            phrases = tuple(sorted(weights.items(), key=lambda kv: -len(kv[0])))
            appeal = entry.get("appeal")
            if appeal is not None and not isinstance(appeal, str):
                raise DataError(f"{where}.appeal: expected an appeal type")
            praise_only = entry.get("praise_only", False)
            if not isinstance(praise_only, bool):
                raise DataError(f"{where}.praise_only: expected true or false")
            subs.append(Subcategory(category, name, phrases, appeal, praise_only))
    if not subs:
        raise DataError(f"{path}: no categories")
    appeals = tuple(
        AppealRule(
            name,
            _strings(entry.get("declared", []), f"{path.name}: appeal.{name}.declared"),
            _strings(entry.get("cues", []), f"{path.name}: appeal.{name}.cues"),
        )
        for name, entry in raw.get("appeal", {}).items()
    )
    urgent_raw = raw.get("urgent", {})
    urgent = UrgentRules(
        _strings(urgent_raw.get("phrases", []), f"{path.name}: urgent.phrases"),
        _strings(urgent_raw.get("negations", []), f"{path.name}: urgent.negations"),
        tuple(
            tuple(_strings(lst, f"{path.name}: urgent.all_of") for lst in rule["lists"])
            for rule in urgent_raw.get("all_of", [])
        ),
        _strings(urgent_raw.get("past", []), f"{path.name}: urgent.past"),
    )
    names = {rule.name for rule in appeals}
    for sub in subs:
        if sub.appeal is not None and sub.appeal not in names:
            raise DataError(f"{path.name}: categories.{sub.category}.{sub.name}.appeal: "
                            f"{sub.appeal!r} is not an appeal type ({', '.join(names)})")
    return Taxonomy(tuple(subs), appeals, urgent)


def load_dispatch(path: Path) -> DispatchTable:
    """Parse the category → department table (``config/data/dispatch.json``)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: {exc}") from exc
    return DispatchTable(dict(raw.get("categories", {})), dict(raw.get("subcategories", {})))


def load_gazetteer(path: Path) -> Gazetteer:
    try:
        return Gazetteer.from_file(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: {exc}") from exc


# 来北京工作 holds no 北京通 (the city's services app) heard by sound.
CITY_NAMES = ("北京", "北京市")


def place_names(gazetteer: Gazetteer) -> frozenset[str]:
    """The city's name, every district's name and stem and every township's names, with
    their suffix."""
    names = {n for district in gazetteer.districts.values()
             for n in (district.name, *district.stems)}
    names.update(CITY_NAMES)
    names.update(form.full for unit in gazetteer.units for form in unit.forms)
    names.update(unit.name for unit in gazetteer.units)
    return frozenset(n for n in names if len(n) >= 2)


COMMON_WORDS_FILE = "common_words.json"


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common two-character words (config/data/common_words.json, from jieba's dictionary)."""
    data = json.loads(shipped(COMMON_WORDS_FILE).read_text(encoding="utf-8"))
    return frozenset(w for line in data["words"] for w in line.split())


@lru_cache(maxsize=8)
def _load(gazetteer: Path, taxonomy: Path, dispatch: Path) -> Knowledge:
    places = load_gazetteer(gazetteer)
    kinds = replace(load_taxonomy(taxonomy), places=place_names(places))
    return Knowledge(places, kinds, load_dispatch(dispatch))


def knowledge(settings: DraftingSettings | None = None) -> Knowledge:
    """The data for ``settings`` (shipped files unless overridden), loaded once."""
    s = settings or DraftingSettings()
    return _load(
        Path(s.gazetteer_file or shipped(GAZETTEER_FILE)),
        Path(s.taxonomy_file or shipped(TAXONOMY_FILE)),
        Path(s.dispatch_file or shipped(DISPATCH_FILE)),
    )
