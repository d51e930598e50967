"""Every route of the console in one table: method, path, handler, role, description.

The same table registers the routes and writes ``/api/openapi.json``, so the document
cannot drift from what is served. ``role=None`` marks the few public routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from console import api_admin, api_drafts, api_live, api_reference, api_session, pages
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
    ApiRoute("GET", "/api/ws", "WebSocket: new and changed drafts, call progress", "agent",
             api_live.websocket, tags=("calls",)),
    ApiRoute("GET", "/api/dashboard", "Dashboard figures over the last `hours`", "admin",
             api_admin.dashboard, query=("hours",), tags=("admin",)),
    ApiRoute("GET", "/api/export", "Work orders as CSV or JSON", "admin", api_admin.export,
             query=("format", "status"), response="text/csv", tags=("admin",)),
)

PAGES: tuple[tuple[str, str, SessionHandler], ...] = (
    ("/queue", "agent", pages.queue),
    ("/drafts/{id}", "agent", pages.review),
    ("/calls", "agent", pages.calls),
    ("/dashboard", "admin", pages.dashboard),
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
