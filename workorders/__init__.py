"""Layer 1: transcript → work-order draft (pure; no I/O besides the shipped data)."""

from workorders.draft import DRAFT_KEYS, FIELD_NAMES, Draft, FieldValue
from workorders.drafter import draft

__all__ = ["DRAFT_KEYS", "FIELD_NAMES", "Draft", "FieldValue", "draft"]
