"""Issue 17 item 7: account lifecycle, password rules, idle and absolute session limits."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from console import CONSOLE
from storage.accounts import AccountError, password_problem
from storage.models import AuditRow, LoginSession
from tests.console.conftest import PASSWORD, login

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.mark.parametrize("bad", [
    "short-pass1", "password1234", "qwertyuiop123", "1q2w3e4r5t6y", "woaini1314520",
    "aaaaaaaaaaaaaa", "xx-alice-xx-long",
])
def test_weak_passwords_are_refused(bad: str) -> None:
    assert password_problem(bad, "alice") is not None


def test_a_long_phrase_is_accepted() -> None:
    assert password_problem("correct horse battery", "alice") is None


async def test_short_and_common_passwords_cannot_be_set(app_client: Any) -> None:
    accounts = app_client.server.app[CONSOLE].accounts
    for bad in ("11-chars-ok", "administrator123"):
        with pytest.raises(AccountError):
            await accounts.add_user("carol", bad, "agent")


async def _client_for(aiohttp_client: Any, app_client: Any, username: str) -> tuple[Any, str]:
    other = await aiohttp_client(app_client.server)
    return other, await login(other, username)


async def test_admin_disables_enables_and_resets_an_account(
    app_client: Any, aiohttp_client: Any,
) -> None:
    bob, _ = await _client_for(aiohttp_client, app_client, "bob")
    assert (await bob.get("/api/me")).status == 200
    csrf = await login(app_client, "root")
    hdr = {"X-CSRF-Token": csrf}

    resp = await app_client.post("/api/users/bob/disable", json={}, headers=hdr)
    assert resp.status == 200 and (await resp.json())["disabled"] is True
    assert (await bob.get("/api/me")).status == 401  # the session ended
    resp = await bob.post("/api/login", json={"username": "bob", "password": PASSWORD})
    assert resp.status == 401
    users = await (await app_client.get("/api/users")).json()
    assert {"username": "bob", "role": "agent", "disabled": True} in users

    assert (await app_client.post("/api/users/bob/enable", json={}, headers=hdr)).status == 200
    app_client.server.app[CONSOLE].limiter.clear()
    assert (await login(bob, "bob"))
    resp = await app_client.post("/api/users/bob/password", json={"password": "short"},
                                 headers=hdr)
    assert resp.status == 400
    resp = await app_client.post("/api/users/bob/password", json={"password": NEW_PASSWORD},
                                 headers=hdr)
    assert resp.status == 200 and (await resp.json())["sessions_ended"] == 1
    assert (await bob.get("/api/me")).status == 401  # logged out everywhere
    resp = await bob.post("/api/login", json={"username": "bob", "password": NEW_PASSWORD})
    assert resp.status == 200

    resp = await app_client.post("/api/users", json={
        "username": "carol", "password": NEW_PASSWORD, "role": "agent"}, headers=hdr)
    assert resp.status == 201
    resp = await app_client.post("/api/users/root/disable", json={}, headers=hdr)
    assert resp.status == 400  # not oneself

    engine = app_client.server.app[CONSOLE].store.engine
    async with engine.connect() as conn:
        actions = [r.action for r in (await conn.execute(
            select(AuditRow).where(AuditRow.username == "root"))).all()]
    assert actions == ["user_disable", "user_enable", "password_reset", "user_add"]


async def test_agents_cannot_manage_accounts(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    resp = await app_client.post("/api/users/bob/disable", json={},
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status == 403


async def test_changing_ones_password_ends_every_other_session(
    app_client: Any, aiohttp_client: Any,
) -> None:
    elsewhere, _ = await _client_for(aiohttp_client, app_client, "alice")
    csrf = await login(app_client, "alice")
    resp = await app_client.post("/api/password", json={"current": "wrong", "new": NEW_PASSWORD},
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    resp = await app_client.post("/api/password",
                                 json={"current": PASSWORD, "new": NEW_PASSWORD},
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert (await resp.json())["csrf_token"] != csrf
    assert (await elsewhere.get("/api/me")).status == 401
    assert (await app_client.get("/api/me")).status == 200  # the new session


async def test_idle_and_absolute_session_limits(app_client: Any) -> None:
    await login(app_client, "alice")
    engine = app_client.server.app[CONSOLE].store.engine
    policy = app_client.server.app[CONSOLE].accounts.policy
    assert policy.idle == timedelta(minutes=30) and policy.lifetime == timedelta(hours=12)
    now = datetime.now(UTC)

    async def set_times(**values: datetime) -> None:
        async with engine.begin() as conn:
            await conn.execute(update(LoginSession).values(**values))

    # Used after 10 idle minutes: still valid, and the idle deadline moves forward.
    await set_times(expires_at=now + timedelta(minutes=20))
    me = await (await app_client.get("/api/me")).json()
    assert datetime.fromisoformat(me["expires_at"]) > now + timedelta(minutes=29)
    # Idle past the deadline: ended.
    await set_times(expires_at=now - timedelta(seconds=1))
    assert (await app_client.get("/api/me")).status == 401

    await login(app_client, "alice")
    await set_times(created_at=now - timedelta(hours=12, seconds=1),
                    expires_at=now + timedelta(minutes=30))
    assert (await app_client.get("/api/me")).status == 401  # past its lifetime


def test_cli_disable_enable_reset_and_list(cli_env: dict[str, str]) -> None:
    cli = [str(Path(sys.executable).with_name("voice-intake")), "users"]

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], input=stdin, env=cli_env, capture_output=True,
                              text=True, timeout=120)

    assert run("add", "dave", "--role", "agent", stdin="too short\n").returncode == 2
    assert run("add", "dave", "--role", "agent", stdin=NEW_PASSWORD + "\n").returncode == 0
    assert run("disable", "dave").returncode == 0
    assert run("list").stdout.split() == ["dave", "agent", "disabled"]
    assert run("enable", "dave").returncode == 0
    assert run("list").stdout.split() == ["dave", "agent"]
    reset = run("reset-password", "dave", stdin="another long passphrase\n")
    assert reset.returncode == 0 and "0 session(s) ended" in reset.stderr
    missing = run("disable", "nobody-here")
    assert missing.returncode == 2 and "no user" in missing.stderr
