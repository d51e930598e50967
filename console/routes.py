"""Every route of the console in one table: method, path, handler, role, description.

The same table registers the routes and writes ``/api/openapi.json``, so the document
cannot drift from what is served. ``role=None`` marks the few public routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from console import (
    api_admin,
    api_analytics,
    api_callbacks,
    api_drafts,
    api_ivr,
    api_learning,
    api_live,
    api_prompts,
    api_reference,
    api_session,
    api_users,
    pages,
    pages_ivr,
)
from console.auth import Handler, SessionHandler, api_guard, page_guard

STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    summary: str
    role: str | None
    handler: SessionHandler | None = None
    public: Handler | None = None
    body: dict[str, Any] | None = None  # JSON schema of the request body
    query: tuple[str, ...] = ()
    response: str = "application/json"
    tags: tuple[str, ...] = field(default=("drafts",))


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


_STR, _BOOL = {"type": "string"}, {"type": "boolean"}
_NSTR = {"type": ["string", "null"]}

API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("POST", "/api/login", "Log in; sets the session cookie, returns the CSRF token",
             None, public=api_session.login, body=_obj(username=_STR, password=_STR),
             tags=("session",)),
    ApiRoute("POST", "/api/logout", "Log out", "agent", api_session.logout, tags=("session",)),
    ApiRoute("GET", "/api/me", "The logged-in user, role and CSRF token", "agent",
             api_session.me, tags=("session",)),
    ApiRoute("POST", "/api/password", "Change one's password (ends every other session)",
             "agent", api_users.change_password, body=_obj(current=_STR, new=_STR),
             tags=("session",)),
    ApiRoute("GET", "/api/users", "Accounts, with disabled ones", "admin", api_users.list_users,
             tags=("admin",)),
    ApiRoute("POST", "/api/users", "Add an account", "admin", api_users.add_user,
             body=_obj(username=_STR, password=_STR, role={"enum": ["agent", "admin"]}),
             tags=("admin",)),
    ApiRoute("POST", "/api/users/{name}/disable", "Disable an account (its sessions end)",
             "admin", api_users.disable_user, tags=("admin",)),
    ApiRoute("POST", "/api/users/{name}/enable", "Enable an account", "admin",
             api_users.enable_user, tags=("admin",)),
    ApiRoute("POST", "/api/users/{name}/password",
             "Reset an account's password (its sessions end)", "admin",
             api_users.reset_password, body=_obj(password=_STR), tags=("admin",)),
    ApiRoute("GET", "/api/drafts", "Drafts newest first (keys of `voice-intake drafts --json`)",
             "agent", api_drafts.list_drafts, query=("status", "category", "district", "limit")),
    ApiRoute("GET", "/api/queue", "Agent queue: urgent first, then oldest; with review state",
             "agent", api_drafts.queue, query=("status", "category", "district", "limit")),
    ApiRoute("GET", "/api/drafts/{id}", "Draft, call, timed utterances, evidence, audit trail",
             "agent", api_drafts.detail),
    ApiRoute("PATCH", "/api/drafts/{id}", "Correct fields (claim required; audited)", "agent",
             api_drafts.edit, body=_obj(fields={"type": "object"})),
    ApiRoute("POST", "/api/drafts/{id}/claim", "Claim (lock) a draft for review", "agent",
             api_drafts.claim),
    ApiRoute("POST", "/api/drafts/{id}/release", "Release one's claim", "agent",
             api_drafts.release),
    ApiRoute("POST", "/api/drafts/{id}/dispatch", "Approve and dispatch to a unit", "agent",
             api_drafts.dispatch, body=_obj(unit=_NSTR)),
    ApiRoute("POST", "/api/drafts/{id}/merge", "Merge into an earlier work order", "agent",
             api_drafts.merge, body=_obj(into=_STR)),
    ApiRoute("POST", "/api/drafts/{id}/reject", "Reject as not an appeal", "agent",
             api_drafts.reject,
             body=_obj(reason={"enum": ["silent", "prank", "not_appeal"]})),
    ApiRoute("POST", "/api/drafts/{id}/follow-up",
             "Record response, resolution and satisfaction of a work order", "agent",
             api_drafts.follow_up,
             body=_obj(responded=_BOOL, resolved=_BOOL,
                       satisfaction={"enum": ["satisfied", "basic", "dissatisfied"]})),
    ApiRoute("GET", "/api/drafts/{id}/recording", "The call's recording (Range supported)",
             "agent", api_drafts.recording, query=("side",), response="audio/wav"),
    ApiRoute("GET", "/api/options", "Categories, districts, streets, units, statuses", "agent",
             api_reference.options, tags=("reference",)),
    ApiRoute("GET", "/api/calls/live", "Calls in progress with transcript and IVR node",
             "agent", api_live.live_calls, tags=("calls",)),
    ApiRoute("GET", "/api/calls/{id}/transcript",
             "Open a live call's transcript (audited); then its utterances in full on the "
             "websocket", "agent", api_live.call_transcript, tags=("calls",)),
    ApiRoute("GET", "/api/ws", "WebSocket: new and changed drafts, call progress", "agent",
             api_live.websocket, tags=("calls",)),
    ApiRoute("GET", "/api/dashboard", "Dashboard figures over the last `hours`", "admin",
             api_admin.dashboard, query=("hours",), tags=("admin",)),
    ApiRoute("GET", "/api/audit/access",
             "Who opened which recording or transcript, and when (newest first)", "admin",
             api_admin.access_audit, query=("user", "draft", "call", "limit"),
             tags=("admin",)),
    # 回访 callbacks (issue 19): the queue for admins, an order's result for agents.
    ApiRoute("GET", "/api/callbacks", "Callback queue, next due first (no numbers)", "admin",
             api_callbacks.list_callbacks, query=("status", "limit"), tags=("callbacks",)),
    ApiRoute("GET", "/api/callbacks/stats",
             "Callbacks reached, refused, unreachable, queued; attempts made", "admin",
             api_callbacks.stats, tags=("callbacks",)),
    ApiRoute("POST", "/api/callbacks/{id}/retry", "Queue a callback again, due now", "admin",
             api_callbacks.retry, tags=("callbacks",)),
    ApiRoute("POST", "/api/callbacks/{id}/cancel", "Stop a queued callback", "admin",
             api_callbacks.cancel, tags=("callbacks",)),
    ApiRoute("GET", "/api/drafts/{id}/callback",
             "The order's callback: status, answers, attempt log, recording link", "agent",
             api_callbacks.draft_callback, tags=("callbacks",)),
    ApiRoute("GET", "/api/drafts/{id}/callback/recording", "The callback's recording",
             "agent", api_callbacks.callback_recording, response="audio/wav",
             tags=("callbacks",)),
    ApiRoute("GET", "/api/export", "Work orders as CSV or JSON", "admin", api_admin.export,
             query=("format", "status"), response="text/csv", tags=("admin",)),
    # IVR menus (issue 6): versions, live validation, simulator, analytics, prompt audio.
    ApiRoute("GET", "/api/ivr/menus/{id}", "Menu slot: working menu, versions, audit", "admin",
             api_ivr.menu_overview, tags=("ivr",)),
    ApiRoute("GET", "/api/ivr/menus/{id}/versions/{version}", "One stored version with its JSON",
             "admin", api_ivr.get_version, tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/validate",
             "Validate menu JSON text; each error names its node (nothing is stored)", "admin",
             api_ivr.validate_menu, body=_obj(text=_STR), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/menus/{id}/drafts",
             "Save menu JSON text as a new draft version (422 when it does not parse)", "admin",
             api_ivr.save_draft, body=_obj(text=_STR, comment=_NSTR), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/menus/{id}/versions/{version}/publish",
             "Publish a draft (422 with the validation errors, each naming its node)", "admin",
             api_ivr.publish, body=_obj(comment=_NSTR), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/menus/{id}/versions/{version}/rollback",
             "Publish an earlier (retired) version again", "admin", api_ivr.rollback,
             body=_obj(comment=_NSTR), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/simulate",
             "Run menu text (or a stored version) with scripted keys and speech; the path",
             "admin", api_ivr.simulate_menu,
             body=_obj(text=_STR, menu_id=_STR, version={"type": "integer"},
                       inputs={"type": "array", "items": _STR}, at=_NSTR, caller=_NSTR),
             tags=("ivr",)),
    ApiRoute("GET", "/api/ivr/analytics",
             "Per-node entries, exits by key, timeouts, invalid inputs, hang-ups, time in node",
             "admin", api_ivr.ivr_analytics, query=("from", "to", "menu", "version"),
             tags=("ivr",)),
    ApiRoute("GET", "/api/ivr/menus/{id}/prompts", "The menu's prompts and which lack audio",
             "admin", api_prompts.list_prompts, query=("version",), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/menus/{id}/prompts/render",
             "Render the prompts without audio with the offline TTS command", "admin",
             api_prompts.render_prompts, query=("version",), tags=("ivr",)),
    ApiRoute("POST", "/api/ivr/prompts/{prompt}/audio",
             "Upload prompt audio (multipart field `file`; WAV, MP3, M4A, OGG)", "admin",
             api_prompts.upload_prompt, query=("menu",), tags=("ivr",)),
    ApiRoute("GET", "/api/ivr/prompts/{prompt}/audio", "A prompt's audio (16-bit PCM WAV)",
             "admin", api_prompts.prompt_audio, response="audio/wav", tags=("ivr",)),
    # Analytics (issue 20): 每月一题, 未诉先办 alerts, hot spots, the monthly report.
    ApiRoute("GET", "/api/analytics/topics",
             "每月一题: the month's candidate topics, best first, and the one marked", "admin",
             api_analytics.topics, query=("month",), tags=("analytics",)),
    ApiRoute("POST", "/api/analytics/topics",
             "Mark a candidate as the month's topic; its orders are tagged", "admin",
             api_analytics.mark_topic, body=_obj(month=_STR, key=_STR), tags=("analytics",)),
    ApiRoute("GET", "/api/analytics/alerts", "未诉先办 spike alerts, newest first", "admin",
             api_analytics.alerts, query=("limit",), tags=("analytics",)),
    ApiRoute("POST", "/api/analytics/alerts/check", "Check for spikes now", "admin",
             api_analytics.check_alerts, tags=("analytics",)),
    ApiRoute("GET", "/api/analytics/hotspots",
             "Streets with the most escalated repeat-complaint orders, per week", "admin",
             api_analytics.hotspots, query=("weeks",), tags=("analytics",)),
    ApiRoute("GET", "/api/analytics/report",
             "Monthly report: rates per district, top topics, alerts, callbacks", "admin",
             api_analytics.report, query=("month", "format"), tags=("analytics",)),
    # The learning loop (issue 15 item 6): aliases proposed from agents' corrections.
    ApiRoute("GET", "/api/learning/proposals",
             "Aliases proposed from recurring corrections, with counts and example calls",
             "admin", api_learning.proposals, query=("status",), tags=("learning",)),
    ApiRoute("POST", "/api/learning/proposals/{id}/approve",
             "Approve an alias: the next drafts of every node use it", "admin",
             api_learning.approve, tags=("learning",)),
    ApiRoute("POST", "/api/learning/proposals/{id}/reject", "Reject (or withdraw) an alias",
             "admin", api_learning.reject, tags=("learning",)),
)

PAGES: tuple[tuple[str, str, SessionHandler], ...] = (
    ("/queue", "agent", pages.queue),
    ("/drafts/{id}", "agent", pages.review),
    ("/calls", "agent", pages.calls),
    ("/dashboard", "admin", pages.dashboard),
    ("/users", "admin", pages.users),
    ("/ivr/editor", "admin", pages_ivr.editor),
    ("/ivr/prompts", "admin", pages_ivr.prompts),
    ("/ivr/simulator", "admin", pages_ivr.simulator),
    ("/ivr/analytics", "admin", pages_ivr.analytics),
    ("/analytics", "admin", pages.analytics),
    ("/learning", "admin", pages.learning),
)


def add_routes(app: web.Application) -> None:
    from console.openapi import openapi

    for r in API_ROUTES:
        handler = r.public if r.role is None else api_guard(r.handler, r.role)  # type: ignore[arg-type]
        assert handler is not None
        app.router.add_route(r.method, r.path, handler)
    app.router.add_get("/api/openapi.json", openapi)
    for path, role, page in PAGES:
        app.router.add_get(path, page_guard(page, role))
    app.router.add_get("/login", pages.login)
    app.router.add_get("/", pages.home)
    app.router.add_static("/static/", STATIC, name="console_static", append_version=True)
