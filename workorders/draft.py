"""The work-order draft: what the drafter makes of one call's transcript.

Every field is a :class:`FieldValue`: the value (``None`` when the caller did not say it),
a confidence in 0..1 and the transcript span it was read from. ``to_dict`` gives the stable
JSON keys of DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DRAFT_KEYS = (
    "id",
    "name",
    "surname",
    "phone",
    "district",
    "street",
    "address",
    "category",
    "subcategory",
    "appeal_type",
    "urgent",
    "summary",
    "dispatch_to",
    "due_at",
    "confidence",
)

FIELD_NAMES = tuple(k for k in DRAFT_KEYS if k not in ("id", "confidence"))


@dataclass(frozen=True)
class FieldValue(Generic[T]):
    """One drafted field: value, confidence, and the transcript span ``[start, end)``."""

    value: T | None = None
    confidence: float = 0.0
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Draft:
    """A work-order draft. Field values are plain; metadata sits in ``fields``."""

    name: FieldValue[str] = field(default_factory=FieldValue)
    surname: FieldValue[str] = field(default_factory=FieldValue)
    phone: FieldValue[str] = field(default_factory=FieldValue)
    district: FieldValue[str] = field(default_factory=FieldValue)
    street: FieldValue[str] = field(default_factory=FieldValue)
    address: FieldValue[str] = field(default_factory=FieldValue)
    category: FieldValue[str] = field(default_factory=FieldValue)
    subcategory: FieldValue[str] = field(default_factory=FieldValue)
    appeal_type: FieldValue[str] = field(default_factory=FieldValue)
    urgent: FieldValue[bool] = field(default_factory=lambda: FieldValue(False, 0.5))
    summary: FieldValue[str] = field(default_factory=FieldValue)
    dispatch_to: FieldValue[str] = field(default_factory=FieldValue)
    due_at: FieldValue[datetime] = field(default_factory=FieldValue)
    # Earlier work orders this one repeats, and whether it must be escalated.
    related: tuple[str, ...] = ()
    escalate: bool = False

    def get(self, name: str) -> FieldValue[Any]:
        value: FieldValue[Any] = getattr(self, name)
        return value

    def to_dict(self, draft_id: str | None = None) -> dict[str, Any]:
        """The stable JSON form: DESIGN.md keys, ``None`` for absent fields."""
        out: dict[str, Any] = {"id": draft_id}
        for name in FIELD_NAMES:
            value = self.get(name).value
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        out["confidence"] = {name: round(self.get(name).confidence, 3) for name in FIELD_NAMES}
        return out

    def evidence(self) -> dict[str, list[int] | None]:
        """Transcript span of each field, for the review console."""
        return {
            name: (list(span) if (span := self.get(name).span) else None) for name in FIELD_NAMES
        }
