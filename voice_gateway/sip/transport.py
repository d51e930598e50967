"""asyncio UDP and TCP transports and the timer driver around the sans-IO core.

How it works: :class:`SipEndpoint` owns one :class:`~voice_gateway.sip.uas.UserAgentServer`.
Sockets only frame bytes (a datagram is a message; a TCP stream goes through
:class:`~voice_gateway.sip.framing.StreamFramer`) and feed the core; after every call into
the core, :meth:`SipEndpoint.flush` performs the queued actions: sends, and timer starts
and cancels through ``loop.call_later``. Events go to the ``on_event`` callback in order.
Application operations (answer, hangup ...) go through the endpoint's wrappers, or straight
to ``endpoint.core`` followed by ``endpoint.flush()``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Any

from voice_gateway.sip.errors import MessageTooLarge
from voice_gateway.sip.events import (
    Address,
    CallHandle,
    Event,
    TimerCancel,
    TimerRequest,
    Transmit,
    Transport,
)
from voice_gateway.sip.framing import KEEPALIVE, StreamFramer
from voice_gateway.sip.sdp import SessionDescription
from voice_gateway.sip.transactions import Reply
from voice_gateway.sip.uas import UserAgentServer

logger = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]


class SipEndpoint:
    """Runs a UAS core over UDP and TCP sockets with one timer driver."""

    def __init__(self, core: UserAgentServer, on_event: EventCallback) -> None:
        self.core = core
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tcp: dict[Address, _StreamProtocol] = {}
        self._connecting: dict[Address, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._log = LogThrottle()

    # --- lifecycle --------------------------------------------------------------------

    async def start_udp(self, host: str, port: int) -> Address:
        """Listen on UDP; return the bound address."""
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _DatagramProtocol(self), local_addr=(host, port)
        )
        self._udp = transport
        return _address(transport.get_extra_info("sockname"))

    async def start_tcp(self, host: str, port: int) -> Address:
        """Listen on TCP; return the bound address."""
        self._tcp_server = await self._loop.create_server(lambda: _StreamProtocol(self), host, port)
        return _address(self._tcp_server.sockets[0].getsockname())

    async def close(self) -> None:
        """Stop listening, drop connections, cancel timers and pending connects."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp is not None:
            self._udp.close()
        for connection in list(self._tcp.values()):
            connection.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    # --- operations (core call + flush) -----------------------------------------------

    def answer(self, call: CallHandle, sdp: SessionDescription | bytes) -> bool:
        """:meth:`UserAgentServer.answer`, then send."""
        return self._run(self.core.answer(call, sdp))

    def ringing(self, call: CallHandle) -> bool:
        """:meth:`UserAgentServer.ringing`, then send."""
        return self._run(self.core.ringing(call))

    def reject(self, call: CallHandle, status: int, **kwargs: Any) -> bool:
        """:meth:`UserAgentServer.reject`, then send."""
        return self._run(self.core.reject(call, status, **kwargs))

    def hangup(self, call: CallHandle) -> bool:
        """:meth:`UserAgentServer.hangup`, then send."""
        return self._run(self.core.hangup(call))

    def refer(self, call: CallHandle, target: str) -> bool:
        """:meth:`UserAgentServer.refer`, then send."""
        return self._run(self.core.refer(call, target))

    def abandon_transfer(self, call: CallHandle) -> None:
        """:meth:`UserAgentServer.abandon_transfer` (sends nothing)."""
        self.core.abandon_transfer(call)

    def _run(self, result: bool) -> bool:
        self.flush()
        return result

    # --- core plumbing ----------------------------------------------------------------

    def deliver(self, data: bytes, source: Address, transport: Transport) -> None:
        """Feed one framed message to the core and act on the outcome."""
        events = self.core.receive_data(data, source, transport)
        self.flush()
        for event in events:
            self._on_event(event)

    def flush(self) -> None:
        """Perform the core's queued actions."""
        for action in self.core.drain_actions():
            if isinstance(action, Transmit):
                self._send(action)
            elif isinstance(action, TimerRequest):
                self._timers[action.key] = self._loop.call_later(
                    action.delay, self._fire, action.key
                )
            elif isinstance(action, TimerCancel):
                handle = self._timers.pop(action.key, None)
                if handle is not None:
                    handle.cancel()

    def _fire(self, key: int) -> None:
        self._timers.pop(key, None)
        events = self.core.handle_timer(key)
        self.flush()
        for event in events:
            self._on_event(event)

    def _send(self, action: Transmit) -> None:
        if action.transport is Transport.UDP:
            if self._udp is not None:
                self._udp.sendto(action.data, action.dest)
            return
        dest = action.dest
        connection = self._tcp.get(dest)
        if connection is None and isinstance(action, Reply) and action.fallback is not None:
            dest = action.fallback  # the request's connection is gone (RFC 3261 §18.2.2)
            connection = self._tcp.get(dest)
        if connection is not None:
            connection.write(action.data)
        elif dest in self._connecting:
            self._connecting[dest].append(action.data)
        else:
            self._connecting[dest] = [action.data]
            task = self._loop.create_task(self._connect(dest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, dest: Address) -> None:
        try:
            await self._loop.create_connection(lambda: _StreamProtocol(self), dest[0], dest[1])
        except OSError as exc:
            self._connecting.pop(dest, None)
            self._note(Cause.CONNECT_FAILED, f"{dest[0]}:{dest[1]}: {exc.strerror or exc}")

    def _note(self, cause: Cause, detail: str) -> None:
        """Count one occurrence of ``cause``; log a line if its interval allows."""
        logger.debug("SIP TCP %s: %s", cause.value, detail)
        held = self._log.note(cause, self._loop.time(), detail)
        if held is not None:
            _log_cause(cause, *held)

    def _connected(self, peer: Address, connection: _StreamProtocol) -> None:
        self._tcp[peer] = connection
        for data in self._connecting.pop(peer, []):
            connection.write(data)

    def _disconnected(self, peer: Address, connection: _StreamProtocol) -> None:
        if self._tcp.get(peer) is connection:
            del self._tcp[peer]


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._endpoint.deliver(data, _address(addr), Transport.UDP)

    def error_received(self, exc: Exception) -> None:
        logger.debug("SIP UDP error: %s", exc)


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self._endpoint = endpoint
        self._framer = StreamFramer(endpoint.core.config.limits)
        self._transport: asyncio.Transport | None = None
        self._peer: Address = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._peer = _address(transport.get_extra_info("peername"))
        self._endpoint._connected(self._peer, self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._endpoint._disconnected(self._peer, self)

    def data_received(self, data: bytes) -> None:
        try:
            items = self._framer.feed(data)
        except MessageTooLarge:
            self._endpoint._note(Cause.TOO_LARGE, self._peer[0])
            self.close()
            return
        for item in items:
            if item is KEEPALIVE:
                self.write(b"\r\n")
            elif isinstance(item, bytes):
                self._endpoint.deliver(item, self._peer, Transport.TCP)
        if self._framer.broken:
            self.close()

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Cause(enum.Enum):
    """Why a connection was refused, closed or not made (one throttled log line each)."""

    CONNECT_FAILED = "connect failed"
    TOO_LARGE = "closed a connection: message too large"


_LEVELS = {Cause.TOO_LARGE: logging.INFO}


def _log_cause(cause: Cause, count: int, detail: str) -> None:
    logger.log(_LEVELS.get(cause, logging.WARNING), "SIP TCP %s (%d since the last such line; "
               "latest: %s)", cause.value, count, detail)  # fmt: skip


class LogThrottle:
    """At most one log line per cause per ``interval_s``; time is passed in.

    The first occurrence of a cause is reported at once; later ones within the interval
    are only counted, and their count goes out with the next report of that cause, or
    from :meth:`due` (called periodically) once the interval has passed.
    """

    def __init__(self, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._reported: dict[Cause, float] = {}
        self._held: dict[Cause, tuple[int, str]] = {}

    def note(self, cause: Cause, now: float, detail: str) -> tuple[int, str] | None:
        """Count one occurrence: ``(count, latest detail)`` to report now, or ``None``."""
        count, _ = self._held.get(cause, (0, ""))
        self._held[cause] = (count + 1, detail)
        last = self._reported.get(cause)
        if last is not None and now - last < self.interval_s:
            return None
        self._reported[cause] = now
        return self._held.pop(cause)

    def due(self, now: float) -> list[tuple[Cause, int, str]]:
        """Counts held back whose interval has passed: ``(cause, count, latest detail)``."""
        out = []
        for cause, (count, detail) in list(self._held.items()):
            if now - self._reported[cause] >= self.interval_s:
                self._reported[cause] = now
                del self._held[cause]
                out.append((cause, count, detail))
        return out


def _address(raw: Any) -> Address:
    return (str(raw[0]), int(raw[1]))
