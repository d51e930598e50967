"""The one-sentence summary, the dispatch suggestion and the answer deadline."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from config.settings import DraftingSettings
from workorders.draft import FieldValue
from workorders.knowledge import DispatchTable
from workorders.text import Compact

_APPEALS = frozenset(("咨询", "求助", "投诉", "举报", "建议", "表扬"))
# The problem clause stops before the caller turns to who they are or how to call back.
_CLAUSE_END = re.compile("我姓|我叫|我信|我性|免贵|电话|手机|联系方式|号码|我是")
_LEAD_FILLER = re.compile(
    "^(?:喂|你好|您好|我想|我要|想|要|反映一下|反映|一下|那个|就是|嗯|啊|呃|然后|我来|的|了)+"
)
_TRAIL = re.compile("(?:我要|我想|我)$")
_MAX_CLAUSE = 36


def problem_clause(
    compact: Compact, evidence: tuple[int, int] | None, cuts: list[tuple[int, int] | None]
) -> str:
    """The stretch of the transcript that holds the classifier's strongest phrase.

    The stretch is bounded by the other fields' spans (``cuts``, in the original
    transcript: place, name, phone) and by the words that turn to the caller's details,
    so the summary does not repeat them.
    """
    if evidence is None:
        return ""
    text = compact.text
    bounds = {0, len(text)}
    for span in cuts:
        if span is not None:
            bounds.update(compact.own(span))
    bounds.update(m.start() for m in _CLAUSE_END.finditer(text))
    start = max(b for b in bounds if b <= evidence[0])
    end = min(b for b in bounds if b >= evidence[1])
    clause = text[start:end]
    trimmed = _LEAD_FILLER.sub("", clause)
    start += len(clause) - len(trimmed)
    if end - start > _MAX_CLAUSE:
        start = max(start, min(evidence[0] - 8, end - _MAX_CLAUSE))
        end = min(end, start + _MAX_CLAUSE)
    return _TRAIL.sub("", text[start:end])


def summarise(
    *,
    name: str | None,
    surname: str | None,
    appeal: str | None,
    where: list[str | None],
    subcategory: str | None,
    clause: str,
) -> FieldValue[str]:
    """谁(who) 在哪(where) 什么事(what), as one sentence."""
    who = name or (f"{surname}姓市民" if surname else "市民")
    verb = appeal if appeal in _APPEALS else "来电反映"
    place = "".join(p for p in where if p)
    what = f"{subcategory}问题" if subcategory else "相关问题"
    detail = f"：{clause}" if clause else ""
    location = f"{place}的" if place else ""
    return FieldValue(f"{who}{verb}{location}{what}{detail}。", 0.6 if clause else 0.4)


def dispatch_to(
    table: DispatchTable,
    *,
    district: str | None,
    street: str | None,
    category: str | None,
    subcategory: str | None,
    confidence: float,
) -> FieldValue[str]:
    """The street or township office, plus the department the category maps to."""
    parts: list[str] = []
    if street:
        office = "人民政府" if street.endswith(("镇", "乡")) else "办事处"
        parts.append(f"{district or ''}{street}{office}")
    department = table.department(category, subcategory)
    if department:
        parts.append(f"{district or '北京市'}{department}")
    if not parts:
        return FieldValue()
    return FieldValue("、".join(parts), round(confidence, 3))


def due_at(now: datetime, urgent: bool, settings: DraftingSettings) -> FieldValue[datetime]:
    """Seven natural days by default; two hours for an urgent appeal (both configurable)."""
    if urgent:
        return FieldValue(now + timedelta(hours=settings.urgent_due_hours), 0.9)
    return FieldValue(now + timedelta(days=settings.due_days), 0.9)
