"""Calls from browsers and apps: WHIP (RFC 9725) ingest with aiortc, and the citizen's call
page ``/call``. A browser call is driven by the same call machine and runner as a SIP call
(see ``voice_gateway.calls``); this package only routes: HTTP signalling (:mod:`.whip`),
the peer connection as a call transport (:mod:`.transport`), its audio (:mod:`.media`),
admission and the calls in progress (:mod:`.gateway`), and the page (:mod:`.page`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from config import Settings
from voice_gateway.services import Services


def setup(app: web.Application, settings: Settings, services: Callable[[], Services],
          sip_calls: Callable[[], int] = lambda: 0) -> None:
    """Mount /whip and /call on ``app`` (unless ``webrtc.enabled`` is false); the gateway
    opens with the app (after ``services``) and hangs up and drafts its calls on close.
    ``sip_calls`` counts SIP calls in progress, for ``sip.max_calls``."""
    if not settings.webrtc.enabled:
        return
    from voice_gateway.webrtc import page, whip
    from voice_gateway.webrtc.gateway import WebRtcGateway

    async def webrtc_ctx(app: web.Application) -> AsyncIterator[None]:
        gateway = WebRtcGateway(services(), sip_calls)
        app[whip.WEBRTC] = gateway
        gateway.start()
        try:
            yield
        finally:
            await gateway.close()

    app.cleanup_ctx.append(webrtc_ctx)
    whip.add_routes(app)
    page.add_routes(app)
