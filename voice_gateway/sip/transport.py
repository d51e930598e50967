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
        connection = self._tcp.get(action.dest)
        if connection is not None:
            connection.write(action.data)
        elif action.dest in self._connecting:
            self._connecting[action.dest].append(action.data)
        else:
            self._connecting[action.dest] = [action.data]
            task = self._loop.create_task(self._connect(action.dest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, dest: Address) -> None:
        try:
            await self._loop.create_connection(lambda: _StreamProtocol(self), dest[0], dest[1])
        except OSError as exc:
            logger.warning("SIP TCP connect to %s:%s failed: %s", dest[0], dest[1], exc)
            self._connecting.pop(dest, None)

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
            logger.info("SIP TCP stream from %s exceeded the size limit", self._peer[0])
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


def _address(raw: Any) -> Address:
    return (str(raw[0]), int(raw[1]))
