"""Personal data fit for logs."""

from __future__ import annotations


def mask_number(number: str | None) -> str:
    """A phone number fit for logs: only the last two digits are kept."""
    if not number:
        return "-"
    return "*" * max(0, len(number) - 2) + number[-2:]
