"""Console accounts and their login sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults); hashing and verifying run in a
thread, since each takes tens of milliseconds of CPU. A login session is a random token
handed to the browser in a cookie; the table keeps only the token's sha256, so a copy of the
database cannot be replayed as a cookie. Each session carries its own CSRF token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import selectinload

from storage.db import WriteTransactions, session_factory
from storage.models import LoginSession, User

ROLES = ("agent", "admin")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("not a password")


class AccountError(ValueError):
    """A bad username, role or password, or a duplicate account."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str


@dataclass(frozen=True)
class ActiveSession:
    account: Account
    csrf_token: str
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class Accounts:
    """Users and login sessions; each method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)

    async def add_user(self, username: str, password: str, role: str) -> Account:
        username = username.strip()
        if not username or len(username) > 64:
            raise AccountError("username must be 1 to 64 characters")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise AccountError("password must be at least 8 characters")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        try:
            async with self._write() as s:
                user = User(username=username, password_hash=hashed, role=role,
                            created_at=datetime.now(UTC), disabled=False)
                s.add(user)
                await s.flush()
                return Account(user.id, user.username, user.role)
        except IntegrityError as exc:
            raise AccountError(f"user {username!r} already exists") from exc

    async def list_users(self) -> list[Account]:
        async with self._sessions() as s:
            rows = await s.scalars(select(User).where(User.disabled.is_(False))
                                   .order_by(User.username))
            return [Account(u.id, u.username, u.role) for u in rows]

    async def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password matches, else ``None`` (same cost either way)."""
        async with self._sessions() as s:
            user = await s.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None and not user.disabled else _DUMMY_HASH
        ok = False
        with contextlib.suppress(VerificationError, InvalidHashError):
            ok = await asyncio.to_thread(_hasher.verify, stored, password)
        if not ok or user is None or user.disabled:
            return None
        return Account(user.id, user.username, user.role)

    async def open_session(self, account: Account, ttl: timedelta) -> tuple[str, ActiveSession]:
        """A new login session: the cookie token (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        active = ActiveSession(account, secrets.token_urlsafe(32), now + ttl)
        async with self._write() as s:
            await s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            s.add(LoginSession(token_hash=token_digest(token), user_id=account.id,
                               csrf_token=active.csrf_token, created_at=now,
                               expires_at=active.expires_at))
        return token, active

    async def session(self, token: str) -> ActiveSession | None:
        """The live session of a cookie token, ``None`` when unknown or expired."""
        async with self._sessions() as s:
            row = await s.scalar(
                select(LoginSession).where(LoginSession.token_hash == token_digest(token))
                .options(selectinload(LoginSession.user))
            )
        if row is None or row.user.disabled or _aware(row.expires_at) <= datetime.now(UTC):
            return None
        account = Account(row.user.id, row.user.username, row.user.role)
        return ActiveSession(account, row.csrf_token, _aware(row.expires_at))

    async def close_session(self, token: str) -> None:
        async with self._write() as s:
            await s.execute(delete(LoginSession)
                            .where(LoginSession.token_hash == token_digest(token)))
