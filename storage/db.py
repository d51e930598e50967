"""The database: an async engine and session factory for a SQLAlchemy URL, and the gate its
writers pass, which also tells how long the database's writes have been stalled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy import event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


class StorageStalled(TimeoutError):
    """A write did not complete within its deadline: the database is locked, overloaded or
    unreachable. Nothing of the write was stored."""


SQLITE_BUSY_TIMEOUT_S = 30.0  # a write waits this long for SQLite's lock, then fails


def private_file(path: Path) -> None:
    """Create ``path`` (and missing parents, 0700) readable by this user only (0600);
    tighten an existing file, and its SQLite journals, to 0600. The database holds phone
    numbers, transcripts and password hashes."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                 path.with_name(path.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            if each.stat().st_mode & 0o077:
                each.chmod(0o600)


def create_engine(url: str, node_id: str | None = None) -> AsyncEngine:
    """An async engine; for SQLite, the file's directory is created and WAL switched on.
    On PostgreSQL its connections carry ``application_name`` ``voice-intake/<node_id>``:
    the events NOTIFY trigger puts it in each payload, so a node can skip its own."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))
        engine = create_async_engine(url)

        @event.listens_for(engine.sync_engine, "do_connect")
        def _busy_timeout(_d: object, _r: object, _a: object, cparams: dict[str, object]) -> None:
            cparams["timeout"] = SQLITE_BUSY_TIMEOUT_S  # read at each connect

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: DBAPIConnection, _rec: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if node_id and parsed.drivername == "postgresql+asyncpg":
        return create_async_engine(url, pool_pre_ping=True, connect_args={
            "server_settings": {"application_name": application_name(node_id)}})
    return create_async_engine(url, pool_pre_ping=True)


def application_name(node_id: str) -> str:
    """The PostgreSQL ``application_name`` of a node's connections (63 bytes at most)."""
    return f"voice-intake/{node_id}"[:63]


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_write_probe(path: str, timeout_s: float) -> bool:
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock, or waits for it
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


async def writable(engine: AsyncEngine, timeout_s: float = 1.0) -> bool:
    """SQLite: the write lock can be taken within ``timeout_s`` (a reader, or a stuck
    writer of another process, can hold it while reads still work). Others: True."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    try:
        return await asyncio.to_thread(_sqlite_write_probe, url.database, timeout_s)
    except sqlite3.Error:
        return False


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not reachable"
        return False
    return True


class WriteGate:
    """Writers of one SQLite database, one at a time, urgent ones first.

    SQLite has one writer at a time; writers that collide wait in its busy handler, which
    sleeps in growing steps (tens of ms), in no order. Under a burst of calls the INSERT
    that must precede each 200 OK queued behind the drafts of calls ending and took
    0.4–1.5 s (bench.sip, 50 setups/s). Gated here, writes go in turn with no sleeping,
    and a call being admitted goes before the others: it waits for one write at most.
    Every store's writes go through it (``WriteTransactions``). On other databases (row locks,
    many writers) the gate lets everyone through. A write must not wait, inside the
    gate, for another gated write.

    The gate also times every write, waiting or inside, on any database: ``stalled_for``
    gives the age of the oldest, which /readyz compares with a limit. Timed here rather
    than per store, it sees the writes of every store of the database (console, menus).
    ``on_write`` is given each write's seconds, waiting included (the service's metrics).
    """

    def __init__(self, serial: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._serial = serial
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()
        self._clock = clock
        self._since: dict[object, float] = {}  # each write at or in the gate: when it came
        self.on_write: Callable[[float], None] | None = None

    @contextlib.asynccontextmanager
    async def __call__(self, *, urgent: bool = False) -> AsyncIterator[None]:
        token = object()
        self._since[token] = self._clock()
        try:
            if not self._serial:
                yield
                return
            await self._enter(urgent)
            try:
                yield
            finally:
                self._release()
        finally:
            came = self._since.pop(token)
            if self.on_write is not None:
                self.on_write(self._clock() - came)

    def stalled_for(self, now: float) -> float:
        """Seconds since the oldest write now waiting or writing came to the gate, 0.0 if
        there is none (``now`` on the gate's clock: ``time.monotonic`` unless given)."""
        for since in self._since.values():  # in insertion order: the first is the oldest
            return max(0.0, now - since)
        return 0.0

    async def _enter(self, urgent: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        queue = self._urgent if urgent else self._normal
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter  # the releaser hands the gate over: _busy stays True
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # _release may have dropped it
                    queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._busy = False


_GATES: weakref.WeakKeyDictionary[AsyncEngine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> WriteGate:
    """The gate every writer of ``engine``'s database shares."""
    gate = _GATES.get(engine)
    if gate is None:
        gate = _GATES[engine] = WriteGate(engine.dialect.name == "sqlite")
    return gate


class WriteTransactions:
    """Transactions that write to ``engine``'s database: each begins a session inside the
    database's write gate, so no store's write can bypass it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._gate = write_gate(engine)

    def stalled_for(self, now: float) -> float:
        """Seconds (``time.monotonic``) the oldest write to the database now waiting or
        running has taken, by any store; 0.0 if none. /readyz reads it: a write lock held
        for seconds (a stall) makes the database not ready."""
        return self._gate.stalled_for(now)

    @contextlib.asynccontextmanager
    async def __call__(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        async with self._gate(urgent=urgent), self._sessions.begin() as session:
            yield session
