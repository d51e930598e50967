"""Live fan-out: one subscription to the event bus, turned into console messages and copied
to every connected websocket.

The messages are built once per event (a new draft is read from the database once, not once
per agent) and put on each client's bounded queue; a client that does not keep up loses its
oldest messages, never the service's memory. Messages:

- ``{"type": "draft", "event": "draft_created"|"draft_updated"|"draft_reviewed",
  "draft": {...}, "workflow": {...}}``
- ``{"type": "call", "event": "call_started"|"call_ended"|"ivr_node"|"ivr_exit"|
  "utterance", "call_id": ..., "node": ..., "utterance": {...}}``

An utterance's text goes only to admins and to agents who opened that call's transcript
(``open_call``, audited); the others get ``{"seq", "start", "end", "hidden": true}``.
- ``{"type": "alert", "alert": {...}}``: a 未诉先办 spike alert, to admins only.
- ``{"type": "resync"}``: the link to the other nodes' events was lost and is back; a
  page reads its snapshot again (as after its own reconnection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from storage import DraftWorkflow, Event, EventBus
from storage.reports import node_of

log = logging.getLogger(__name__)

DRAFT_EVENTS = ("draft_created", "draft_updated", "draft_reviewed")
CALL_EVENTS = ("call_started", "call_ended", "ivr_node", "ivr_exit", "utterance")
Message = dict[str, Any]


@dataclass(frozen=True)
class LiveClient:
    admin: bool
    username: str


class Fanout:
    def __init__(self, bus: EventBus, workflow: DraftWorkflow, queue_size: int = 256) -> None:
        self._bus = bus
        self._workflow = workflow
        self._queue_size = queue_size
        self._clients: dict[asyncio.Queue[Message], LiveClient] = {}
        # Calls whose live transcript each user opened (GET /api/calls/{id}/transcript).
        self._opened: dict[str, set[str]] = {}
        self.sockets: set[web.WebSocketResponse] = set()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Forward bus events to the clients until cancelled."""
        async with self._bus.subscribe() as events:
            if ready is not None:
                ready.set()
            while True:
                event = await events.get()
                try:
                    message = await self.message(event)
                except Exception:  # a database hiccup must not end the live feed
                    log.exception("live message for %s failed", event.kind)
                    continue
                if message is not None:
                    self._broadcast(message)

    async def message(self, event: Event) -> Message | None:
        if event.kind in DRAFT_EVENTS:
            found = await self._workflow.draft(str(event.payload.get("draft_id")))
            if found is None:
                return None
            draft, workflow = found
            return {"type": "draft", "event": event.kind, "draft": draft, "workflow": workflow}
        if event.kind == "resync":  # events of other nodes may have been missed
            return {"type": "resync"}
        if event.kind == "spike_alert":
            return {"type": "alert", "alert": {**event.payload, "at": event.at.isoformat()}}
        if event.kind in CALL_EVENTS:
            message: Message = {"type": "call", "event": event.kind, "call_id": event.call_id,
                                "node": node_of(event.payload)}
            if event.kind == "utterance":
                p = event.payload
                message["utterance"] = {"seq": p.get("seq"), "start": p.get("start"),
                                        "end": p.get("end"), "text": p.get("text")}
            return message
        return None

    def open_call(self, username: str, call_id: str) -> None:
        """From now on ``username``'s sockets get the call's utterances in full."""
        self._opened.setdefault(username, set()).add(call_id)

    def opened(self, username: str, call_id: str) -> bool:
        return call_id in self._opened.get(username, ())

    def _broadcast(self, message: Message) -> None:
        admins_only = message["type"] == "alert"
        call_id = message.get("call_id") if message["type"] == "call" else None
        hidden: Message | None = None
        if message.get("event") == "utterance":
            utterance = {k: v for k, v in message["utterance"].items() if k != "text"}
            hidden = {**message, "utterance": {**utterance, "hidden": True}}
        for q, client in self._clients.items():
            if admins_only and not client.admin:
                continue
            out = message
            if hidden is not None and not client.admin and not self.opened(
                    client.username, str(call_id)):
                out = hidden  # the text only to agents who opened the call
            if q.full():
                q.get_nowait()
            q.put_nowait(out)
        if message.get("event") == "call_ended":
            for calls in self._opened.values():
                calls.discard(str(call_id))

    @contextlib.asynccontextmanager
    async def connect(self, admin: bool = False,
                      username: str = "") -> AsyncIterator[asyncio.Queue[Message]]:
        q: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
        self._clients[q] = LiveClient(admin, username)
        try:
            yield q
        finally:
            self._clients.pop(q, None)

    async def close_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")
