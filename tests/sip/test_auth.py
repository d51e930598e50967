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
from voice_gateway.sip.headers import Headers
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


def authorization(value: str) -> Request:
    message = parse_message(invite(extra=f"Authorization: {value}"))
    assert isinstance(message, Request)
    return message


def credentials(**fields: str) -> str:
    """Digest credentials for trunk1 that are right, except for ``fields``."""
    nonce = fields.get("nonce", AUTH.make_nonce(1000.0))
    uri = fields.get("uri", "sip:12345@127.0.0.1")
    response = fields.get("response") or digest_response(
        "MD5", "trunk1", "hotline.example", "pw", "INVITE", uri, nonce
    )
    params = {"username": "trunk1", "realm": "hotline.example", "nonce": nonce, "uri": uri,
              "response": response, **fields}  # fmt: skip
    return "Digest " + ", ".join(f'{name}="{value}"' for name, value in params.items())


# Non-ASCII or garbage credentials: each is a challenge (401), never an exception. Before the
# fix a non-ASCII nonce signature or response raised TypeError in hmac.compare_digest, and
# the INVITE got 100 Trying and no final response.
HOSTILE = [
    ("non-ASCII nonce", credentials(nonce="3e8.签名签名签名签名签名签名签名签名签名签名签名签"),
     AuthResult.INVALID),
    ("non-ASCII nonce stamp", credentials(nonce="三e8." + "0" * 32), AuthResult.INVALID),
    ("non-ASCII response", credentials(response="响应响应响应响应响应响应响应响应"),
     AuthResult.INVALID),
    ("non-ASCII response, right length in bytes", credentials(response="é" * 16),
     AuthResult.INVALID),
    ("non-ASCII username", credentials(username="张三"), AuthResult.INVALID),
    ("non-ASCII realm", credentials(realm="热线"), AuthResult.MISSING),
    ("non-ASCII uri", credentials(uri="sip:热线@127.0.0.1", response="0" * 32),
     AuthResult.INVALID),
    ("full-width algorithm", credentials(algorithm="ＭＤ５"), AuthResult.INVALID),
    ("non-ASCII qop and cnonce", credentials(qop="认证", nc="00000001", cnonce="随机"),
     AuthResult.INVALID),
    ("garbage", '\x01\x7f ,,,= "=" 乱码', AuthResult.INVALID),
    ("unterminated quote", 'Digest realm="hotline.example", nonce="abc', AuthResult.INVALID),
    ("scheme only", "Digest", AuthResult.MISSING),
    ("other scheme", "Basic 5a+J5LiJOuWvhueggQ==", AuthResult.MISSING),
    ("empty parameters", 'Digest realm="hotline.example", nonce="", response="", uri="", '
     'username=""', AuthResult.INVALID),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "result"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_credentials_are_challenged(name: str, value: str, result: AuthResult) -> None:
    assert AUTH.verify(authorization(value), PASSWORDS.get, 1010.0) is result


def test_lone_surrogates_from_a_hand_built_request_are_challenged() -> None:
    # The parser refuses bytes that are not UTF-8; a Request built elsewhere is not checked.
    value = credentials(nonce="3e8.\udcff", response="\udcfe" * 32, username="\udcfd")
    request = Request("INVITE", "sip:12345@127.0.0.1", Headers([("Authorization", value)]))
    assert AUTH.verify(request, PASSWORDS.get, 1010.0) is AuthResult.INVALID


def test_non_ascii_user_with_the_right_password_is_accepted() -> None:
    nonce, uri = AUTH.make_nonce(1000.0), "sip:热线@127.0.0.1"
    response = digest_response("MD5", "张三", "hotline.example", "密码", "INVITE", uri, nonce)
    value = credentials(username="张三", uri=uri, nonce=nonce, response=response)
    assert AUTH.verify(authorization(value), {"张三": "密码"}.get, 1010.0) is AuthResult.OK
