"""回访 callbacks: the admins' queue (retry, cancel, statistics) and, for agents, an
order's callback result with its recording. Numbers never leave the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from console.access import may_open_recording
from console.context import CONSOLE, Console
from console.http import json_error, ok
from storage.accounts import ActiveSession
from storage.callbacks import STATUSES, CallbackStore


def _callbacks(console: Console) -> CallbackStore:
    return CallbackStore(console.store.engine, console.store.bus)


async def list_callbacks(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The queue, next due first; ``?status=`` one of the statuses."""
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise json_error(400, f"status must be one of {', '.join(STATUSES)}")
    try:
        limit = max(1, min(int(request.query.get("limit", "200")), 1000))
    except ValueError as exc:
        raise json_error(400, "limit must be an integer") from exc
    return ok(await _callbacks(request.app[CONSOLE]).list(status, limit))


async def stats(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Reached, refused, unreachable, queued, and attempts made (beside 解决率 and 满意率)."""
    return ok(await _callbacks(request.app[CONSOLE]).stats())


async def _change(request: web.Request, action: str) -> web.StreamResponse:
    store = _callbacks(request.app[CONSOLE])
    cid = request.match_info["id"]
    if await store.get(cid) is None:
        raise json_error(404, "callback not found")
    now = datetime.now(UTC)
    done = await (store.retry(cid, now) if action == "retry" else store.cancel(cid, now))
    if not done:
        raise json_error(409, f"this callback cannot be {action}ed now")
    return ok(await store.get(cid))


async def retry(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Queue a callback again, due now."""
    return await _change(request, "retry")


async def cancel(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Stop a queued callback."""
    return await _change(request, "cancel")


async def draft_callback(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The order's callback (status, answers, attempt log, recording link) or null."""
    draft_id = request.match_info["id"]
    row = await _callbacks(request.app[CONSOLE]).for_draft(draft_id)
    if row is not None and row.get("call_id"):
        row["recording"] = f"/api/drafts/{draft_id}/callback/recording"
    return ok(row)


async def callback_recording(request: web.Request,
                             session: ActiveSession) -> web.StreamResponse:  # fmt: skip
    """The answered callback's recording (audited; the same access rule as the order's
    own recording)."""
    console = request.app[CONSOLE]
    draft_id = request.match_info["id"]
    found = await console.workflow.draft(draft_id)
    if found is None:
        raise json_error(404, "draft not found")
    _draft, workflow = found
    if not may_open_recording(session, console.settings.console.recording_access, workflow):
        raise json_error(403, "录音仅限认领或处理该工单的坐席收听")
    row = await _callbacks(console).for_draft(draft_id)
    call_id = row.get("call_id") if row is not None else None
    call = await console.store.get_call(str(call_id)) if call_id else None
    path = Path(call.recording_path) if call is not None and call.recording_path else None
    if call is None or path is None or not await asyncio.to_thread(path.is_file):
        raise json_error(404, "no callback recording for this order")
    await console.access.record(session, "recording_view", draft_id=draft_id,
                                call_id=call.id, side="callback")  # fmt: skip
    return web.FileResponse(path, headers={
        "Content-Type": "audio/wav", "Cache-Control": "private, max-age=3600"})
