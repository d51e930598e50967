"""HTTPS for the console: a server TLS context from ``http.tls_cert`` and ``http.tls_key``.

TLS 1.2 at least, Python's default server ciphers (forward secrecy, AEAD); HSTS and the
``Secure`` cookie follow from the request being HTTPS (see :mod:`console.security`).
"""

from __future__ import annotations

import ssl

from config.settings import HttpSettings


class TlsConfigError(ValueError):
    """The certificate or key is missing, unreadable or does not match."""


def server_context(http: HttpSettings) -> ssl.SSLContext | None:
    """The console's TLS context, ``None`` when neither file is configured."""
    if http.tls_cert is None and http.tls_key is None:
        return None
    if http.tls_cert is None or http.tls_key is None:
        raise TlsConfigError("http.tls_cert and http.tls_key must be set together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(http.tls_cert, http.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"http.tls_cert/http.tls_key ({http.tls_cert}, {http.tls_key}): "
                             f"{exc}") from exc
    return ctx
