"""Digest authentication helper (RFC 7616 / RFC 8760 in SIP, RFC 3261 §22)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from tests.sipp.harness import running_gateway, sip_settings
from voice_gateway.sip.auth import (
    AuthResult,
    DigestAuthenticator,
    digest_response,
    parse_credentials,
)
from voice_gateway.sip.errors import AuthError
from voice_gateway.sip.framing import StreamFramer
from voice_gateway.sip.headers import Headers
from voice_gateway.sip.message import Request, Response, parse_message

from .support import invite, request

REALM = "hotline.example"
URI = "sip:12345@127.0.0.1"
PASSWORDS = {"trunk1": "pw"}


def fresh(**kwargs: object) -> DigestAuthenticator:
    """A new authenticator (its nonce table empty), nonces numbered t0, t1, ..."""
    numbers = itertools.count()
    return DigestAuthenticator(realm=REALM, secret=b"s3cret",
                               new_token=lambda: f"t{next(numbers)}", **kwargs)  # type: ignore[arg-type]  # fmt: skip


AUTH = fresh()


def authorization_value(nonce: str, *, password: str = "pw", algorithm: str = "MD5",
                        qop: str | None = "auth", nc: str = "00000001", uri: str = URI,
                        realm: str = REALM, cnonce: str = "abc") -> str:  # fmt: skip
    """What a client computes from a challenge's nonce."""
    response = digest_response(
        algorithm, "trunk1", realm, password, "INVITE", uri, nonce,
        qop=qop, nc=nc if qop else None, cnonce=cnonce if qop else None,
    )  # fmt: skip
    value = (f'Digest username="trunk1", realm="{realm}", nonce="{nonce}", uri="{uri}", '
             f'response="{response}", algorithm={algorithm}')  # fmt: skip
    if qop:
        value += f', qop={qop}, nc={nc}, cnonce="{cnonce}"'
    return value


def with_authorization(value: str, **kwargs: object) -> Request:
    message = parse_message(invite(extra=f"Authorization: {value}", **kwargs))
    assert isinstance(message, Request)
    return message


def signed(auth: DigestAuthenticator, now: float, *, nonce: str | None = None,
           **kwargs: object) -> Request:  # fmt: skip
    nonce = nonce or auth.make_nonce(now)
    return with_authorization(authorization_value(nonce, **kwargs))  # type: ignore[arg-type]


def challenge_params(headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for name, value in headers:
        assert name == "WWW-Authenticate"
        scheme, params = parse_credentials(value)
        assert scheme == "Digest"
        out.append(params)
    return out


def test_challenges_offer_sha256_first_then_md5_with_one_nonce() -> None:
    # RFC 8760 §2.4: one challenge per algorithm, the preferred (SHA-256) first.
    headers = fresh().challenges(1000.0)
    sha, md5 = challenge_params(headers)
    assert [sha["algorithm"], md5["algorithm"]] == ["SHA-256", "MD5"]
    assert sha["nonce"] == md5["nonce"]
    nonce = sha["nonce"]
    assert headers == [
        ("WWW-Authenticate",
         f'Digest realm="hotline.example", nonce="{nonce}", algorithm=SHA-256, qop="auth"'),
        ("WWW-Authenticate",
         f'Digest realm="hotline.example", nonce="{nonce}", algorithm=MD5, qop="auth"'),
    ]  # fmt: skip
    assert "stale" not in sha and "stale" not in md5


def test_each_challenge_has_its_own_nonce() -> None:
    auth = fresh()
    first = challenge_params(auth.challenges(1000.0))[0]["nonce"]
    second = challenge_params(auth.challenges(1000.0))[0]["nonce"]
    assert first != second  # the same second: still two nonces, each with its own nc


@pytest.mark.parametrize("index", [0, 1], ids=["SHA-256", "MD5"])
def test_either_offered_algorithm_is_accepted(index: int) -> None:
    auth = fresh()
    params = challenge_params(auth.challenges(1000.0))[index]
    request = with_authorization(authorization_value(params["nonce"],
                                                     algorithm=params["algorithm"]))
    assert auth.verify(request, PASSWORDS.get, 1010.0) is AuthResult.OK


# Single uses, each with a fresh authenticator: (kwargs for signed(), now, result).
ONCE = [
    ("qop=auth", {}, 1010.0, AuthResult.OK),
    ("RFC 2069 style, no qop", {"qop": None}, 1010.0, AuthResult.OK),
    ("SHA-256", {"algorithm": "SHA-256"}, 1010.0, AuthResult.OK),
    ("wrong password", {"password": "wrong"}, 1010.0, AuthResult.INVALID),
    ("forged nonce", {"nonce": "3e8.t0.forged"}, 1010.0, AuthResult.INVALID),
    ("old-style nonce", {"nonce": "3e8." + "0" * 32}, 1010.0, AuthResult.INVALID),
    ("expired nonce, right password", {}, 1301.0, AuthResult.STALE),
    ("expired nonce, wrong password", {"password": "wrong"}, 1301.0, AuthResult.INVALID),
    ("other realm", {"realm": "other"}, 1010.0, AuthResult.MISSING),
    ("digest uri is not the Request-URI", {"uri": "sip:99999@127.0.0.1"}, 1010.0,
     AuthResult.INVALID),
    ("qop=auth-int (not offered)", {"qop": "auth-int"}, 1010.0, AuthResult.INVALID),
    ("nc not 8 hex digits", {"nc": "1"}, 1010.0, AuthResult.INVALID),
    ("nc zero", {"nc": "00000000"}, 1010.0, AuthResult.INVALID),
    ("qop without cnonce", {"cnonce": ""}, 1010.0, AuthResult.INVALID),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs", "now", "result"), ONCE, ids=[o[0] for o in ONCE])
def test_verify(name: str, kwargs: dict[str, object], now: float, result: AuthResult) -> None:
    auth = fresh()
    assert auth.verify(signed(auth, 1000.0, **kwargs), PASSWORDS.get, now) is result


URIS = [
    ("the Request-URI", "sip:12345@localhost", AuthResult.OK),
    ("scheme and host in other case", "SIP:12345@LocalHost", AuthResult.OK),
    ("host alone (sipp's default)", "sip:localhost", AuthResult.OK),
    ("another user", "sip:99999@localhost", AuthResult.INVALID),
    ("the user in other case", "sip:ABC@localhost", AuthResult.INVALID),
    ("another host", "sip:12345@192.0.2.1", AuthResult.INVALID),
    ("another host alone", "sip:192.0.2.1", AuthResult.INVALID),
    ("another port", "sip:12345@localhost:5080", AuthResult.INVALID),
    ("sips", "sips:12345@localhost", AuthResult.INVALID),
    ("not a URI", "12345", AuthResult.INVALID),
]  # fmt: skip


@pytest.mark.parametrize(("name", "uri", "result"), URIS, ids=[u[0] for u in URIS])
def test_digest_uri_must_name_the_request_uri(name: str, uri: str, result: AuthResult) -> None:
    # RFC 7616 §3.4.6: credentials made for one resource are no good for another.
    auth = fresh()
    request_uri = "sip:abc@localhost" if "ABC" in uri else "sip:12345@localhost"
    request = with_authorization(authorization_value(auth.make_nonce(1000.0), uri=uri),
                                 uri=request_uri)  # fmt: skip
    assert auth.verify(request, PASSWORDS.get, 1010.0) is result


def test_a_replay_with_a_new_call_id_and_from_is_refused() -> None:
    # The capture: the same Authorization in a new INVITE (new Call-ID, another
    # From), inside the nonce's lifetime. It got 200.
    auth = fresh()
    value = authorization_value(auth.make_nonce(1000.0))
    assert auth.verify(with_authorization(value), PASSWORDS.get, 1001.0) is AuthResult.OK
    replay = with_authorization(value, call_id="call-2", from_tag="other", branch="z9hG4bKr")
    replay.headers.set("From", "<sip:intruder@192.0.2.9>;tag=other")
    assert auth.verify(replay, PASSWORDS.get, 1002.0) is AuthResult.REPLAYED


def test_nonce_count_must_go_up() -> None:
    auth = fresh()
    nonce = auth.make_nonce(1000.0)

    def attempt(nc: str, cnonce: str = "abc") -> AuthResult:
        request = with_authorization(authorization_value(nonce, nc=nc, cnonce=cnonce))
        return auth.verify(request, PASSWORDS.get, 1010.0)

    assert attempt("00000002") is AuthResult.OK
    assert attempt("00000002", cnonce="new") is AuthResult.REPLAYED  # reused
    assert attempt("00000001") is AuthResult.REPLAYED  # went down
    assert attempt("0000000a") is AuthResult.OK  # hex, and gaps are allowed
    assert attempt("00000009") is AuthResult.REPLAYED


def test_a_nonce_used_without_qop_is_used_up() -> None:
    auth = fresh()
    value = authorization_value(auth.make_nonce(1000.0), qop=None)
    assert auth.verify(with_authorization(value), PASSWORDS.get, 1010.0) is AuthResult.OK
    assert auth.verify(with_authorization(value), PASSWORDS.get, 1011.0) is AuthResult.REPLAYED


def test_a_refused_attempt_does_not_use_up_the_count() -> None:
    auth = fresh()
    nonce = auth.make_nonce(1000.0)
    wrong = with_authorization(authorization_value(nonce, password="wrong", nc="00000005"))
    assert auth.verify(wrong, PASSWORDS.get, 1010.0) is AuthResult.INVALID
    right = with_authorization(authorization_value(nonce, nc="00000001"))
    assert auth.verify(right, PASSWORDS.get, 1010.0) is AuthResult.OK


def test_expired_nonce_with_a_valid_response_is_challenged_stale() -> None:
    # RFC 7616 §3.3: stale=true only when the response was right for an expired nonce.
    auth = fresh()
    request = signed(auth, 1000.0)
    assert auth.verify(request, PASSWORDS.get, 1301.0) is AuthResult.STALE
    headers = auth.challenges(1301.0, stale=True)
    assert [p.get("stale") for p in challenge_params(headers)] == ["true", "true"]
    assert all(value.endswith(", stale=true") for _, value in headers)


def test_a_nonce_from_another_secret_is_invalid() -> None:
    other = DigestAuthenticator(realm=REALM, secret=b"other", new_token=lambda: "t0")
    auth = fresh()
    assert auth.verify(signed(other, 1000.0), PASSWORDS.get, 1010.0) is AuthResult.INVALID


def test_the_nonce_table_is_pruned_by_lifetime_and_capped() -> None:
    auth = fresh(max_nonces=50)
    for n in range(200):
        auth.make_nonce(1000.0 + n / 100)
    assert auth.tracked_nonces == 50
    # Every nonce outlives its lifetime: the next use of the table forgets them all.
    auth.make_nonce(2000.0)
    assert auth.tracked_nonces == 1


def test_a_nonce_pushed_out_of_a_full_table_is_stale() -> None:
    # The client knew the password, so it is told to retry with a new nonce (stale), and
    # a replay of a pushed-out nonce is never let in.
    auth = fresh(max_nonces=2)
    nonce = auth.make_nonce(1000.0)
    auth.make_nonce(1000.0)
    auth.make_nonce(1000.0)
    request = with_authorization(authorization_value(nonce))
    assert auth.verify(request, PASSWORDS.get, 1010.0) is AuthResult.STALE


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
    ("algorithm not offered", credentials(algorithm="MD5-sess"), AuthResult.INVALID),
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
    auth = fresh()
    nonce = auth.make_nonce(1000.0)
    response = digest_response("MD5", "张三", "hotline.example", "密码", "INVITE", URI, nonce)
    value = credentials(username="张三", nonce=nonce, response=response)
    assert auth.verify(authorization(value), {"张三": "密码"}.get, 1010.0) is AuthResult.OK


# --- against a running gateway ----------------------------------------------------------


class SipClient:
    """One TCP connection to the gateway: requests out, whole responses back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = StreamFramer()
        self.pending: list[Response] = []

    async def final(self, data: bytes, within: float = 10.0) -> Response:
        """Send ``data``; the first final response that comes back."""
        self.writer.write(data)
        await self.writer.drain()
        while True:
            while self.pending:
                response = self.pending.pop(0)
                if response.status >= 200:
                    return response
            chunk = await asyncio.wait_for(self.reader.read(65536), within)
            assert chunk, "connection closed"
            for message in self.framer.feed(chunk):
                if isinstance(message, bytes):
                    parsed = parse_message(message, stream=True)
                    if isinstance(parsed, Response):
                        self.pending.append(parsed)

    def send(self, data: bytes) -> None:
        self.writer.write(data)


async def test_a_replayed_authorization_gets_401_from_the_gateway(settings: Settings) -> None:
    """The issue's repro against the gateway over TCP: a call authenticated (with the
    SHA-256 challenge of the two), then its Authorization in a new INVITE with a new
    Call-ID and another From: 401, not 200."""
    settings = sip_settings(settings, auth_username="trunk1", auth_password="pw",
                            auth_realm=REALM)  # fmt: skip
    tcp = {"via_transport": "TCP"}
    async with running_gateway(settings, spec=EngineSpec(kind="fake"), workers=1):
        client = SipClient(*await asyncio.open_connection("127.0.0.1", settings.sip.port))
        challenged = await client.final(invite(call_id="a1", branch="z9hG4bKa1", **tcp))
        assert challenged.status == 401
        offered = challenge_params([("WWW-Authenticate", v) for v in
                                    challenged.headers.fields("WWW-Authenticate")])
        # MD5 first at the gateway: Debian's sipp 3.6 answers only the first challenge.
        assert [p["algorithm"] for p in offered] == ["MD5", "SHA-256"]
        to_tag = challenged.to_tag
        client.send(request("ACK", call_id="a1", branch="z9hG4bKa1", to_tag=to_tag, **tcp))
        value = authorization_value(offered[1]["nonce"], algorithm="SHA-256")
        answered = await client.final(invite(call_id="a1", branch="z9hG4bKa2", cseq=2,
                                             extra=f"Authorization: {value}", **tcp))
        assert answered.status == 200
        client.send(request("ACK", call_id="a1", branch="z9hG4bKa3", cseq=2,
                            to_tag=answered.to_tag, **tcp))
        bye = await client.final(request("BYE", call_id="a1", branch="z9hG4bKa4", cseq=3,
                                         to_tag=answered.to_tag, **tcp))
        assert bye.status == 200
        replay = invite(call_id="a2", branch="z9hG4bKr1", from_tag="other",
                        extra=f"Authorization: {value}", **tcp).replace(
            b"From: <sip:13812345678@", b"From: <sip:13999999999@")
        refused = await client.final(replay)
        assert refused.status == 401
        client.writer.close()
