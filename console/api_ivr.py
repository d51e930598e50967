"""Admin: IVR menus. The JSON editor's live validation, drafts, publish, rollback, versions
and audit; the simulator; per-node analytics from the IVR events of real calls.

A menu slot (``{id}``, ``default`` for the menu calls start with) has versions in
:class:`storage.MenuVersions`. Before anything is stored the editor works on the configured
menu file, so the page always has something to start from.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from console.context import CONSOLE, SIMULATOR
from console.http import json_error, ok, parse_json, read_capped
from ivr import analytics, load_menu
from ivr.errors import MenuFormatError, ValidationError
from ivr.serialize import menu_to_data
from storage import MenuVersions
from storage.accounts import ActiveSession
from storage.menus import (
    DEFAULT_MENU_ID,
    MenuConflict,
    MenuInvalid,
    MenuVersion,
    MenuVersionNotFound,
    check_menu,
)

MAX_MENU_BODY = 512 * 1024
MAX_INPUTS = 100
MAX_COMMENT = 500
TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # the hotline's day, for date filters
_MENU_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_POSITION = re.compile(r"line (\d+) column (\d+)")


def menus_of(request: web.Request) -> MenuVersions:
    return MenuVersions(request.app[CONSOLE].store.engine)


def menu_id_of(request: web.Request) -> str:
    menu_id = request.match_info["id"]
    if not _MENU_ID.match(menu_id):
        raise json_error(400, "menu id must be letters, digits, _ . - (at most 64)")
    return menu_id


def version_of(request: web.Request) -> int:
    try:
        return int(request.match_info["version"])
    except ValueError as exc:
        raise json_error(400, "version must be an integer") from exc


async def menu_body(request: web.Request) -> dict[str, Any]:
    """The JSON object of a menu request (menus are larger than other bodies)."""
    if request.content_type != "application/json":
        raise json_error(415, "expected application/json")
    data = parse_json(await read_capped(request, MAX_MENU_BODY))  # 413, 400 (bad or deep)
    if not isinstance(data, dict):
        raise json_error(400, "body must be a JSON object")
    return data


def errors_json(errors: list[ValidationError]) -> list[dict[str, Any]]:
    """Problems for the editor: the node each names, and a text position for syntax errors."""
    out = []
    for e in errors:
        item: dict[str, Any] = {"node": e.node, "code": e.code, "message": e.message,
                                "text": str(e)}
        if e.code == "syntax" and (m := _POSITION.search(e.message)):
            item.update(line=int(m.group(1)), column=int(m.group(2)))
        out.append(item)
    return out


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise json_error(400, "text must be the menu as JSON text")
    return text


def _comment(body: dict[str, Any]) -> str | None:
    comment = body.get("comment")
    if comment is None:
        return None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise json_error(400, f"comment must be text of at most {MAX_COMMENT} characters")
    return comment.strip() or None


async def working_menu(request: web.Request, menu_id: str) -> dict[str, Any]:
    """What the editor opens: the newest stored version of the slot, else the configured
    menu file (for ``default``) or the shipped default menu."""
    versions = await menus_of(request).versions(menu_id)
    if versions:
        v = versions[0]
        return {"source": v.status, "version": v.version, "data": v.data}
    settings = request.app[CONSOLE].settings
    source = settings.ivr.menu if menu_id == DEFAULT_MENU_ID else "default"
    try:
        data = menu_to_data(load_menu(source))
    except MenuFormatError:
        data = menu_to_data(load_menu("default"))
    return {"source": "file", "version": None, "data": data}


# --------------------------------------------------------------------------- handlers


async def menu_overview(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The editor's start: the working menu, every version (newest first) and the audit."""
    menu_id = menu_id_of(request)
    menus = menus_of(request)
    versions = await menus.versions(menu_id)
    published = next((v.version for v in versions if v.status == "published"), None)
    return ok({"menu_id": menu_id, "published_version": published,
               "working": await working_menu(request, menu_id),
               "versions": [v.as_json(with_data=False) for v in versions],
               "audit": [a.as_json() for a in await menus.audit(menu_id)]})


async def get_version(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    try:
        v = await menus_of(request).get(menu_id_of(request), version_of(request))
    except MenuVersionNotFound as exc:
        raise json_error(404, str(exc)) from exc
    return ok(v.as_json())


async def validate_menu(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Live validation as the admin types: syntax, schema, then graph and node checks."""
    text = _text(await menu_body(request))
    try:
        menu, problems = check_menu(text)
    except MenuInvalid as exc:
        stage = "syntax" if any(e.code == "syntax" for e in exc.errors) else "schema"
        return ok({"valid": False, "stage": stage, "errors": errors_json(exc.errors),
                   "menu": None})
    return ok({"valid": not problems, "stage": "graph" if problems else "ok",
               "errors": errors_json(problems),
               "menu": {"id": menu.id, "name": menu.name, "start": menu.start,
                        "nodes": list(menu.nodes)}})


def _version_json(v: MenuVersion) -> dict[str, Any]:
    return v.as_json(with_data=False)


async def save_draft(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    body = await menu_body(request)
    try:
        saved = await menus_of(request).save_draft(
            menu_id_of(request), _text(body), session.account.username, _comment(body))
    except MenuInvalid as exc:
        raise json_error(422, "菜单无法保存：格式有误", errors=errors_json(exc.errors)) from exc
    return ok({"version": _version_json(saved.version),
               "problems": errors_json(saved.problems)}, status=201)


async def _make_current(request: web.Request, session: ActiveSession,
                        rollback: bool) -> web.StreamResponse:
    body = await menu_body(request) if request.can_read_body else {}
    menus = menus_of(request)
    change = menus.rollback if rollback else menus.publish
    try:
        v = await change(menu_id_of(request), version_of(request), session.account.username,
                         _comment(body))
    except MenuVersionNotFound as exc:
        raise json_error(404, str(exc)) from exc
    except MenuConflict as exc:
        raise json_error(409, str(exc)) from exc
    except MenuInvalid as exc:
        raise json_error(422, "菜单未通过校验，不能发布", errors=errors_json(exc.errors)) from exc
    return ok({"version": _version_json(v)})


async def publish(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Publish a draft; refused (422, each error naming its node) if it fails validation."""
    return await _make_current(request, session, rollback=False)


async def rollback(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Publish an earlier (retired) version again."""
    return await _make_current(request, session, rollback=True)


async def simulate_menu(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Run the editor's menu (``text``) or a stored version with scripted inputs."""
    body = await menu_body(request)
    inputs = body.get("inputs", [])
    if (not isinstance(inputs, list) or len(inputs) > MAX_INPUTS
            or not all(isinstance(i, str) and len(i) <= 200 for i in inputs)):
        raise json_error(400, f"inputs must be a list of at most {MAX_INPUTS} short texts")
    if "text" in body:
        source: str | dict[str, Any] = _text(body)
    else:
        try:
            version = int(body.get("version", 0))
            source = (await menus_of(request).get(str(body.get("menu_id", DEFAULT_MENU_ID)),
                                                  version)).data
        except (TypeError, ValueError) as exc:
            raise json_error(400, "give text, or menu_id and version") from exc
        except MenuVersionNotFound as exc:
            raise json_error(404, str(exc)) from exc
    caller = body.get("caller", "13800138000")
    if caller is not None and (not isinstance(caller, str) or not caller.isdigit()):
        raise json_error(400, "caller must be digits or null")
    when = _instant(body.get("at"))
    try:
        menu, problems = check_menu(source)
    except MenuInvalid as exc:
        raise json_error(422, "菜单格式有误", errors=errors_json(exc.errors)) from exc
    if problems:
        raise json_error(422, "菜单未通过校验", errors=errors_json(problems))
    path = request.app[SIMULATOR](menu, inputs, when, caller)
    return ok({"menu": {"id": menu.id, "version": menu.version}, "at": when.isoformat(),
               "path": path})


def _instant(raw: Any) -> datetime:
    if raw in (None, ""):
        return datetime.now(TIMEZONE)
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise json_error(400, "at must be an ISO date and time") from exc
    return when if when.tzinfo else when.replace(tzinfo=TIMEZONE)


def _day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise json_error(400, "dates must be YYYY-MM-DD") from exc


async def ivr_analytics(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Per-node figures from the stored IVR events of real calls, grouped by call.

    ``from``/``to``: days (YYYY-MM-DD, Beijing time, both included; default the last 7);
    ``menu``: the menu's id; ``version``: a version number, ``file`` (calls that walked a
    menu file, not a stored version), or empty for all."""
    q = request.query
    today = datetime.now(TIMEZONE).date()
    first = _day(q.get("from"), today - timedelta(days=6))
    last = _day(q.get("to"), today)
    if last < first:
        raise json_error(400, "to is before from")
    since = datetime.combine(first, time(), TIMEZONE)
    until = datetime.combine(last + timedelta(days=1), time(), TIMEZONE)
    wanted = q.get("version", "")
    if wanted not in ("", "file") and not wanted.isdigit():
        raise json_error(400, "version must be a number, file, or empty")
    logs = await menus_of(request).ivr_logs(since, until, q.get("menu") or None)
    seen: dict[tuple[str | None, int | None], int] = {}
    for c in logs:
        seen[(c.menu, c.menu_version)] = seen.get((c.menu, c.menu_version), 0) + 1
    if wanted == "file":
        logs = [c for c in logs if c.menu_version is None]
    elif wanted:
        logs = [c for c in logs if c.menu_version == int(wanted)]
    stats = analytics(c.actions for c in logs)
    order = sorted(stats, key=lambda n: -stats[n].entries)
    return ok({
        "from": first.isoformat(), "to": last.isoformat(), "calls": len(logs),
        "versions": [{"menu": m, "menu_version": v, "calls": n}
                     for (m, v), n in sorted(seen.items(), key=lambda kv: (
                         str(kv[0][0]), -1 if kv[0][1] is None else kv[0][1]))],
        "nodes": [{"node": n, **stats[n].as_dict()} for n in order],
    })
