"""SIP digest authentication (RFC 3261 §22 with RFC 7616 and RFC 8760), as a pure helper.

How it works. The admission layer asks :meth:`DigestAuthenticator.verify` about an INVITE;
on anything but :attr:`AuthResult.OK` it rejects the call with 401 and the headers from
:meth:`DigestAuthenticator.challenges`: one challenge per algorithm, SHA-256 first, MD5
second (RFC 8760 §2.4), sharing one nonce with ``qop="auth"``.

A nonce is ``<issued, hex>.<random token>.<HMAC of both under the server secret>``: the
signature proves we issued it and when, so a forged or altered nonce is refused without a
lookup. Replays are refused through the nonce table: every nonce issued is remembered with
the highest nonce count (``nc``) used with it, and a request must bring a higher one
(RFC 7616 §3.4); credentials without ``qop`` (RFC 2069) use their nonce up. The table keeps
nonces only for their lifetime and at most ``max_nonces`` of them (oldest dropped first),
so its memory is bounded whatever callers send. The digest ``uri`` must be the
Request-URI. ``stale=true`` is for what RFC 7616 §3.3 names: a right response with a nonce
that is no longer valid (expired, or dropped from a full table). The clock (``now``) and
the random tokens are passed in; nothing here reads either itself.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from voice_gateway.sip import grammar
from voice_gateway.sip.errors import AuthError
from voice_gateway.sip.headers import SipUri
from voice_gateway.sip.message import Request

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
# RFC 7616 §3.4: nc-value = 8LHEX
_NC_RE = re.compile(r"[0-9a-fA-F]{8}")
_NO_QOP_USED = 1 << 32  # above every nc: a nonce used without qop is used up


def _wire(text: str) -> bytes:
    """The bytes a header value arrived as (the parser decodes with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def _same(received: str, expected: str) -> bool:
    """Constant-time comparison that takes any text: ``hmac.compare_digest`` raises
    TypeError on non-ASCII ``str``, so both sides are compared as bytes."""
    return hmac.compare_digest(_wire(received), _wire(expected))


def _same_uri(digest_uri: str, request_uri: str) -> bool:
    """Whether the digest ``uri`` names the Request-URI: the same URI (RFC 3261 §19.1.4 in
    brief: scheme and host compare without case, the rest exactly), or its host and port
    alone, as sipp and other UACs send by default (``sip:<host>:<port>``; the nonce count,
    not the uri, is what stops a replay)."""
    if digest_uri == request_uri:
        return True
    try:
        a, b = SipUri.parse(digest_uri), SipUri.parse(request_uri)
    except ValueError:
        return False
    if a.opaque is not None or b.opaque is not None:
        return False
    if (a.scheme, a.host.lower(), a.port) != (b.scheme, b.host.lower(), b.port):
        return False
    if a.user is None and a.password is None and not a.params and a.headers is None:
        return True  # host and port alone
    return (a.user, a.password, a.params, a.headers) == (b.user, b.password, b.params,
                                                         b.headers)  # fmt: skip


def _new_token() -> str:
    return secrets.token_hex(8)


class AuthResult(enum.Enum):
    """Outcome of checking a request's credentials."""

    OK = "ok"
    MISSING = "missing"  # no credentials for our realm: challenge
    STALE = "stale"  # right password, nonce no longer valid: challenge with stale=true
    INVALID = "invalid"  # wrong user/password/uri, forged nonce, bad parameters: challenge
    REPLAYED = "replayed"  # right digest, but its nonce count was used already: challenge


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


@dataclass
class DigestAuthenticator:
    """Challenges and verifies digest credentials for one realm (see the module
    docstring). Holds the nonce table, so one instance serves one process."""

    realm: str
    secret: bytes
    nonce_ttl: float = 300.0
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # offered, in order of preference
    max_nonces: int = 10_000
    new_token: Callable[[], str] = _new_token
    # nonce -> (issued, highest nc used; 0 while unused), oldest first
    _nonces: OrderedDict[str, tuple[float, int]] = field(
        default_factory=OrderedDict, init=False, repr=False)

    def challenges(self, now: float, *, stale: bool = False) -> list[tuple[str, str]]:
        """The ``WWW-Authenticate`` headers to send with a 401: one per algorithm, in
        order of preference, with one new nonce."""
        nonce = self.make_nonce(now)
        out = []
        for algorithm in self.algorithms:
            value = (f'Digest realm={grammar.quote(self.realm)}, nonce="{nonce}", '
                     f'algorithm={algorithm}, qop="auth"')  # fmt: skip
            if stale:
                value += ", stale=true"
            out.append(("WWW-Authenticate", value))
        return out

    def make_nonce(self, now: float) -> str:
        """A new nonce that :meth:`verify` accepts for ``nonce_ttl`` seconds after ``now``
        (or until ``max_nonces`` newer ones push it out)."""
        stamp = f"{int(now):x}.{self.new_token()}"
        nonce = f"{stamp}.{self._sign(stamp)}"
        self._prune(now)
        self._nonces[nonce] = (float(int(now)), 0)
        while len(self._nonces) > self.max_nonces:
            self._nonces.popitem(last=False)
        return nonce

    @property
    def tracked_nonces(self) -> int:
        """How many nonces the table holds."""
        return len(self._nonces)

    def verify(
        self, request: Request, password_for: Callable[[str], str | None], now: float
    ) -> AuthResult:
        """Check the request's Authorization for our realm against ``password_for(user)``.
        Only :attr:`AuthResult.OK` counts the nonce's use."""
        self._prune(now)
        for value in request.headers.fields("Authorization"):
            try:
                scheme, params = parse_credentials(value)
            except AuthError:
                return AuthResult.INVALID
            if scheme.lower() != "digest" or params.get("realm") != self.realm:
                continue
            return self._check(request, params, password_for, now)
        return AuthResult.MISSING

    def _check(
        self,
        request: Request,
        params: dict[str, str],
        password_for: Callable[[str], str | None],
        now: float,
    ) -> AuthResult:
        username, nonce, uri = params.get("username"), params.get("nonce"), params.get("uri")
        algorithm = params.get("algorithm", "MD5").upper()
        if username is None or nonce is None or uri is None or algorithm not in self.algorithms:
            return AuthResult.INVALID
        qop, nc_text, cnonce = params.get("qop"), params.get("nc"), params.get("cnonce")
        if qop is not None:
            if qop.lower() != "auth" or nc_text is None or not cnonce:
                return AuthResult.INVALID
            if not _NC_RE.fullmatch(nc_text) or int(nc_text, 16) == 0:
                return AuthResult.INVALID
            nc = int(nc_text, 16)
        elif nc_text is not None or cnonce is not None:
            return AuthResult.INVALID
        else:
            nc = _NO_QOP_USED
        stamp, _, signature = nonce.rpartition(".")
        issued_hex = stamp.partition(".")[0]
        if not stamp or not _same(signature, self._sign(stamp)):
            return AuthResult.INVALID
        password = password_for(username)
        if password is None:
            return AuthResult.INVALID
        expected = digest_response(
            algorithm, username, self.realm, password, request.method, uri, nonce,
            qop=qop, nc=nc_text, cnonce=cnonce,
        )  # fmt: skip
        if not _same(params.get("response", ""), expected):
            return AuthResult.INVALID
        if not _same_uri(uri, request.uri):
            return AuthResult.INVALID  # credentials made for another request
        try:
            issued = int(issued_hex, 16)
        except ValueError:
            return AuthResult.INVALID
        entry = self._nonces.get(nonce)
        if now - issued > self.nonce_ttl or entry is None:
            return AuthResult.STALE  # expired, or pushed out of a full table
        if nc <= entry[1]:
            return AuthResult.REPLAYED
        self._nonces[nonce] = (entry[0], nc)
        return AuthResult.OK

    def _prune(self, now: float) -> None:
        """Forget nonces past their lifetime (the table is in order of issue)."""
        while self._nonces:
            issued, _ = next(iter(self._nonces.values()))
            if now - issued <= self.nonce_ttl:
                break
            self._nonces.popitem(last=False)

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
    """The ``response`` value of RFC 7616 §3.4.1 (also what a client computes)."""
    hash_ = _HASHES[algorithm.upper()]

    def h(text: str) -> str:
        return hash_(_wire(text)).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc or ''}:{cnonce or ''}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


# --- the client side (our INVITEs to a trunk that challenges them) ------------------------


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` or ``Proxy-Authenticate`` digest challenge."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False


def parse_challenge(value: str) -> Challenge | None:
    """A digest challenge we can answer, or ``None`` (another scheme, an algorithm we do
    not know, a ``qop`` without ``auth``, or missing parameters)."""
    try:
        scheme, params = parse_credentials(value)
    except AuthError:
        return None
    realm, nonce = params.get("realm"), params.get("nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    if scheme.lower() != "digest" or realm is None or not nonce or algorithm not in _HASHES:
        return None
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    if qop and "auth" not in qop:
        return None  # auth-int only: we do not hash bodies
    return Challenge(realm, nonce, algorithm, qop, params.get("opaque"),
                     params.get("stale", "").lower() == "true")  # fmt: skip


def pick_challenge(values: list[str]) -> Challenge | None:
    """The challenge to answer among a response's: SHA-256 before MD5 (RFC 8760 §2.4)."""
    parsed = [c for c in (parse_challenge(v) for v in values) if c is not None]
    parsed.sort(key=lambda c: 0 if c.algorithm == "SHA-256" else 1)
    return parsed[0] if parsed else None


def authorization(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The ``Authorization`` (or ``Proxy-Authorization``) value answering ``challenge``
    for a request ``method uri`` (RFC 7616 §3.4); ``cnonce`` is passed in, as every
    random value of the core is."""
    qop = "auth" if challenge.qop else None
    nc_text = f"{nc:08x}" if qop else None
    response = digest_response(
        challenge.algorithm, username, challenge.realm, password, method, uri,
        challenge.nonce, qop=qop, nc=nc_text, cnonce=cnonce if qop else None,
    )  # fmt: skip
    parts = [
        f"username={grammar.quote(username)}", f"realm={grammar.quote(challenge.realm)}",
        f'nonce="{challenge.nonce}"', f'uri="{uri}"', f'response="{response}"',
        f"algorithm={challenge.algorithm}",
    ]  # fmt: skip
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f'cnonce="{cnonce}"']
    if challenge.opaque is not None:
        parts.append(f"opaque={grammar.quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)
