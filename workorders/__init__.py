"""Layer 1: transcript → work-order draft (pure; no I/O besides the shipped data).

Public entry points:

- :func:`draft` — transcript, caller ID, time → :class:`Draft`.
- :func:`link_repeats` with :class:`PriorOrder` — link a draft to earlier orders.
- :func:`workorders.jsonl.run` — the ``voice-intake draft`` JSON-lines loop.
"""

from workorders.draft import DRAFT_KEYS, FIELD_NAMES, Draft, FieldValue
from workorders.drafter import draft
from workorders.nbest import UtteranceAlternatives, utterance_alternatives
from workorders.repeats import PriorOrder, link_repeats

__all__ = [
    "DRAFT_KEYS",
    "FIELD_NAMES",
    "Draft",
    "FieldValue",
    "PriorOrder",
    "UtteranceAlternatives",
    "draft",
    "link_repeats",
    "utterance_alternatives",
]
