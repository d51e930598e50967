"""SDES key exchange for SRTP (RFC 4568): the ``a=crypto`` attribute and the keys agreed.

An offer of ``RTP/SAVP`` lists crypto lines, each a tag, a suite and a master key||salt;
the answer picks one line, echoes its tag and suite, and carries the answerer's own key
(each side encrypts what it sends with its own key). We take the AES counter-mode suites
of RFC 4568 §6.2, without MKI or session parameters (a line with either is skipped, as
§7.1.2 allows: the offer may hold another line we can take).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

# Suite → length of its master key||salt in bytes (RFC 4568 §6.2: 128-bit key, 112-bit salt).
SUITE_KEY_LENGTHS = {"AES_CM_128_HMAC_SHA1_80": 30, "AES_CM_128_HMAC_SHA1_32": 30}
DEFAULT_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")

# RFC 4568 §9.1:
#   "a=crypto:" tag 1*WSP crypto-suite 1*WSP key-params *(1*WSP session-param)
#   tag        = 1*9DIGIT
#   key-param  = key-method ":" key-info ; "inline:" key||salt ["|" lifetime] ["|" MKI ":" length]
#   lifetime   = ["2^"] 1*(DIGIT)
#   mki-value  = 1*DIGIT ; mki-length = 1*3DIGIT
# (Several key-params separated by ";" need an MKI each: not supported, so not matched.)
CRYPTO_RE = re.compile(
    r"([0-9]{1,9})[ \t]+([A-Za-z0-9_]+)[ \t]+inline:([A-Za-z0-9+/]+={0,2})"
    r"(?:\|((?:2\^)?[0-9]+))?(?:\|([0-9]+:[0-9]{1,3}))?((?:[ \t]+\S+)*)"
)


@dataclass(frozen=True)
class CryptoAttribute:
    """One ``a=crypto`` value (the key is the raw master key||salt)."""

    tag: int
    suite: str
    key: bytes = field(repr=False)
    lifetime: str | None = None
    mki: str | None = None
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        """Parse an ``a=crypto`` value; raise ``ValueError`` if it is malformed."""
        match = CRYPTO_RE.fullmatch(value.strip())
        if match is None:
            raise ValueError("malformed a=crypto attribute")
        try:
            key = base64.b64decode(match[3], validate=True)
        except binascii.Error:
            raise ValueError("a=crypto key is not base64") from None
        return cls(int(match[1]), match[2], key, match[4], match[5],
                   tuple(match[6].split()))  # fmt: skip

    def __str__(self) -> str:
        text = f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"
        if self.lifetime:
            text += f"|{self.lifetime}"
        if self.mki:
            text += f"|{self.mki}"
        return " ".join([text, *self.session_params])

    def usable(self, suites: tuple[str, ...]) -> bool:
        """Whether we can take this line: one of ``suites``, a key of the suite's
        length, no MKI and no session parameters."""
        return (self.suite in suites and len(self.key) == SUITE_KEY_LENGTHS.get(self.suite)
                and self.mki is None and not self.session_params)  # fmt: skip


@dataclass(frozen=True)
class SrtpKeys:
    """What SDES agreed for one stream: the suite, the crypto line's tag, and the master
    key||salt each side sends with (``local_key`` ours, ``remote_key`` the peer's).
    Keys never appear in a repr (nor, so, in a log)."""

    suite: str
    tag: int
    local_key: bytes = field(repr=False)
    remote_key: bytes = field(repr=False)


def crypto_lines(attributes: list[tuple[str, str | None]]) -> list[CryptoAttribute]:
    """The well-formed ``a=crypto`` lines of a media section, in order."""
    lines = []
    for name, value in attributes:
        if name == "crypto" and value:
            try:
                lines.append(CryptoAttribute.parse(value))
            except ValueError:
                continue
    return lines


def new_master_key(suite: str) -> bytes:
    """A fresh random master key||salt for ``suite``."""
    return secrets.token_bytes(SUITE_KEY_LENGTHS[suite])
