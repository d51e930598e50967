"""A recording held by another node of the cluster, streamed from that node.

Each node writes its calls' recordings on its own disk. When the console on node A is asked
for a recording of a call node B took (``calls.node_id``), it GETs it from B's
``/internal/recordings/{call_id}`` at B's internal URL (from B's heartbeat row in the
shared database), with ``Authorization: Bearer <cluster.secret>``, passing the agent's
Range on, and streams the answer back. With ``cluster.shared_recordings_dir`` every node
reads the file itself and this is never needed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from console.context import CONSOLE
from console.http import json_error
from storage.nodes import Nodes

log = logging.getLogger(__name__)

FETCH_TIMEOUT = ClientTimeout(total=60, sock_connect=5)
PASSED_ON = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges",
             "Last-Modified", "ETag")


async def from_owner(request: web.Request, draft_id: str, system_side: bool,
                     before_sending: Callable[[], Awaitable[None]] | None = None,
                     ) -> web.StreamResponse:
    """Stream the draft's recording from the node that holds it; 404 when no other node
    does (or no cluster secret is set), 502 when that node does not answer.
    ``before_sending`` (the access log) is awaited once the node has the recording."""
    console = request.app[CONSOLE]
    settings = console.settings
    owner = await Nodes(console.store.engine).recording_owner(draft_id)
    if (owner is None or not owner.node_id or owner.node_id == settings.node_id
            or not owner.internal_url or not settings.cluster.secret):
        raise json_error(404, "recording file missing")
    url = f"{owner.internal_url.rstrip('/')}/internal/recordings/{owner.call_id}"
    headers = {"Authorization": f"Bearer {settings.cluster.secret}"}
    if "Range" in request.headers:
        headers["Range"] = request.headers["Range"]
    params = {"side": "system"} if system_side else {}
    try:
        async with ClientSession(timeout=FETCH_TIMEOUT) as http, \
                http.get(url, headers=headers, params=params) as upstream:
            if upstream.status == 404:
                raise json_error(404, "recording file missing on its node")
            if upstream.status not in (200, 206):
                log.warning("recording from node %s: HTTP %d", owner.node_id, upstream.status)
                raise json_error(502, "the node holding the recording refused it")
            if before_sending is not None:
                await before_sending()
            out = web.StreamResponse(status=upstream.status, headers={
                k: upstream.headers[k] for k in PASSED_ON if k in upstream.headers})
            out.headers["Cache-Control"] = "private, max-age=3600"
            await out.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await out.write(chunk)
            await out.write_eof()
            return out
    except (ClientError, TimeoutError) as exc:
        log.warning("recording from node %s unavailable (%s)", owner.node_id,
                    type(exc).__name__)
        raise json_error(502, "the node holding the recording is unreachable") from None
