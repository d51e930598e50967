"""The database: an async engine and session factory for a SQLAlchemy URL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
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


def create_engine(url: str) -> AsyncEngine:
    """An async engine; for SQLite, the file's directory is created and WAL switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: DBAPIConnection, _rec: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


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
    """

    def __init__(self, serial: bool) -> None:
        self._serial = serial
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def __call__(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if not self._serial:
            yield
            return
        if self._busy:
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
        else:
            self._busy = True
        try:
            yield
        finally:
            self._release()

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
        # Start times (monotonic) of the writes waiting or in progress: /readyz reads the
        # oldest, so a database whose write lock is held (a stall) shows as not ready.
        self._started: dict[int, float] = {}
        self._ids = itertools.count()

    def stalled_for(self, now: float) -> float:
        """Seconds the oldest write still waiting or running has taken (0: none)."""
        return max((now - t for t in self._started.values()), default=0.0)

    @contextlib.asynccontextmanager
    async def __call__(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        key = next(self._ids)
        self._started[key] = time.monotonic()
        try:
            async with self._gate(urgent=urgent), self._sessions.begin() as session:
                yield session
        finally:
            del self._started[key]
