"""The gateway's TLS settings: off without a certificate, a kept trial pair on request,
and clear errors for settings that cannot work."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from config import SipSettings
from voice_gateway.calls.admission import AdmissionControl
from voice_gateway.calls.sip_gateway import tls_context
from voice_gateway.sip.tls import trial_pair


def test_tls_is_off_without_a_certificate(tmp_path: Path) -> None:
    assert tls_context(SipSettings(), tmp_path, "127.0.0.1") is None
    assert not (tmp_path / "tls").exists()


def test_a_trial_certificate_is_made_once_and_used(tmp_path: Path) -> None:
    settings = SipSettings(tls_self_signed=True)
    assert tls_context(settings, tmp_path, "192.0.2.1") is not None
    cert = tmp_path / "tls" / "trial-cert.pem"
    made = cert.read_bytes()
    assert tls_context(settings, tmp_path, "192.0.2.1") is not None
    assert cert.read_bytes() == made


def test_a_configured_pair_is_loaded(tmp_path: Path) -> None:
    cert, key = trial_pair(tmp_path / "mine", ["127.0.0.1"])
    assert tls_context(SipSettings(tls_cert=cert, tls_key=key), tmp_path, "127.0.0.1")


@pytest.mark.parametrize("changes, message", [
    ({"secure_networks": ("10.0.0.0/8",)}, "sip.secure_networks needs SIP over TLS"),
    ({"tls_cert": Path("/nonexistent.pem")}, "go together"),
    ({"tls_cert": Path("/nonexistent.pem"), "tls_key": Path("/nonexistent.key")},
     "cannot load"),
])  # fmt: skip
def test_settings_that_cannot_work_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    settings = dataclasses.replace(SipSettings(), **changes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        tls_context(settings, tmp_path, "127.0.0.1")


def test_secure_sources() -> None:
    admission = AdmissionControl(SipSettings(allowed_networks=("0.0.0.0/0",),
                                             secure_networks=("192.0.2.0/24",)))  # fmt: skip
    assert admission.source_secure("192.0.2.7") and admission.source_secure("::ffff:192.0.2.7")
    assert not admission.source_secure("198.51.100.1")
    assert not admission.source_secure("not an address")
    assert not AdmissionControl(SipSettings()).source_secure("127.0.0.1")
    with pytest.raises(ValueError, match=r"sip\.secure_networks"):
        AdmissionControl(SipSettings(secure_networks=("10.0.0.300/8",)))
