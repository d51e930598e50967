"""Console accounts and their login sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults); hashing and verifying run in a
thread, since each takes tens of milliseconds of CPU. A login session is a random token
handed to the browser in a cookie; the table keeps only the token's sha256, so a copy of the
database cannot be replayed as a cookie. Each session carries its own CSRF token.

Sessions end after ``idle`` without use and ``lifetime`` after the login, whichever comes
first (:class:`SessionPolicy`); a password change or reset, or disabling the account, ends
every session of the account. Passwords must be ``min_password_length`` long and not be
(or start with) one of the common passwords shipped in ``config/data``. Account changes are
written to the audit log (``draft_id`` empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import WriteTransactions, session_factory
from storage.models import AuditRow, LoginSession, User

ROLES = ("agent", "admin")
MAX_USERNAME = 64
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_hasher = PasswordHasher()
# Verified against when the user does not exist, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("not a password")
_REFRESH = timedelta(minutes=1)  # a session's idle deadline is moved at most this often


class AccountError(ValueError):
    """A bad username, role or password, an unknown or duplicate account."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    disabled: bool = False


@dataclass(frozen=True)
class ActiveSession:
    account: Account
    csrf_token: str
    expires_at: datetime  # the idle deadline (never past the session's lifetime)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("config").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str = "",
                     min_length: int = MIN_PASSWORD) -> str | None:
    """Why ``password`` is refused (OWASP ASVS V2.1), ``None`` when it is acceptable."""
    if len(password) < min_length:
        return f"password must be at least {min_length} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must be at most {MAX_PASSWORD} characters"
    lowered = password.lower()
    base = lowered.rstrip("0123456789!@#$%^&*()-_=+.,;:?~ ")
    common = common_passwords()
    if lowered in common or base in common or len(set(lowered)) <= 2:
        return "password is too common; choose a longer phrase"
    if username and username.lower() in lowered:
        return "password must not contain the username"
    return None


def _audit(s: AsyncSession, by: str, action: str, before: dict[str, Any],
           after: dict[str, Any]) -> None:
    s.add(AuditRow(at=datetime.now(UTC), username=by[:64], action=action, draft_id=None,
                   before=before, after=after))


class Accounts:
    """Users and login sessions; each method is one transaction."""

    def __init__(self, engine: AsyncEngine, *, min_password_length: int = MIN_PASSWORD,
                 policy: SessionPolicy | None = None) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)
        self.min_password_length = min_password_length
        self.policy = policy or SessionPolicy()

    def _check_password(self, password: str, username: str) -> None:
        problem = password_problem(password, username, self.min_password_length)
        if problem:
            raise AccountError(problem)

    async def add_user(self, username: str, password: str, role: str,
                       by: str = "system") -> Account:
        username = username.strip()
        if not username or len(username) > MAX_USERNAME:
            raise AccountError(f"username must be 1 to {MAX_USERNAME} characters")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        self._check_password(password, username)
        hashed = await asyncio.to_thread(_hasher.hash, password)
        try:
            async with self._write() as s:
                user = User(username=username, password_hash=hashed, role=role,
                            created_at=datetime.now(UTC), disabled=False)
                s.add(user)
                await s.flush()
                _audit(s, by, "user_add", {}, {"user": username, "role": role})
                return Account(user.id, user.username, user.role)
        except IntegrityError as exc:
            raise AccountError(f"user {username!r} already exists") from exc

    async def list_users(self, include_disabled: bool = False) -> list[Account]:
        query = select(User).order_by(User.username)
        if not include_disabled:
            query = query.where(User.disabled.is_(False))
        async with self._sessions() as s:
            rows = await s.scalars(query)
            return [Account(u.id, u.username, u.role, bool(u.disabled)) for u in rows]

    async def set_disabled(self, username: str, disabled: bool, by: str = "system") -> Account:
        """Disable (ending every session) or enable an account."""
        async with self._write() as s:
            user = await s.scalar(select(User).where(User.username == username))
            if user is None:
                raise AccountError(f"no user {username!r}")
            before = bool(user.disabled)
            user.disabled = disabled
            if disabled:
                await s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            if before != disabled:
                _audit(s, by, "user_disable" if disabled else "user_enable",
                       {"user": username, "disabled": before},
                       {"user": username, "disabled": disabled})
            return Account(user.id, user.username, user.role, disabled)

    async def set_password(self, username: str, password: str, by: str = "system") -> int:
        """Reset a password; every session of the account ends. Returns how many did."""
        self._check_password(password, username)
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self._write() as s:
            user = await s.scalar(select(User).where(User.username == username))
            if user is None:
                raise AccountError(f"no user {username!r}")
            user.password_hash = hashed
            result = await s.execute(delete(LoginSession)
                                     .where(LoginSession.user_id == user.id))
            ended = int(cast("CursorResult[Any]", result).rowcount or 0)
            _audit(s, by, "password_reset" if by != username else "password_change",
                   {"user": username}, {"user": username, "sessions_ended": ended})
            return ended

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

    async def open_session(self, account: Account,
                           ttl: timedelta | None = None) -> tuple[str, ActiveSession]:
        """A new login session: the cookie token (never stored) and the session. It ends
        after ``ttl`` (default: the policy's idle time) without use, and at the latest
        after the policy's lifetime."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = min(now + (ttl if ttl is not None else self.policy.idle),
                      now + self.policy.lifetime)
        active = ActiveSession(account, secrets.token_urlsafe(32), expires)
        async with self._write() as s:
            await s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            s.add(LoginSession(token_hash=token_digest(token), user_id=account.id,
                               csrf_token=active.csrf_token, created_at=now,
                               expires_at=active.expires_at))
        return token, active

    async def session(self, token: str) -> ActiveSession | None:
        """The live session of a cookie token, ``None`` when unknown, idle too long, past
        its lifetime, or its account disabled. Use moves its idle deadline."""
        digest = token_digest(token)
        async with self._sessions() as s:
            row = await s.scalar(
                select(LoginSession).where(LoginSession.token_hash == digest)
                .options(selectinload(LoginSession.user))
            )
        now = datetime.now(UTC)
        if row is None or row.user.disabled:
            return None
        expires, ends = _aware(row.expires_at), _aware(row.created_at) + self.policy.lifetime
        if expires <= now or ends <= now:
            return None
        moved = min(now + self.policy.idle, ends)
        if moved - expires >= _REFRESH:
            async with self._write() as s:
                await s.execute(update(LoginSession).where(LoginSession.token_hash == digest)
                                .values(expires_at=moved))
            expires = moved
        account = Account(row.user.id, row.user.username, row.user.role)
        return ActiveSession(account, row.csrf_token, expires)

    async def close_session(self, token: str) -> None:
        async with self._write() as s:
            await s.execute(delete(LoginSession)
                            .where(LoginSession.token_hash == token_digest(token)))
