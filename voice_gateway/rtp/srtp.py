"""SRTP (RFC 3711) for one call's RTP, through libsrtp (``pylibsrtp``, as aiortc uses).

Each side sends with its own master key (SDES, RFC 4568): we protect with ours and
unprotect with the peer's. libsrtp keeps the rollover counter and the replay window per
SSRC, and checks the authentication tag before decrypting; a packet that fails either is
an error here, counted and dropped by the endpoint like any other garbage.
"""

from __future__ import annotations

import pylibsrtp

# RFC 4568 suite names → libsrtp profiles.
PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


class SrtpError(ValueError):
    """A packet failed authentication or the replay check, or could not be processed."""


class SrtpContext:
    """Both directions of one call: ``protect`` what we send, ``unprotect`` what comes.

    ``suite`` is an RFC 4568 crypto suite, the keys master key||salt (30 bytes); keys are
    never kept in a repr.
    """

    def __init__(self, suite: str, local_key: bytes, remote_key: bytes) -> None:
        profile = PROFILES.get(suite)
        if profile is None:
            raise ValueError(f"unsupported SRTP suite {suite}")
        self.suite = suite
        self._fingerprint = (local_key, remote_key)
        self._tx = pylibsrtp.Session(pylibsrtp.Policy(
            key=local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        self._rx = pylibsrtp.Session(pylibsrtp.Policy(
            key=remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))

    def matches(self, suite: str, local_key: bytes, remote_key: bytes) -> bool:
        """Whether this context already uses these parameters (a re-INVITE kept them)."""
        return self.suite == suite and self._fingerprint == (local_key, remote_key)

    def protect(self, packet: bytes) -> bytes:
        """An RTP packet of ours, encrypted and authenticated."""
        try:
            return self._tx.protect(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"cannot protect: {exc}") from None

    def unprotect(self, packet: bytes) -> bytes:
        """The RTP packet inside an SRTP packet from the peer; :class:`SrtpError` if it is
        not authentic, a replay, or malformed."""
        try:
            return self._rx.unprotect(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(str(exc)) from None

    def __repr__(self) -> str:
        return f"SrtpContext({self.suite})"
