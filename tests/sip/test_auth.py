"""Digest authentication helper (RFC 2617 / RFC 8760)."""

from __future__ import annotations

import pytest

from voice_gateway.sip.auth import (
    AuthResult,
    DigestAuthenticator,
    digest_response,
    parse_credentials,
)
from voice_gateway.sip.errors import AuthError
from voice_gateway.sip.message import Request, parse_message

from .support import invite

AUTH = DigestAuthenticator(realm="hotline.example", secret=b"s3cret")
PASSWORDS = {"trunk1": "pw"}


def signed(now: float, *, password: str = "pw", algorithm: str = "MD5", qop: bool = True,
           nonce: str | None = None, realm: str = "hotline.example") -> Request:  # fmt: skip
    nonce = nonce or AUTH.make_nonce(now)
    uri = "sip:12345@127.0.0.1"
    response = digest_response(
        algorithm, "trunk1", realm, password, "INVITE", uri, nonce,
        qop="auth" if qop else None, nc="00000001", cnonce="abc",
    )  # fmt: skip
    value = (f'Digest username="trunk1", realm="{realm}", nonce="{nonce}", uri="{uri}", '
             f'response="{response}", algorithm={algorithm}')  # fmt: skip
    if qop:
        value += ', qop=auth, nc=00000001, cnonce="abc"'
    message = parse_message(invite(extra=f"Authorization: {value}"))
    assert isinstance(message, Request)
    return message


def test_challenge_header() -> None:
    name, value = AUTH.challenge(1000.0)
    assert name == "WWW-Authenticate"
    scheme, params = parse_credentials(value)
    assert scheme == "Digest" and params["realm"] == "hotline.example"
    assert params["qop"] == "auth" and params["algorithm"] == "MD5"
    assert "stale" in AUTH.challenge(1000.0, stale=True)[1]


@pytest.mark.parametrize(
    ("request_", "now", "result"),
    [
        (signed(1000.0), 1010.0, AuthResult.OK),
        (signed(1000.0, qop=False), 1010.0, AuthResult.OK),  # RFC 2069 style
        (signed(1000.0, algorithm="SHA-256"), 1010.0, AuthResult.OK),  # RFC 8760
        (signed(1000.0, password="wrong"), 1010.0, AuthResult.INVALID),
        (signed(1000.0, nonce="3e8.forged"), 1010.0, AuthResult.INVALID),
        (signed(1000.0), 2000.0, AuthResult.STALE),
        (signed(1000.0, realm="other"), 1010.0, AuthResult.MISSING),
    ],
)
def test_verify(request_: Request, now: float, result: AuthResult) -> None:
    assert AUTH.verify(request_, PASSWORDS.get, now) is result


def test_missing_credentials() -> None:
    message = parse_message(invite())
    assert isinstance(message, Request)
    assert AUTH.verify(message, PASSWORDS.get, 0.0) is AuthResult.MISSING


def test_rfc2617_example() -> None:
    # RFC 2617 §3.5 (with the method and URI of its example).
    assert digest_response(
        "MD5", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", nc="00000001", cnonce="0a4f113b",
    ) == "6629fae49393a05397450978507c4ef1"  # fmt: skip


def test_malformed_credentials() -> None:
    with pytest.raises(AuthError):
        parse_credentials('Digest username="unterminated')
