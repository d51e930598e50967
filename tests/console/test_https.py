"""Issue 17 item 8: the console over HTTPS with HSTS and a Secure cookie; behind a reverse
proxy, X-Forwarded-Proto believed only from the configured proxies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config import Settings
from console import CONSOLE
from console.tls import TlsConfigError, server_context
from tests.console.conftest import PASSWORD, _no_asr
from voice_gateway.app import init_app


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "console.crt", directory / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _with_http(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, http=dataclasses.replace(settings.http, **changes))


async def _client(aiohttp_client: Any, settings: Settings,
                  tls: ssl.SSLContext | None = None) -> Any:
    server = TestServer(init_app(settings, _no_asr))
    await server.start_server(ssl=tls)
    client = await aiohttp_client(server)
    await client.server.app[CONSOLE].accounts.add_user("alice", PASSWORD, "agent")
    return client


async def test_https_login_sets_a_secure_cookie_and_hsts(
    aiohttp_client: Any, console_settings: Settings, tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path)
    settings = _with_http(console_settings, tls_cert=cert, tls_key=key)
    ctx = server_context(settings.http)
    assert ctx is not None and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    client = await _client(aiohttp_client, settings, ctx)
    url = client.make_url("/api/login")
    assert url.scheme == "https"
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as browser:
        resp = await browser.post(url, json={"username": "alice", "password": PASSWORD})
        assert resp.status == 200
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert resp.cookies["vi_session"]["secure"]
        page = await browser.get(client.make_url("/login"))
        assert "Strict-Transport-Security" in page.headers


async def test_plain_http_has_no_hsts_and_no_secure_cookie(app_client: Any) -> None:
    resp = await app_client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert "Strict-Transport-Security" not in resp.headers
    assert not resp.cookies["vi_session"]["secure"]


@pytest.mark.parametrize(("proxies", "secure"), [(("127.0.0.1/32",), True), ((), False),
                                                  (("10.0.0.0/8",), False)])
async def test_x_forwarded_proto_only_from_trusted_proxies(
    aiohttp_client: Any, console_settings: Settings, proxies: tuple[str, ...], secure: bool,
) -> None:
    client = await _client(aiohttp_client, _with_http(console_settings,
                                                      trusted_proxies=proxies))
    resp = await client.post("/api/login", json={"username": "alice", "password": PASSWORD},
                             headers={"X-Forwarded-Proto": "https",
                                      "X-Forwarded-For": "198.51.100.7"})
    assert resp.status == 200
    assert bool(resp.cookies["vi_session"]["secure"]) is secure
    assert ("Strict-Transport-Security" in resp.headers) is secure


async def test_the_login_limit_counts_the_forwarded_address_of_a_trusted_proxy(
    aiohttp_client: Any, console_settings: Settings,
) -> None:
    client = await _client(aiohttp_client, _with_http(console_settings,
                                                      trusted_proxies=("127.0.0.1/32",)))
    for _ in range(5):
        resp = await client.post("/api/login", json={"username": "alice", "password": "x"},
                                 headers={"X-Forwarded-For": "198.51.100.7"})
        assert resp.status == 401
    resp = await client.post("/api/login", json={"username": "alice", "password": PASSWORD},
                             headers={"X-Forwarded-For": "198.51.100.7"})
    assert resp.status == 429
    resp = await client.post("/api/login", json={"username": "alice", "password": PASSWORD},
                             headers={"X-Forwarded-For": "198.51.100.8"})
    assert resp.status == 200


def test_cert_and_key_go_together(console_settings: Settings, tmp_path: Path) -> None:
    cert, _key = self_signed(tmp_path)
    with pytest.raises(TlsConfigError, match="together"):
        server_context(_with_http(console_settings, tls_cert=cert).http)
    with pytest.raises(TlsConfigError):
        server_context(_with_http(console_settings, tls_cert=cert, tls_key=cert).http)
    assert server_context(console_settings.http) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_over_https(cli_env: dict[str, str], tmp_path: Path) -> None:
    """``voice-intake serve`` with http.tls_cert/tls_key answers over TLS, with HSTS."""
    cert, key = self_signed(tmp_path)
    port = _free_port()
    env = {**cli_env, "VOICE_INTAKE_HTTP_PORT": str(port), "VOICE_INTAKE_ASR_WORKERS": "1",
           "VOICE_INTAKE_SIP_ENABLED": "false", "VOICE_INTAKE_HTTP_TLS_CERT": str(cert),
           "VOICE_INTAKE_HTTP_TLS_KEY": str(key)}
    proc = subprocess.Popen([sys.executable, "-m", "voice_gateway.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=2,
                                            context=trust) as resp:
                    assert json.loads(resp.read()) == {"status": "ok"}
                    assert resp.headers["Strict-Transport-Security"]
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
