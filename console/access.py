"""The access audit of recordings and transcripts, and who may open a recording.

Each opening is written to the access log (:mod:`storage.access_log`): who, when, which
draft and call. A browser fetching a recording in ranges, or a review page reloading a
draft, is one opening: the same user, action and draft within ``DEDUPE_S`` is written once.

``console.recording_access = "own"`` limits agents to the recordings of drafts they have
claimed (a live claim), reviewed or dispatched; admins may open every recording.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from storage.access_log import AccessLog
from storage.accounts import ActiveSession

log = logging.getLogger(__name__)

DEDUPE_S = 600.0
_MAX_REMEMBERED = 10_000


class AccessAudit:
    def __init__(self, access_log: AccessLog,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = access_log
        self._clock = clock
        self._seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    async def record(self, session: ActiveSession, action: str, *, draft_id: str | None,
                     call_id: str | None, **detail: Any) -> None:
        user = session.account.username
        key = (user, action, draft_id, call_id, tuple(sorted(detail.items())))
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last < DEDUPE_S:
            return
        await self.log.record(user, action, draft_id=draft_id, call_id=call_id, **detail)
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > _MAX_REMEMBERED:
            self._seen.popitem(last=False)
        log.info("access: %s of call %s by user id %d", action, call_id, session.account.id)


def may_open_recording(session: ActiveSession, policy: str, workflow: dict[str, Any]) -> bool:
    """Whether the session's user may open the recording of a draft in this review state."""
    if policy == "all" or session.account.role == "admin":
        return True
    user = session.account.username
    return user in (workflow.get("claimed_by"), workflow.get("reviewed_by"))
