"""Drafts: list, queue, detail, claim, edit, dispatch, merge, reject, follow-up, recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from console.access import may_open_recording
from console.context import CONSOLE
from console.http import json_body, json_error, ok
from console.remote_recording import from_owner
from console.validate import field_changes, limit_param, status_filter
from storage.accounts import ActiveSession
from storage.workflow import DraftDetail, DraftNotFound, WorkflowConflict, WorkflowInvalid


def _filters(request: web.Request, default_status: str | None) -> dict[str, Any]:
    q = request.query
    return {"status": status_filter(q.get("status"), default_status),
            "category": q.get("category") or None, "district": q.get("district") or None,
            "limit": limit_param(q.get("limit"), 200)}


async def list_drafts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Drafts newest first, with the keys of ``voice-intake drafts --json``."""
    items = await request.app[CONSOLE].workflow.queue(**_filters(request, None),
                                                      newest_first=True)
    return ok([draft for draft, _workflow in items])


async def queue(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The agent queue: urgent first, then oldest; each draft with its review state."""
    items = await request.app[CONSOLE].workflow.queue(**_filters(request, "new"))
    return ok([{"draft": d, "workflow": w} for d, w in items])


def _detail_json(detail: DraftDetail) -> dict[str, Any]:
    return {
        "draft": detail.draft, "workflow": detail.workflow, "transcript": detail.transcript,
        "evidence": detail.evidence, "call": detail.call, "utterances": detail.utterances,
        "audit": [{"at": a.at, "username": a.username, "action": a.action,
                   "before": a.before, "after": a.after} for a in detail.audit],
    }


async def _run(coro: Any) -> Any:
    """Await a workflow call, turning its errors into HTTP errors."""
    try:
        return await coro
    except DraftNotFound as exc:
        raise json_error(404, "draft not found") from exc
    except WorkflowConflict as exc:
        raise json_error(409, str(exc)) from exc
    except WorkflowInvalid as exc:
        raise json_error(400, str(exc)) from exc


async def detail(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """A draft with its transcript (the viewing is audited)."""
    console = request.app[CONSOLE]
    found = await _run(console.workflow.detail(request.match_info["id"]))
    await console.access.record(session, "transcript_view", draft_id=found.draft["id"],
                                call_id=found.call["id"] if found.call else None)
    return ok(_detail_json(found))


async def claim(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.claim(request.match_info["id"], session.account.username)))


async def release(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    flow = request.app[CONSOLE].workflow
    await _run(flow.release(request.match_info["id"], session.account.username))
    return ok({"status": "released"})


async def edit(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"fields": {name: value}}``: correct fields (audited)."""
    changes = field_changes((await json_body(request)).get("fields"))
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.edit(request.match_info["id"], session.account.username, changes)))


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise json_error(400, f"{key} must be a string")
    return value


async def dispatch(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"unit": optional}``: approve and dispatch (default: the suggested unit)."""
    unit = _optional_str(await json_body(request), "unit")
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.dispatch(request.match_info["id"], session.account.username, unit)))


async def merge(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"into": draft_id}``: close as a repeat of an earlier work order."""
    into = _optional_str(await json_body(request), "into")
    if not into:
        raise json_error(400, "into is required")
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.merge(request.match_info["id"], session.account.username, into)))


async def reject(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"reason": "silent"|"prank"|"not_appeal"}``: close as not an appeal."""
    reason = _optional_str(await json_body(request), "reason") or ""
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.reject(request.match_info["id"], session.account.username, reason)))


async def follow_up(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """``{"responded": bool, "resolved": bool, "satisfaction": ...}`` on a work order."""
    body = await json_body(request)
    flags = {k: body.get(k) for k in ("responded", "resolved")}
    if any(v is not None and not isinstance(v, bool) for v in flags.values()):
        raise json_error(400, "responded and resolved must be true, false or null")
    flow = request.app[CONSOLE].workflow
    return ok(await _run(flow.follow_up(
        request.match_info["id"], session.account.username, flags["responded"],
        flags["resolved"], _optional_str(body, "satisfaction"))))


async def recording(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The call's recording (caller side, or ``?side=system``), with Range support. With
    ``console.recording_access = "own"`` an agent opens only the recordings of drafts they
    claimed, reviewed or dispatched (403 otherwise); every opening is audited."""
    console = request.app[CONSOLE]
    draft_id = request.match_info["id"]
    found = await console.workflow.draft(draft_id)
    if found is None:
        raise json_error(404, "draft not found")
    draft, workflow = found
    if not may_open_recording(session, console.settings.console.recording_access, workflow):
        raise json_error(403, "录音仅限认领或处理该工单的坐席收听")
    path = await _run(console.workflow.recording_path(draft_id))
    if not path:
        raise json_error(404, "no recording for this draft")
    file = Path(path)
    side = "system" if request.query.get("side") == "system" else "caller"
    if side == "system":
        file = file.with_suffix(".out.wav")

    async def audit() -> None:
        await console.access.record(session, "recording_view", draft_id=draft_id,
                                    call_id=draft.get("call_id"), side=side)

    if not file.is_file():  # another node's call: streamed from that node (cluster)
        return await from_owner(request, draft_id, side == "system", audit)
    await audit()
    return web.FileResponse(file, headers={"Content-Type": "audio/wav",
                                           "Cache-Control": "private, max-age=3600"})
