"""Writes on the call path, tried again when the database or the disk fails for a moment
(a dropped connection, a lock timeout): a call should not lose an utterance or its draft
to one hiccup. Failures are logged by a short label and the error's type only, since a
driver's message quotes the statement's parameters (caller numbers, transcripts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from storage.db import StorageStalled

T = TypeVar("T")
log = logging.getLogger(__name__)


async def with_retries(op: Callable[[], Awaitable[T]], *, attempts: int = 3,
                       delay_s: float = 0.2, what: str) -> T:
    """``op()``, tried up to ``attempts`` times in all while it raises ``SQLAlchemyError``
    or ``OSError``, waiting ``delay_s``, then twice as long, and so on, in between; the
    last error is raised. ``what`` names the write in the log (no personal data).
    ``StorageStalled`` is raised at once: the deadline it missed was the whole budget."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await op()
        except StorageStalled:
            raise
        except (SQLAlchemyError, OSError) as exc:
            if attempt == attempts:
                log.error("%s failed (attempt %d of %d, %s); giving up", what, attempt,
                          attempts, type(exc).__name__)
                raise
            wait = delay_s * 2 ** (attempt - 1)
            log.warning("%s failed (attempt %d of %d, %s); again in %.2f s", what, attempt,
                        attempts, type(exc).__name__, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
