"""The learning loop for admins: aliases proposed from agents' corrections, with counts and
example calls, approved or rejected. An approved alias takes effect on the next draft of
every node, without a restart (storage/learning.py)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from console.context import CONSOLE
from console.http import json_error, ok
from storage.accounts import ActiveSession
from storage.learning import DECISIONS, ProposalNotFound
from workorders.knowledge import knowledge

_STATUSES = ("proposed", *DECISIONS)


async def proposals(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``?status=proposed`` (default), ``approved``, ``rejected`` or ``all``."""
    console = request.app[CONSOLE]
    status = request.query.get("status") or "proposed"
    if status != "all" and status not in _STATUSES:
        raise json_error(400, f"status must be one of {', '.join(_STATUSES)} or all")
    min_count = console.settings.drafting.learn_min_count
    data = await asyncio.to_thread(knowledge, console.settings.drafting)
    found = await console.store.learning.proposals(
        min_count, None if status == "all" else status, data)
    return ok({"min_count": min_count, "proposals": [p.to_json() for p in found]})


async def _decide(request: web.Request, session: ActiveSession,
                  status: str) -> web.StreamResponse:
    console = request.app[CONSOLE]
    try:
        decided = await console.store.learning.decide(
            request.match_info["id"], status, session.account.username,
            console.settings.drafting.learn_min_count)
    except ProposalNotFound as exc:
        raise json_error(404, "proposal not found") from exc
    return ok(decided.to_json())


async def approve(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return await _decide(request, session, "approved")


async def reject(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return await _decide(request, session, "rejected")
