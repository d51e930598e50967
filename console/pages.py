"""The HTML pages: a shared layout around each page's markup; data comes from the API.

Templates only receive fixed strings (titles, asset URLs), never stored data, which the
pages' scripts insert as text; so nothing here needs escaping.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

from aiohttp import web

from storage.accounts import ActiveSession

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (("/queue", "queue", "工单队列"), ("/calls", "calls", "实时通话"),
       ("/dashboard", "dashboard", "数据看板"), ("/analytics", "analytics", "热点分析"),
       ("/ivr/editor", "ivr", "语音导航"), ("/learning", "learning", "纠错学习"),
       ("/users", "users", "账号管理"))
ADMIN_NAV = frozenset({"dashboard", "analytics", "ivr", "learning", "users"})
CHART_PAGES = frozenset({"dashboard", "ivr_analytics"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@lru_cache(maxsize=16)
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _asset(request: web.Request, name: str) -> str:
    return str(request.app.router["console_static"].url_for(filename=name))


def _render(request: web.Request, page: str, title: str, admin: bool = False) -> web.Response:
    links = []
    for href, key, label in NAV:
        current = ' aria-current="page"' if page == key or page.startswith(key + "_") else ""
        admin_only = ' class="admin-only"' if key in ADMIN_NAV else ""
        links.append(f'<a href="{href}"{current}{admin_only}>{label}</a>')
    nav = "".join(links)
    html = _template("layout.html").substitute(
        title=title, page=page, nav=nav, main=_template(f"{page}.html").template,
        css=_asset(request, "console.css"), common=_asset(request, "common.js"),
        charts=(f'<script src="{_asset(request, "charts.js")}"></script>'
                if page in CHART_PAGES else ""),
        script=_asset(request, f"{page}.js"),
        body_class="is-admin" if admin else "",
    )
    return web.Response(text=html, content_type="text/html", headers=_headers())


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/queue")


async def login(request: web.Request) -> web.StreamResponse:
    html = _template("login.html").substitute(
        css=_asset(request, "console.css"), script=_asset(request, "login.js"))
    return web.Response(text=html, content_type="text/html", headers=_headers())


async def queue(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "queue", "工单队列", session.account.role == "admin")


async def review(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "review", "工单审核", session.account.role == "admin")


async def calls(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "calls", "实时通话", session.account.role == "admin")


async def dashboard(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "dashboard", "数据看板", True)


async def users(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "users", "账号管理", True)


async def analytics(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "analytics", "热点分析", True)


async def learning(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "learning", "纠错学习", True)
