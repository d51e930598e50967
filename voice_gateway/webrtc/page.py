"""The citizen's call page, ``/call``: public, no login, everything served from here (no
CDN). The page (``static/call.html``, ``call.js``, ``call.css``) places a WHIP call from
the browser's microphone, with an on-screen keypad (the ``dtmf`` data channel), captions
(the ``captions`` channel), a timer and hang-up. Loads are rate-limited per address; the
page may be framed by ``webrtc.allowed_origins`` (a city portal), which must grant the
frame the microphone (``<iframe allow="microphone">``).
"""

from __future__ import annotations

import functools
import html
import json
import time
from pathlib import Path

from aiohttp import web

from voice_gateway.webrtc.gateway import is_turn, origin_of, turn_credentials
from voice_gateway.webrtc.whip import WEBRTC

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self' blob: mediastream:; object-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'self'{ancestors}")


def page_config(request: web.Request) -> dict[str, object]:
    """What the page needs before it offers: the ICE servers (its candidates are all in
    the offer, so it cannot learn them from the answer's Link headers)."""
    s = request.app[WEBRTC].settings
    credentials = turn_credentials(s, time.time())
    servers: list[dict[str, object]] = []
    for url in s.ice_servers:
        server: dict[str, object] = {"urls": url}
        if is_turn(url) and credentials is not None:
            server.update(username=credentials[0], credential=credentials[1])
        servers.append(server)
    return {"whip": "/whip", "iceServers": servers}


@functools.cache
def _template() -> str:
    """The page, read once, with its assets' version (for caches) filled in."""
    version = int(max(p.stat().st_mtime for p in STATIC.iterdir()))
    return (STATIC / "call.html").read_text("utf-8").replace("{{v}}", str(version))


async def call_page(request: web.Request) -> web.StreamResponse:
    gateway = request.app[WEBRTC]
    if not gateway.admit_page(request.remote or "unknown"):
        return web.Response(status=429, text="请求过于频繁，请稍后再试。\n",
                            headers={"Retry-After": "10"})
    config = html.escape(json.dumps(page_config(request)), quote=False)
    text = _template().replace("{{config}}", config)
    ancestors = "".join(" " + origin_of(o) for o in gateway.settings.allowed_origins)
    allow = " ".join(['self'] + [f'"{origin_of(o)}"' for o in gateway.settings.allowed_origins])
    headers = {"Content-Security-Policy": CSP.format(ancestors=ancestors),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
               "Cache-Control": "no-store", "Permissions-Policy": f"microphone=({allow})"}
    return web.Response(text=text, content_type="text/html", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/call", call_page)
    app.router.add_static("/call/static/", STATIC, name="call_static")
