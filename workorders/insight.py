"""每月一题: the month's most pressing problems, mined from its work orders (pure).

How it works. The month's orders are grouped by subcategory and street (district when the
street is unknown). Within a group, key phrases are the character n-grams (2 to 4 Chinese
characters) of its transcripts ranked by class-based TF-IDF: how many of the group's
orders contain the phrase, times ``1 + log((N + 1) / (n + 1))`` where N is the month's
orders outside the group and n those of them with the phrase, so phrases every call has
(电话, 我姓) weigh little and the street's own name is left out. Phrases are chosen
greedily, up to three, each scored on the orders earlier ones do not cover (ties: the
longer one, then the one nearer the start of its sentences), the taxonomy's own keywords
(停水, 水压低) weighing double, since a bare n-gram may straddle two words; each order
joins the first phrase its transcript contains (or none), which splits a group such as
供水 · 双井街道 into 停水 and 水压低.

Each candidate is ranked by ``score = volume + 2 × repeat calls + 3 × dissatisfied +
growth``, where repeat calls are orders the drafter linked to an earlier appeal,
dissatisfied are those whose follow-up recorded 不满意, and growth is how many more orders
the same subcategory, street and phrase had than in the previous month (0 if fewer). No
new dependency: plain Python over the stored transcripts.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Characters that make an n-gram a function word, a number, a name or a unit, not a topic.
_STOP = frozenset(
    "的了我你他她它是在有个这那们就都也还吗呢吧啊嗯喂哦呀和与跟给把被让说要会能想去来到对很太"
    "又再一二三四五六七八九十零幺两几号楼层单元室姓叫话电请您好谢位帮下上里边些么什怎"
)
_CJK = re.compile(r"[\u4e00-\u9fff]+")
MAX_PHRASES = 3
SUMMARY_CHARS = 60


@dataclass(frozen=True)
class OrderFact:
    """What analytics needs of one stored work order."""

    id: str
    created_at: datetime
    district: str | None
    street: str | None
    category: str | None
    subcategory: str | None
    transcript: str = ""
    summary: str | None = None
    address: str | None = None
    phone: str | None = None
    repeat: bool = False  # linked by the drafter to an earlier appeal
    escalated: bool = False  # the third appeal or beyond: escalated
    satisfaction: str | None = None

    @property
    def place(self) -> str | None:
        return self.street or self.district


@dataclass
class TopicCandidate:
    key: str
    category: str | None
    subcategory: str
    district: str | None
    street: str | None
    phrase: str | None
    order_ids: list[str]
    volume: int
    repeat_calls: int
    dissatisfied: int
    previous: int
    score: float
    examples: list[dict[str, str | None]] = field(default_factory=list)
    trend: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key, "category": self.category, "subcategory": self.subcategory,
            "district": self.district, "street": self.street, "phrase": self.phrase,
            "order_ids": self.order_ids, "volume": self.volume,
            "repeat_calls": self.repeat_calls, "dissatisfied": self.dissatisfied,
            "previous": self.previous, "growth": self.volume - self.previous,
            "score": self.score, "examples": self.examples, "trend": self.trend,
        }


def ngrams(text: str) -> dict[str, int]:
    """The 2- to 4-character n-grams of ``text``'s Chinese runs, without stop characters,
    each with its first position in its run (a word more often starts a run than not)."""
    out: dict[str, int] = {}
    for run in _CJK.findall(text):
        for n in (2, 3, 4):
            for i in range(len(run) - n + 1):
                gram = run[i:i + n]
                if not any(c in _STOP for c in gram):
                    out[gram] = min(i, out.get(gram, i))
    return out


def key_phrases(group: Sequence[Mapping[str, int]], df: Counter[str], total: int,
                exclude: Iterable[str] = (), limit: int = MAX_PHRASES,
                boost: frozenset[str] = frozenset()) -> list[str]:
    """The group's phrases by class-based TF-IDF (see the module docstring), chosen
    greedily: each next phrase is scored on the orders no earlier phrase covers. A phrase
    inside an excluded word (the place's own name) never counts; one of ``boost`` (the
    taxonomy's keywords: words, where n-grams may straddle two) weighs double. ``df`` and
    ``total``: the document frequencies and size of the whole month, the group included."""
    names = [e for e in exclude if e]
    docs: dict[str, set[int]] = defaultdict(set)
    position: Counter[str] = Counter()
    for i, grams in enumerate(group):
        for g, at in grams.items():
            docs[g].add(i)
            position[g] += at
    outside = max(0, total - len(group))
    idf = {g: (math.log((outside + 1) / (max(0, df[g] - len(d)) + 1)) + 1.0)
           * (2.0 if g in boost else 1.0)
           for g, d in docs.items()
           if len(d) >= 2 and not any(g in name for name in names)}
    remaining = set(range(len(group)))
    chosen: list[str] = []
    while len(chosen) < limit and remaining:
        best = max(idf, key=lambda g: (len(docs[g] & remaining) * idf[g], len(g),
                                       -position[g] / len(docs[g]), g), default=None)
        if best is None or len(docs[best] & remaining) < 2:
            break
        chosen.append(best)
        remaining -= docs[best]
        del idf[best]
    return chosen


def _month(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def topic_candidates(month: Sequence[OrderFact], previous: Sequence[OrderFact],
                     history: Sequence[OrderFact] = (), limit: int = 10,
                     min_volume: int = 2,
                     keywords: frozenset[str] = frozenset()) -> list[TopicCandidate]:
    """The month's candidate topics, best first (see the module docstring). ``previous``:
    the month before (growth); ``history``: earlier orders for each candidate's trend
    (counts per month, oldest first, this month last)."""
    grams = {f.id: ngrams(f.transcript) for f in (*month, *previous, *history)}
    df: Counter[str] = Counter(g for f in month for g in grams[f.id])
    groups: dict[tuple[str, str | None, str | None], list[OrderFact]] = defaultdict(list)
    for f in month:
        if f.subcategory:
            groups[(f.subcategory, f.district, f.street)].append(f)
    out = []
    for (sub, district, street), orders in groups.items():
        phrases = key_phrases([grams[f.id] for f in orders], df, len(month),
                              exclude=(district or "", street or ""), boost=keywords)
        split: dict[str | None, list[OrderFact]] = defaultdict(list)
        for f in orders:
            split[next((p for p in phrases if p in grams[f.id]), None)].append(f)
        for phrase, members in split.items():
            if len(members) < min_volume:
                continue
            out.append(_candidate(sub, district, street, phrase, members, previous, history,
                                  grams))
    out.sort(key=lambda c: (-c.score, -c.volume, c.key))
    return out[:limit]


def _matches(f: OrderFact, sub: str, district: str | None, street: str | None,
             phrase: str | None, grams: Mapping[str, Mapping[str, int]]) -> bool:
    return (f.subcategory == sub and f.district == district and f.street == street
            and (phrase is None or phrase in grams[f.id]))


def _candidate(sub: str, district: str | None, street: str | None, phrase: str | None,
               members: list[OrderFact], previous: Sequence[OrderFact],
               history: Sequence[OrderFact], grams: Mapping[str, Mapping[str, int]]
               ) -> TopicCandidate:
    before = sum(1 for f in previous if _matches(f, sub, district, street, phrase, grams))
    repeats = sum(1 for f in members if f.repeat)
    unhappy = sum(1 for f in members if f.satisfaction == "dissatisfied")
    volume = len(members)
    per_month = Counter(_month(f.created_at) for f in (*history, *previous)
                        if _matches(f, sub, district, street, phrase, grams))
    this = _month(members[0].created_at)
    per_month[this] = volume
    members = sorted(members, key=lambda f: f.created_at)
    return TopicCandidate(
        key="|".join((sub, district or "", street or "", phrase or "")),
        category=members[0].category, subcategory=sub, district=district, street=street,
        phrase=phrase, order_ids=[f.id for f in members], volume=volume,
        repeat_calls=repeats, dissatisfied=unhappy, previous=before,
        score=float(volume + 2 * repeats + 3 * unhappy + max(0, volume - before)),
        examples=[{"id": f.id, "created_at": f.created_at.isoformat(),
                   "summary": (f.summary or "")[:SUMMARY_CHARS] or None}
                  for f in members[-3:]],
        trend=[{"month": m, "orders": per_month[m]} for m in sorted(per_month)],
    )
