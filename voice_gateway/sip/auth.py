"""SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 8760 SHA-256), as a pure helper.

The admission layer asks :meth:`DigestAuthenticator.verify` about an INVITE; on anything
but :attr:`AuthResult.OK` it rejects the call with 401 and the header from
:meth:`DigestAuthenticator.challenge`. Nonces are stateless: a timestamp signed with
HMAC, so any gateway process sharing the secret accepts them until they expire. The clock
is passed in (``now``). Replays within a nonce's lifetime are not detected (no nc table).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from voice_gateway.sip import grammar
from voice_gateway.sip.errors import AuthError
from voice_gateway.sip.message import Request

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def _wire(text: str) -> bytes:
    """The bytes a header value arrived as (the parser decodes with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def _same(received: str, expected: str) -> bool:
    """Constant-time comparison that takes any text: ``hmac.compare_digest`` raises
    TypeError on non-ASCII ``str``, so both sides are compared as bytes."""
    return hmac.compare_digest(_wire(received), _wire(expected))


class AuthResult(enum.Enum):
    """Outcome of checking a request's credentials."""

    OK = "ok"
    MISSING = "missing"  # no credentials for our realm: challenge
    STALE = "stale"  # right password, expired nonce: challenge with stale=true
    INVALID = "invalid"  # wrong user/password or forged nonce: challenge (or 403)


def parse_credentials(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Digest username="a", realm="b", ...`` into the scheme and its parameters."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in grammar.split_list(rest):
        name, sep, raw = item.partition("=")
        if not sep:
            raise AuthError("malformed auth parameter")
        raw = raw.strip()
        if raw.startswith('"'):
            if len(raw) < 2 or not raw.endswith('"'):
                raise AuthError("unterminated quoted auth parameter")
            raw = grammar.unquote(raw)
        params[name.strip().lower()] = raw
    return scheme, params


@dataclass(frozen=True)
class DigestAuthenticator:
    """Challenges and verifies digest credentials for one realm."""

    realm: str
    secret: bytes
    nonce_ttl: float = 300.0
    algorithm: str = "MD5"

    def challenge(self, now: float, *, stale: bool = False) -> tuple[str, str]:
        """The ``WWW-Authenticate`` header to send with a 401."""
        value = (
            f'Digest realm={grammar.quote(self.realm)}, nonce="{self.make_nonce(now)}", '
            f'algorithm={self.algorithm}, qop="auth"'
        )
        if stale:
            value += ", stale=true"
        return ("WWW-Authenticate", value)

    def make_nonce(self, now: float) -> str:
        """A nonce that :meth:`verify` accepts for ``nonce_ttl`` seconds after ``now``."""
        stamp = f"{int(now):x}"
        return f"{stamp}.{self._sign(stamp)}"

    def verify(
        self, request: Request, password_for: Callable[[str], str | None], now: float
    ) -> AuthResult:
        """Check the request's Authorization for our realm against ``password_for(user)``."""
        for value in request.headers.fields("Authorization"):
            try:
                scheme, params = parse_credentials(value)
            except AuthError:
                return AuthResult.INVALID
            if scheme.lower() != "digest" or params.get("realm") != self.realm:
                continue
            return self._check(request.method, params, password_for, now)
        return AuthResult.MISSING

    def _check(
        self,
        method: str,
        params: dict[str, str],
        password_for: Callable[[str], str | None],
        now: float,
    ) -> AuthResult:
        username, nonce, uri = params.get("username"), params.get("nonce"), params.get("uri")
        algorithm = params.get("algorithm", "MD5").upper()
        if username is None or nonce is None or uri is None or algorithm not in _HASHES:
            return AuthResult.INVALID
        stamp, _, signature = nonce.partition(".")
        if not _same(signature, self._sign(stamp)):
            return AuthResult.INVALID
        password = password_for(username)
        if password is None:
            return AuthResult.INVALID
        expected = digest_response(
            algorithm, username, self.realm, password, method, uri, nonce,
            qop=params.get("qop"), nc=params.get("nc"), cnonce=params.get("cnonce"),
        )  # fmt: skip
        if not _same(params.get("response", ""), expected):
            return AuthResult.INVALID
        try:
            issued = int(stamp, 16)
        except ValueError:
            return AuthResult.INVALID
        return AuthResult.OK if now - issued <= self.nonce_ttl else AuthResult.STALE

    def _sign(self, stamp: str) -> str:
        return hmac.new(self.secret, _wire(f"{self.realm}:{stamp}"), "sha256").hexdigest()[:32]


def digest_response(
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value of RFC 2617 §3.2.2.1 (also what a client computes)."""
    hash_ = _HASHES[algorithm.upper()]

    def h(text: str) -> str:
        return hash_(_wire(text)).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc or ''}:{cnonce or ''}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")
