from __future__ import annotations

import dataclasses

import pytest

from config import SipSettings
from voice_gateway.calls.admission import AdmissionControl

BASE = SipSettings(allowed_networks=("127.0.0.0/8", "::1/128", "10.20.0.0/16"),
                   max_calls=2, rate_limit_per_s=1.0, rate_limit_burst=3)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1", True), ("10.20.3.4", True), ("::1", True), ("::ffff:10.20.0.9", True),
     ("10.21.0.1", False), ("192.0.2.1", False), ("not-an-ip", False), ("", False)],
)
def test_allowlist(host: str, allowed: bool) -> None:
    d = AdmissionControl(BASE).check_request(host)
    assert d.allowed is allowed
    if not allowed:
        assert d.status == 403 and (not host or host not in d.reason)


def test_default_is_loopback_only() -> None:
    ac = AdmissionControl(SipSettings())
    assert ac.source_allowed("127.0.0.1") and ac.source_allowed("::1")
    assert not ac.source_allowed("10.0.0.1")


def test_max_calls_gives_503_with_retry_after() -> None:
    ac = AdmissionControl(BASE)
    assert ac.check_new_call("127.0.0.1", 1, 0.0).allowed
    d = ac.check_new_call("127.0.0.1", 2, 0.0)
    assert (d.allowed, d.status, d.retry_after) == (False, 503, 30)


def test_rate_limit_per_source_with_burst_and_refill() -> None:
    ac = AdmissionControl(BASE)
    results = [ac.check_new_call("127.0.0.1", 0, 0.0).allowed for _ in range(4)]
    assert results == [True, True, True, False]
    assert ac.check_new_call("127.0.0.1", 0, 0.0).status == 403
    assert ac.check_new_call("127.0.0.2", 0, 0.0).allowed  # another source has its own bucket
    assert ac.check_new_call("127.0.0.1", 0, 1.0).allowed  # one token back after a second
    assert not ac.check_new_call("127.0.0.1", 0, 1.0).allowed


def test_bad_network_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"sip\.allowed_networks"):
        AdmissionControl(dataclasses.replace(BASE, allowed_networks=("10.0.0.0/33",)))


def test_asr_backlog_and_draining_turn_new_calls_away_with_503() -> None:
    ac = AdmissionControl(BASE, max_backlog_s=60.0)
    assert ac.check_new_call("127.0.0.1", 0, 0.0, asr_backlog_s=59.0).allowed
    d = ac.check_new_call("127.0.0.1", 0, 1.0, asr_backlog_s=61.0)
    assert (d.allowed, d.status, d.retry_after) == (False, 503, BASE.retry_after_s)
    assert "backlog" in d.reason
    d = ac.check_new_call("127.0.0.1", 0, 2.0, draining=True)
    assert (d.allowed, d.status) == (False, 503)
    # Requests of calls in progress are never refused for the backlog.
    assert ac.check_request("127.0.0.1").allowed


def test_idle_sources_are_forgotten() -> None:
    """The eviction compared stored tokens (always below the burst after a call) with the
    burst, so nothing was ever evicted and every INVITE past 10,000 sources scanned all."""
    ac = AdmissionControl(dataclasses.replace(BASE, allowed_networks=("10.0.0.0/8",)))
    for n in range(10_001):
        ac.check_new_call(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 0, 0.0)
    assert len(ac._buckets) == 10_001
    ac.check_new_call("10.255.0.1", 0, 3600.0)  # an hour later every bucket has refilled
    assert len(ac._buckets) <= 5_002
