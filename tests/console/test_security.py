"""Issue 17, the attacks that got through: each row of its table as a test.

Login limits under concurrency and per (account, address), chunked and deeply nested
bodies, ``next`` redirects, formula injection in the export, a locked database, long
prompt uploads.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from console import CONSOLE, api_session
from console.redirects import safe_next
from ivr import prompts
from tests.console.conftest import PASSWORD, login, new_draft


async def _post_login(client: Any, username: str, password: str) -> int:
    resp = await client.post("/api/login", json={"username": username, "password": password})
    await resp.read()
    return int(resp.status)


async def test_150_concurrent_wrong_passwords_check_at_most_the_limit(app_client: Any) -> None:
    """Row 1: the attempt is counted before the password is checked."""
    accounts = app_client.server.app[CONSOLE].accounts
    checked = 0
    real = accounts.authenticate

    async def counting(username: str, password: str) -> Any:
        nonlocal checked
        checked += 1
        return await real(username, password)

    accounts.authenticate = counting
    statuses = await asyncio.gather(*(_post_login(app_client, "alice", f"wrong{i}")
                                      for i in range(150)))
    limit = app_client.server.app[CONSOLE].limiter.max_failures
    assert checked == limit
    assert statuses.count(401) == limit and statuses.count(429) == 150 - limit


async def test_usernames_longer_than_64_are_refused_unchecked(app_client: Any) -> None:
    assert await _post_login(app_client, "a" * 65, "x") == 400


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"username": "'
    for _ in range(total // 1024):
        yield b"a" * 1024
    yield b'", "password": "x"}'


async def test_a_chunked_body_is_cut_off_at_the_limit(app_client: Any) -> None:
    """Row 2: the 64 KB limit holds without Content-Length (chunked)."""
    resp = await app_client.post("/api/login", data=_chunks(70 * 1024),
                                 headers={"Content-Type": "application/json"})
    assert "Content-Length" not in resp.request_info.headers
    assert resp.status == 413
    assert "too large" in (await resp.json())["error"]
    resp = await app_client.post("/api/login", data=b"{" + b" " * 70 * 1024 + b"}",
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_deeply_nested_json_is_a_400_not_a_500(app_client: Any) -> None:
    """Row 8: JSON nested 30,000 deep to the unauthenticated login."""
    for body in ("[" * 30000 + "]" * 30000, '{"a":' * 40 + "1" + "}" * 40):
        resp = await app_client.post("/api/login", data=body,
                                     headers={"Content-Type": "application/json"})
        assert resp.status == 400
        text = await resp.text()
        assert "nested deeper" in text and "Traceback" not in text


async def test_an_unexpected_error_is_a_plain_500(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    workflow = app_client.server.app[CONSOLE].workflow

    async def broken(*_a: Any, **_k: Any) -> Any:
        raise RecursionError("deep inside")

    workflow.queue = broken
    resp = await app_client.get("/api/queue", headers={"X-CSRF-Token": csrf})
    assert resp.status == 500
    text = await resp.text()
    assert (await resp.json()) == {"error": "internal error"} and "deep inside" not in text


@pytest.mark.parametrize("raw", [
    "/%5C127.0.0.2:28999/phish", "/%09/127.0.0.2:28999/phish", "/\\127.0.0.2/phish",
    "/\t/127.0.0.2/phish", "//127.0.0.2/phish", "/%2F127.0.0.2/phish", "/%252F127.0.0.2/x",
    "https://127.0.0.2/phish", "javascript:alert(1)", "127.0.0.2/phish", "/%0d%0a/x",
    "/\u3000/127.0.0.2", "", None, 7,
])
def test_next_refuses_anything_but_a_same_origin_path(raw: Any) -> None:
    """Row 3 (the policy): ``next`` falls back to the queue."""
    assert safe_next(raw) == "/queue"


@pytest.mark.parametrize("raw", ["/queue", "/drafts/abc?x=1#top", "/ivr/editor?menu=a%20b"])
def test_next_keeps_same_origin_paths(raw: str) -> None:
    assert safe_next(raw) == raw


async def test_login_answers_a_safe_next(app_client: Any) -> None:
    """Row 3 (over HTTP): the login tells the page where to go, same-origin only."""
    for raw, expected in (("/%5C127.0.0.2:28999/phish", "/queue"),
                          ("/%09/127.0.0.2:28999/phish", "/queue"),
                          ("/drafts/abc", "/drafts/abc")):
        resp = await app_client.post("/api/login", json={
            "username": "alice", "password": PASSWORD, "next": raw})
        assert resp.status == 200
        assert (await resp.json())["next"] == expected


async def test_csv_export_neutralises_formulas(app_client: Any) -> None:
    """Row 6: an agent's ``=HYPERLINK(…)``, ``@SUM``, ``+1+1``, ``-2+3`` export as text."""
    csrf = await login(app_client, "root")
    headers = {"X-CSRF-Token": csrf}
    did = (await new_draft(app_client))["id"]
    assert (await app_client.post(f"/api/drafts/{did}/claim", json={},
                                  headers=headers)).status == 200
    fields = {"summary": '=HYPERLINK("http://evil.example","点此")', "address": "@SUM(A1:A9)",
              "name": "+1+1", "street": "-2+3"}
    resp = await app_client.patch(f"/api/drafts/{did}", json={"fields": fields},
                                  headers=headers)
    assert resp.status == 200, await resp.text()
    resp = await app_client.get("/api/export?format=csv&status=all")
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    row = next(r for r in rows if r["id"] == did)
    for key, typed in fields.items():
        assert row[key] == "'" + typed, key
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows
                   for v in r.values())


async def test_failures_from_one_address_do_not_lock_the_account_elsewhere(
    app_client: Any,
) -> None:
    """Row 7: five wrong passwords for bob from 127.0.0.1; bob still logs in from
    127.0.0.2, and 127.0.0.1 is held back."""
    for _ in range(5):
        assert await _post_login(app_client, "bob", "wrong") == 401
    assert await _post_login(app_client, "bob", PASSWORD) == 429
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        resp = await other.post(app_client.make_url("/api/login"),
                                json={"username": "bob", "password": PASSWORD})
        assert resp.status == 200, await resp.text()


async def test_a_locked_database_is_a_503_and_not_ready(
    app_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    """Row 9: another process holds SQLite's write lock: login is a 503 with Retry-After
    once it has waited its deadline (not a 500 after SQLite's 30 s), and /readyz says the
    database is not ready."""
    ready = await (await app_client.get("/readyz")).json()
    assert ready["checks"]["database"] is True
    engine = app_client.server.app[CONSOLE].store.engine
    monkeypatch.setattr(api_session, "SESSION_WRITE_S", 0.5)
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        ready = await (await app_client.get("/readyz")).json()
        assert ready["checks"]["database"] is False
        resp = await app_client.post("/api/login",
                                     json={"username": "alice", "password": PASSWORD})
        assert resp.status == 503 and int(resp.headers["Retry-After"]) > 0
        assert "Traceback" not in await resp.text()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await _post_login(app_client, "alice", PASSWORD) == 200


def _silence(path: Path, seconds: int, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"anullsrc=r=16000:cl=mono:d={seconds}", *args, str(path)], check=True)
    return path


def _piped_flac(path: Path, seconds: int) -> Path:
    """A FLAC written to a pipe: its STREAMINFO gives no length."""
    with path.open("wb") as out:
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        f"anullsrc=r=16000:cl=mono:d={seconds}", "-c:a", "flac", "-f", "flac",
                        "pipe:1"], stdout=out, check=True)
    return path


async def _upload(client: Any, csrf: str, path: Path, name: str) -> Any:
    form = aiohttp.FormData()
    form.add_field("file", await asyncio.to_thread(path.read_bytes), filename=name)
    return await client.post("/api/ivr/prompts/welcome/audio", data=form,
                             headers={"X-CSRF-Token": csrf})


async def test_a_long_prompt_upload_is_refused_from_its_headers(
    app_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Row 4: a 20-minute FLAC is refused from its headers: nothing is decoded."""
    flac = _silence(tmp_path / "long.flac", 1200, "-c:a", "flac")
    decoded: list[Path] = []  # uploads decoded (the service may also render TTS prompts)
    real = prompts.decode_capped

    def spy(path: Path, *a: Any) -> bytes:
        if path.name == "upload":
            decoded.append(path)
        return real(path, *a)

    monkeypatch.setattr(prompts, "decode_capped", spy)
    csrf = await login(app_client, "root")
    resp = await _upload(app_client, csrf, flac, "long.flac")
    assert resp.status == 422 and "1200 s is too long" in (await resp.json())["error"]
    assert decoded == []
    short = _silence(tmp_path / "short.flac", 2, "-c:a", "flac")
    resp = await _upload(app_client, csrf, short, "short.flac")
    assert resp.status == 201 and (await resp.json())["seconds"] == pytest.approx(2, abs=0.1)
    assert decoded


async def test_a_prompt_without_a_length_in_its_headers_is_decoded_with_a_cap(
    app_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Row 4: a FLAC streamed without its length (ffprobe cannot tell) is decoded only up to
    just past the limit, then refused."""
    piped = await asyncio.to_thread(_piped_flac, tmp_path / "piped.flac", 1200)
    assert prompts.probe_seconds(piped) is None
    sizes: list[int] = []
    real = prompts.decode_capped

    def spy(path: Path, *a: Any) -> bytes:
        out = real(path, *a)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(prompts, "decode_capped", spy)
    csrf = await login(app_client, "root")
    resp = await _upload(app_client, csrf, piped, "piped.flac")
    assert resp.status == 422 and "too long" in (await resp.json())["error"]
    assert sizes and max(sizes) <= (prompts.MAX_SECONDS + 1) * prompts.SAMPLE_RATE


async def test_deep_menu_json_is_refused_not_a_500(app_client: Any) -> None:
    """Row 8 for the IVR editor: a menu body and a menu text nested 30,000 deep."""
    csrf = await login(app_client, "root")
    hdr = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    deep = "[" * 30000 + "]" * 30000
    resp = await app_client.post("/api/ivr/validate", data=deep, headers=hdr)
    assert resp.status == 400 and "nested deeper" in (await resp.json())["error"]
    resp = await app_client.post("/api/ivr/validate", json={"text": deep},
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status in (200, 422), await resp.text()
    assert "nested too deeply" in await resp.text()
