"""TLS for SIP (RFC 3261 §26.2): our server context, the context that verifies peers we
connect to, and a self-signed trial certificate.

The trial certificate is for trials only: a trunk must be told to trust it (or to skip
verification). In production, ``sip.tls_cert`` / ``sip.tls_key`` name a certificate the
trunks trust.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Sequence
from pathlib import Path

TRIAL_DAYS = 365


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Our side of SIP over TLS: ``cert`` (PEM, chain included) and its ``key``; TLS 1.2
    or later. Raises ``OSError`` / ``ssl.SSLError`` if they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """For the TLS connections we open (a BYE after the peer's connection closed): the
    peer's certificate must chain to ``ca_file`` (else the system's CAs) and name the
    address we connect to."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def make_trial_certificate(cert: Path, key: Path, hosts: Sequence[str]) -> None:
    """Write a self-signed certificate for ``hosts`` (names or IP addresses) and its
    private key (readable by the owner only), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "sip"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voice-intake trial")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=TRIAL_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
    )  # fmt: skip
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(private, hashes.SHA256())
    key.parent.mkdir(parents=True, exist_ok=True)
    cert.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))  # fmt: skip
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def trial_pair(directory: Path, hosts: Sequence[str]) -> tuple[Path, Path]:
    """The trial certificate and key in ``directory``, made on first use and kept (so a
    trunk told to trust it keeps trusting it across restarts)."""
    cert, key = directory / "trial-cert.pem", directory / "trial-key.pem"
    if not (cert.exists() and key.exists()):
        make_trial_certificate(cert, key, hosts)
    return cert, key
