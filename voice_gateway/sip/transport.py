"""asyncio UDP, TCP and TLS transports and the timer driver around the sans-IO core.

How it works: :class:`SipEndpoint` owns one :class:`~voice_gateway.sip.uas.UserAgentServer`.
Sockets only frame bytes (a datagram is a message; a TCP stream goes through
:class:`~voice_gateway.sip.framing.StreamFramer`) and feed the core; after every call into
the core, :meth:`SipEndpoint.flush` performs the queued actions: sends, and timer starts
and cancels through ``loop.call_later``. Events go to the ``on_event`` callback in order.
Application operations (answer, hangup ...) go through the endpoint's wrappers, or straight
to ``endpoint.core`` followed by ``endpoint.flush()``.

TLS is TCP with an :class:`ssl.SSLContext` (``start_tls``): the same accept path, limits,
framing and connection table; a message is delivered as ``Transport.TLS``, and responses
and requests of a TLS call go over TLS connections only (a new one, verified with the
client context, if the call's has closed).

TCP is guarded against floods of idle or hostile connections (:class:`TcpLimits`). The
endpoint accepts connections itself, so that a source outside the allowlist, or over the
cap per source or in total, is closed before a byte is read, and an accept error such as
EMFILE pauses accepting instead of spinning. A pure :class:`ConnectionTable` (time passed
in) decides admissions and which connections have outstayed the header or idle timeout;
a sweep on a timer closes those. What is refused or closed is logged through a
:class:`LogThrottle`: one line per cause per 10 s, with a count, never a traceback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import resource
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast

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
# Takes a source IP address; False: refuse its TCP connections at accept.
SourceFilter = Callable[[str], bool]

LISTEN_BACKLOG = 128
ACCEPT_BATCH = 64  # accepts per readiness callback, as asyncio's own servers do


@dataclass(frozen=True)
class TcpLimits:
    """Bounds on SIP over TCP (the ``sip.tcp_*`` settings)."""

    max_connections: int = 2000  # in all, ours included
    max_per_source: int = 50  # from one IP address
    idle_timeout_s: float = 120.0  # nothing received or sent
    header_timeout_s: float = 10.0  # a header begun (or a connection accepted) and not ended
    accept_pause_s: float = 1.0  # after an accept error (EMFILE ...)
    log_interval_s: float = 10.0  # one log line per cause per interval

    def within_fd_limit(self, soft_limit: int) -> TcpLimits:
        """These limits with at most half of ``soft_limit`` (RLIMIT_NOFILE) for
        connections: the rest is for RTP sockets, recordings and the database."""
        cap = max(1, soft_limit // 2)
        return self if self.max_connections <= cap else replace(self, max_connections=cap)


class Cause(enum.Enum):
    """Why a connection was refused, closed or not made (one throttled log line each)."""

    NOT_ALLOWED = "refused connections: source not in sip.allowed_networks"
    SOURCE_FULL = "refused connections: too many connections from one source"
    FULL = "refused connections: connection limit reached"
    HEADER_TIMEOUT = "closed connections: no complete header in time"
    IDLE = "closed idle connections"
    TOO_LARGE = "closed connections: message too large"
    ACCEPT_FAILED = "accept failed, accepting paused"
    CONNECT_FAILED = "connect failed"
    HANDSHAKE_FAILED = "closed connections: TLS handshake failed or timed out"


_QUIET = frozenset({Cause.IDLE, Cause.HEADER_TIMEOUT, Cause.TOO_LARGE,
                    Cause.HANDSHAKE_FAILED})  # INFO, not WARNING  # fmt: skip
StreamKey = tuple[Transport, Address]  # a connection: TCP or TLS, and the peer's address


@dataclass
class _Listener:
    sock: socket.socket
    transport: Transport  # TCP or TLS
    ssl: ssl.SSLContext | None
    accepting: bool = False


class SipEndpoint:
    """Runs a UAS core over UDP, TCP and TLS sockets with one timer driver."""

    def __init__(
        self,
        core: UserAgentServer,
        on_event: EventCallback,
        *,
        accept: SourceFilter | None = None,
        limits: TcpLimits | None = None,
        tls_client: ssl.SSLContext | None = None,
    ) -> None:
        """``accept`` screens TCP and TLS sources at accept (``None``: all); ``limits``
        bound TCP and TLS together (``None``: the defaults), within half of the process's
        file descriptor limit; ``tls_client`` verifies the peers we connect to over TLS
        (``None``: no TLS connections of ours)."""
        self.core = core
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._streams: dict[StreamKey, _StreamProtocol] = {}
        self._connecting: dict[StreamKey, list[bytes]] = {}
        self._tls_client = tls_client
        self._tasks: set[asyncio.Task[None]] = set()
        wanted = limits or TcpLimits()
        self.limits = wanted.within_fd_limit(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        if self.limits != wanted:
            logger.warning("SIP TCP: at most %d connections, half the file descriptor limit",
                           self.limits.max_connections)  # fmt: skip
        self._table: ConnectionTable[_StreamProtocol] = ConnectionTable(self.limits, accept)
        self._log = LogThrottle(self.limits.log_interval_s)
        self._listeners: list[_Listener] = []
        self._resume: asyncio.TimerHandle | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._unadopted: dict[_StreamProtocol, socket.socket] = {}

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
        return await self._listen(host, port, Transport.TCP, None)

    async def start_tls(self, host: str, port: int, context: ssl.SSLContext) -> Address:
        """Listen for SIP over TLS with ``context`` (our certificate); return the bound
        address. A handshake must end within the header timeout."""
        return await self._listen(host, port, Transport.TLS, context)

    async def _listen(
        self, host: str, port: int, transport: Transport, context: ssl.SSLContext | None
    ) -> Address:
        infos = await self._loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, sockaddr = infos[0]
        sock = socket.create_server(sockaddr[:2], family=family, backlog=LISTEN_BACKLOG)
        sock.setblocking(False)
        self._listeners.append(_Listener(sock, transport, context))
        self._resume_accepting()
        if self._sweeper is None:
            self._sweep()
        return _address(sock.getsockname())

    async def close(self) -> None:
        """Stop listening, drop connections, cancel timers and pending connects."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for pending in (self._resume, self._sweeper):
            if pending is not None:
                pending.cancel()
        self._resume = self._sweeper = None
        for listener in self._listeners:
            if listener.accepting:
                self._loop.remove_reader(listener.sock.fileno())
            listener.accepting = False
            listener.sock.close()
        self._listeners.clear()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for sock in self._unadopted.values():
            sock.close()
        self._unadopted.clear()
        if self._udp is not None:
            self._udp.close()
        for connection in self._table.connections():
            connection.abort()

    @property
    def tcp_connections(self) -> int:
        """TCP and TLS connections open (or being set up), both ways."""
        return len(self._table)

    @property
    def accepting(self) -> bool:
        """Listening on TCP (and TLS) and not paused after an accept error."""
        return bool(self._listeners) and all(listener.accepting for listener in self._listeners)

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
        key: StreamKey = (action.transport, action.dest)
        connection = self._streams.get(key)
        if connection is None and isinstance(action, Reply) and action.fallback is not None:
            # the request's connection is gone (RFC 3261 §18.2.2)
            key = (action.transport, action.fallback)
            connection = self._streams.get(key)
        if connection is not None:
            connection.write(action.data)
        elif key in self._connecting:
            self._connecting[key].append(action.data)
        else:
            self._connecting[key] = [action.data]
            self._spawn(self._connect(key))

    def _spawn(self, work: Any) -> None:
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, key: StreamKey) -> None:
        transport, dest = key
        tls = self._tls_client if transport is Transport.TLS else None
        try:
            if transport is Transport.TLS and tls is None:
                raise OSError("no TLS client context")
            await self._loop.create_connection(
                lambda: _StreamProtocol(self, dest, transport, inbound=False), dest[0], dest[1],
                ssl=tls, server_hostname=dest[0] if tls else None,
                ssl_handshake_timeout=self.limits.header_timeout_s if tls else None,
            )  # fmt: skip
        except OSError as exc:
            self._connecting.pop(key, None)
            self._note(Cause.CONNECT_FAILED, f"{transport.value} {dest[0]}:{dest[1]}: "
                                             f"{exc.strerror or exc}")  # fmt: skip
            events = self.core.connection_failed(
                transport, dest, refused=isinstance(exc, ConnectionRefusedError)
            )
            self.flush()
            for event in events:
                self._on_event(event)

    # --- TCP accept, limits and timeouts ----------------------------------------------

    def _on_acceptable(self, listener: _Listener) -> None:
        """A listening socket is readable: take what is queued, up to a batch."""
        for _ in range(ACCEPT_BATCH):
            if not listener.accepting:
                return
            try:
                sock, raw = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS ...: retrying now would spin
                self._note(Cause.ACCEPT_FAILED, exc.strerror or str(exc))
                self._pause_accepting()
                return
            peer = _address(raw)
            refusal = self._table.admit(peer[0])
            if refusal is not None:
                sock.close()  # nothing read, nothing written
                self._note(refusal, peer[0])
                continue
            protocol = _StreamProtocol(self, peer, listener.transport, inbound=True)
            self._table.opened(protocol, peer[0], self._loop.time(), inbound=True)
            self._unadopted[protocol] = sock
            self._spawn(self._adopt(protocol, sock, listener.ssl))

    async def _adopt(
        self, protocol: _StreamProtocol, sock: socket.socket, tls: ssl.SSLContext | None
    ) -> None:
        try:
            # With TLS this returns once the handshake is done; the header timeout bounds
            # it, as it bounds the first header of a TCP connection.
            await self._loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=tls,
                ssl_handshake_timeout=self.limits.header_timeout_s if tls else None)
        except OSError as exc:  # ssl.SSLError and TimeoutError included
            sock.close()
            self._table.closed(protocol)
            if tls is not None:
                self._note(Cause.HANDSHAKE_FAILED, f"{protocol.peer[0]}: {exc}")
            else:
                logger.debug("SIP TCP connection from %s lost at once: %s", protocol.peer[0],
                             exc)  # fmt: skip
        finally:
            self._unadopted.pop(protocol, None)

    def _pause_accepting(self) -> None:
        for listener in self._listeners:
            if listener.accepting:
                self._loop.remove_reader(listener.sock.fileno())
            listener.accepting = False
        if self._resume is None:
            self._resume = self._loop.call_later(self.limits.accept_pause_s,
                                                 self._resume_accepting)  # fmt: skip

    def _resume_accepting(self) -> None:
        self._resume = None
        for listener in self._listeners:
            if not listener.accepting:
                self._loop.add_reader(listener.sock.fileno(), self._on_acceptable, listener)
                listener.accepting = True

    def _sweep(self) -> None:
        """Close the connections past a timeout; log the counts held back."""
        now = self._loop.time()
        for connection, cause in self._table.expired(now):
            self._table.closed(connection)
            connection.abort()
            self._note(cause, connection.peer[0])
        for cause, count, detail in self._log.due(now):
            _log_cause(cause, count, detail, self.limits.log_interval_s)
        limits = self.limits
        interval = max(0.01, min(1.0, limits.header_timeout_s / 4, limits.idle_timeout_s / 4))
        self._sweeper = self._loop.call_later(interval, self._sweep)

    def _note(self, cause: Cause, detail: str) -> None:
        """Count one occurrence of ``cause``; log a line if its interval allows."""
        logger.debug("SIP TCP %s: %s", cause.value, detail)
        held = self._log.note(cause, self._loop.time(), detail)
        if held is not None:
            _log_cause(cause, *held, self.limits.log_interval_s)

    def _connected(self, connection: _StreamProtocol) -> None:
        peer = connection.peer
        if connection.inbound and connection not in self._table:
            connection.abort()  # timed out or shut down while being set up
            return
        if not connection.inbound:  # accepted ones are in the table since their accept
            self._table.opened(connection, peer[0], self._loop.time(), inbound=False)
        key = (connection.kind, peer)
        self._streams[key] = connection
        for data in self._connecting.pop(key, []):
            connection.write(data)

    def _disconnected(self, connection: _StreamProtocol) -> None:
        self._table.closed(connection)
        key = (connection.kind, connection.peer)
        if self._streams.get(key) is connection:
            del self._streams[key]

    def _received(self, connection: _StreamProtocol, message_done: bool, pending: bool) -> None:
        self._table.received(connection, self._loop.time(), message_done=message_done,
                             header_pending=pending)  # fmt: skip

    def _sent(self, connection: _StreamProtocol) -> None:
        self._table.sent(connection, self._loop.time())


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._endpoint.deliver(data, _address(addr), Transport.UDP)

    def error_received(self, exc: Exception) -> None:
        logger.debug("SIP UDP error: %s", exc)


class _StreamProtocol(asyncio.Protocol):
    """One TCP or TLS connection (``kind``): ``peer`` is the accepted client's address, or
    where we connected to."""

    def __init__(
        self, endpoint: SipEndpoint, peer: Address, kind: Transport, *, inbound: bool
    ) -> None:
        self._endpoint = endpoint
        self._framer = StreamFramer(endpoint.core.config.limits)
        self._transport: asyncio.Transport | None = None
        self.peer = peer
        self.kind = kind
        self.inbound = inbound

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an asyncio.Transport subclass on uvloop (TCPTransport has the same methods).
        self._transport = cast(asyncio.Transport, transport)
        self._endpoint._connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._endpoint._disconnected(self)

    def data_received(self, data: bytes) -> None:
        try:
            items = self._framer.feed(data)
        except MessageTooLarge:
            self._endpoint._note(Cause.TOO_LARGE, self.peer[0])
            self.close()
            return
        self._endpoint._received(self, bool(items), self._framer.header_pending)
        for item in items:
            if item is KEEPALIVE:
                self.write(b"\r\n")
            elif isinstance(item, bytes):
                self._endpoint.deliver(item, self.peer, self.kind)
        if self._framer.broken:
            self.close()

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)
            self._endpoint._sent(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping anything not yet sent (a peer that does not read could
        hold a graceful close open)."""
        if self._transport is not None:
            self._transport.abort()


K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    host: str
    last_active: float  # last byte received or sent
    header_since: float | None  # when the header now awaited began (None: none awaited)


class ConnectionTable(Generic[K]):
    """Which TCP connections may open and which must close; pure, time passed in.

    A new connection is refused if ``accept`` rejects its source, or if the source or the
    whole table is at its cap. An accepted connection must complete a message header within
    ``header_timeout_s`` of its accept, and every later message's header within
    ``header_timeout_s`` of that message's first byte; a connection we opened owes a
    header only once the peer starts one. Any connection with nothing received or sent
    for ``idle_timeout_s`` must close too.
    """

    def __init__(self, limits: TcpLimits, accept: SourceFilter | None = None) -> None:
        self.limits = limits
        self._accept = accept
        self._entries: dict[K, _Entry] = {}
        self._per_source: Counter[str] = Counter()

    def admit(self, host: str) -> Cause | None:
        """Why a new connection from ``host`` must be refused, or ``None``."""
        if self._accept is not None and not self._accept(host):
            return Cause.NOT_ALLOWED
        if len(self._entries) >= self.limits.max_connections:
            return Cause.FULL
        if self._per_source[host] >= self.limits.max_per_source:
            return Cause.SOURCE_FULL
        return None

    def opened(self, key: K, host: str, now: float, *, inbound: bool) -> None:
        """A connection opened: accepted (``inbound``) or made by us."""
        self._entries[key] = _Entry(host, now, now if inbound else None)
        self._per_source[host] += 1

    def closed(self, key: K) -> None:
        """A connection is gone (again is harmless)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._per_source[entry.host] -= 1
            if not self._per_source[entry.host]:
                del self._per_source[entry.host]

    def received(self, key: K, now: float, *, message_done: bool, header_pending: bool) -> None:
        """Bytes arrived; ``message_done`` if they completed a message (or ping),
        ``header_pending`` if a header is under way after them
        (:attr:`StreamFramer.header_pending`)."""
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.last_active = now
        if not header_pending:
            entry.header_since = None
        elif message_done or entry.header_since is None:
            entry.header_since = now

    def sent(self, key: K, now: float) -> None:
        """Bytes were written."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_active = now

    def expired(self, now: float) -> list[tuple[K, Cause]]:
        """The connections past a timeout, with the timeout."""
        header, idle = self.limits.header_timeout_s, self.limits.idle_timeout_s
        out: list[tuple[K, Cause]] = []
        for key, entry in self._entries.items():
            if entry.header_since is not None and now - entry.header_since >= header:
                out.append((key, Cause.HEADER_TIMEOUT))
            elif now - entry.last_active >= idle:
                out.append((key, Cause.IDLE))
        return out

    def connections(self) -> list[K]:
        """Every connection in the table."""
        return list(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


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


def _log_cause(cause: Cause, count: int, detail: str, interval_s: float) -> None:
    level = logging.INFO if cause in _QUIET else logging.WARNING
    if count == 1:
        logger.log(level, "SIP TCP %s (%s); more are counted, one line per %.0f s",
                   cause.value, detail, interval_s)  # fmt: skip
    else:
        logger.log(level, "SIP TCP %s: %d times since the last such line (latest: %s)",
                   cause.value, count, detail)  # fmt: skip


def _address(raw: Any) -> Address:
    return (str(raw[0]), int(raw[1]))
