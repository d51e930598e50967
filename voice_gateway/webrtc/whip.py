"""WHIP (RFC 9725) over aiohttp: ``POST /whip`` starts a call, ``DELETE`` on its Location
ends it. Public (no login), rate-limited per address, CORS-limited to ``webrtc.
allowed_origins`` and the service's own origin.

- ``POST /whip`` with ``application/sdp``: ``201 Created``, ``Location``, the SDP answer
  (every candidate in it: no trickle), ``Link`` headers for the ICE servers (§4.6).
  415 for another content type, 413 past 64 KiB, 400 for an offer that is not SDP, 422 for
  one we cannot take (no audio, video, no common codec), 429 past the per-address rate,
  503 + Retry-After when admission or storage refuses (as a SIP INVITE would be).
- ``DELETE /whip/{id}``: 200, the caller hung up (the call is drafted); 404 if unknown.
- ``PATCH /whip/{id}``: 405 (trickle ICE and ICE restarts are not supported: the answer
  carries every candidate); ``OPTIONS``: CORS preflight.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from aiohttp import web

from voice_gateway.webrtc.gateway import (
    MAX_OFFER_BYTES,
    OfferError,
    WebRtcGateway,
    is_turn,
    origin_of,
    turn_credentials,
)
from voice_gateway.webrtc.transport import Answered

WEBRTC = web.AppKey("webrtc", WebRtcGateway)
SDP = "application/sdp"
ALLOW_RESOURCE = "DELETE, PATCH, OPTIONS"
ALLOW_ENDPOINT = "POST, OPTIONS"
EXPOSED = "Location, Link, ETag, Retry-After, Accept-Patch"


def allowed_origin(request: web.Request) -> str | None:
    """The request's Origin if it may call us ("" when there is none: not a browser's
    request); None if it is refused. Our own pages are those of the host the request was
    sent to, whatever the scheme (a TLS proxy in front speaks http to us)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return ""
    if urlsplit(origin).netloc.lower() == request.host.lower():
        return origin
    allowed = {origin_of(o) for o in request.app[WEBRTC].settings.allowed_origins}
    return origin if origin.lower() in allowed else None


def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        response.headers["Vary"] = "Origin"
    return response


def _error(request: web.Request, status: int, message: str, *,
           retry_after: int | None = None, allow: str | None = None) -> web.Response:
    response = web.Response(status=status, text=message + "\n")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if allow is not None:
        response.headers["Allow"] = allow
    _cors(request, response)
    return response


def _gateway(request: web.Request) -> WebRtcGateway:
    return request.app[WEBRTC]


def _host(request: web.Request) -> str:
    return request.remote or "unknown"


async def preflight(request: web.Request) -> web.StreamResponse:
    resource = "id" in request.match_info
    methods = ALLOW_RESOURCE if resource else ALLOW_ENDPOINT
    if allowed_origin(request) is None:
        return web.Response(status=403, text="origin not allowed\n")
    response = web.Response(status=204, headers={"Allow": methods})
    if not resource:
        response.headers["Accept-Post"] = SDP
    if request.headers.get("Origin"):
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = (
            "Content-Type, If-Match, Authorization")
        response.headers["Access-Control-Max-Age"] = "600"
    return _cors(request, response)


async def post_offer(request: web.Request) -> web.StreamResponse:
    if allowed_origin(request) is None:
        return web.Response(status=403, text="origin not allowed\n")
    if request.content_type != SDP:
        return _error(request, 415, f"the offer must be {SDP}")
    gateway = _gateway(request)
    if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
        return _error(request, 413, "offer too large")
    body = bytearray()
    while chunk := await request.content.read(16 * 1024):  # a body may come in pieces
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            return _error(request, 413, "offer too large")
    try:
        sdp = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return _error(request, 400, "the offer is not UTF-8 text")
    host = _host(request)
    decision = gateway.admit(host)
    if not decision.allowed:
        return _error(request, decision.status, decision.reason,
                      retry_after=decision.retry_after)
    try:
        transport = await gateway.offer(sdp, host)
    except OfferError as exc:
        return _error(request, exc.status, str(exc))
    try:
        outcome = await transport.outcome
    except BaseException:  # the client went away before the answer: so does the call
        gateway.hang_up(transport.session_id)
        raise
    if not isinstance(outcome, Answered):
        return _error(request, outcome.status, "call refused",
                      retry_after=outcome.retry_after)
    location = str(request.app.router["whip_session"].url_for(id=transport.session_id))
    response = web.Response(status=201, text=outcome.sdp, content_type=SDP)
    response.headers["Location"] = location
    response.headers["ETag"] = f'"{transport.session_id}"'
    for link in ice_links(gateway):
        response.headers.add("Link", link)
    return _cors(request, response)


def ice_links(gateway: WebRtcGateway) -> list[str]:
    """RFC 9725 §4.6: the ICE servers as Link headers, TURN ones with credentials."""
    s = gateway.settings
    credentials = turn_credentials(s, time.time())
    links = []
    for url in s.ice_servers:
        link = f'<{url}>; rel="ice-server"'
        if is_turn(url) and credentials is not None:
            link += f'; username="{credentials[0]}"; credential="{credentials[1]}"'
            link += '; credential-type="password"'
        links.append(link)
    return links


async def delete_session(request: web.Request) -> web.StreamResponse:
    if allowed_origin(request) is None:
        return web.Response(status=403, text="origin not allowed\n")
    if not _gateway(request).hang_up(request.match_info["id"]):
        return _error(request, 404, "no such session")
    return _cors(request, web.Response(status=200, text="call ended\n"))


async def patch_session(request: web.Request) -> web.StreamResponse:
    if allowed_origin(request) is None:
        return web.Response(status=403, text="origin not allowed\n")
    if request.match_info["id"] not in _gateway(request).calls:
        return _error(request, 404, "no such session")
    return _error(request, 405, "trickle ICE and ICE restarts are not supported",
                  allow="DELETE, OPTIONS")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/whip", post_offer)
    app.router.add_route("OPTIONS", "/whip", preflight)
    resource = app.router.add_resource("/whip/{id}", name="whip_session")
    resource.add_route("DELETE", delete_session)
    resource.add_route("PATCH", patch_session)
    resource.add_route("OPTIONS", preflight)
