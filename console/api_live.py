"""Live calls and the websocket the queue and live pages listen on."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from console.auth import same_origin
from console.context import CONSOLE
from console.http import json_error, ok
from console.live import Message
from storage.accounts import ActiveSession

MAX_WS_MESSAGE = 4096  # clients send only "ping"; a larger message closes the socket (1009)


async def live_calls(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Calls in progress with their current IVR node and transcript so far; for an agent,
    the transcript's text only of the calls they opened (``transcript_hidden`` otherwise)."""
    console = request.app[CONSOLE]
    calls = await console.reports.live_calls()
    if session.account.role != "admin":
        user = session.account.username
        for call in calls:
            if not console.fanout.opened(user, call["id"]):
                call["utterances"] = [{k: v for k, v in u.items() if k != "text"}
                                      for u in call["utterances"]]
                call["transcript_hidden"] = True
    return ok(calls)


async def call_transcript(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Open a live call's transcript (audited): its utterances so far, and from now on its
    utterances in full on this user's websockets."""
    console = request.app[CONSOLE]
    call_id = request.match_info["id"]
    call = next((c for c in await console.reports.live_calls() if c["id"] == call_id), None)
    if call is None:
        raise json_error(404, "no call in progress with this id")
    await console.access.record(session, "live_transcript_view", draft_id=None,
                                call_id=call_id)
    console.fanout.open_call(session.account.username, call_id)
    return ok(call)


async def websocket(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Server → client pushes of new and changed drafts and of call progress."""
    if not same_origin(request):  # cross-site websocket hijacking
        raise json_error(403, "cross-origin websocket refused")
    fanout = request.app[CONSOLE].fanout
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_WS_MESSAGE)
    # Subscribed before the client can see the 101; admins also get spike alerts.
    async with fanout.connect(admin=session.account.role == "admin",
                              username=session.account.username) as queue:
        await ws.prepare(request)
        fanout.sockets.add(ws)
        sender = asyncio.create_task(_send(ws, queue))
        try:
            await ws.send_str(json.dumps({"type": "hello", "user": session.account.username}))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str('{"type": "pong"}')
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            fanout.sockets.discard(ws)
    return ws


async def _send(ws: web.WebSocketResponse, queue: asyncio.Queue[Message]) -> None:
    while not ws.closed:
        message = await queue.get()
        with contextlib.suppress(ConnectionError):
            await ws.send_str(json.dumps(message, ensure_ascii=False))
