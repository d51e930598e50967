"""Who may place a call: trunk allowlist, concurrent-call ceiling, per-source rate limit.

Pure: the caller passes the source address, the number of calls in progress and the time.
Refusals carry the SIP status to answer with (403, or 503 with Retry-After), a reason
for the log, which never contains personal data, and a one-word ``code`` for metrics.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from config import SipSettings


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200
    reason: str = ""
    retry_after: int | None = None
    code: str = ""  # not_allowed, rate_limit, draining, max_calls, asr_backlog


ALLOW = Decision(True)


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class AdmissionControl:
    """One per gateway process."""

    settings: SipSettings
    max_backlog_s: float | None = None
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _swept_at: float = float("-inf")

    def __post_init__(self) -> None:
        self._networks = _networks("sip.allowed_networks", self.settings.allowed_networks)
        self._secure = _networks("sip.secure_networks", self.settings.secure_networks)

    def source_allowed(self, host: str) -> bool:
        return _within(host, self._networks)

    def source_secure(self, host: str) -> bool:
        """Whether calls from ``host`` must use SIP over TLS and SRTP (sip.secure_networks)."""
        return _within(host, self._secure)

    def check_request(self, host: str) -> Decision:
        """Any request: only from an allowed trunk network."""
        if not self.source_allowed(host):
            return Decision(False, 403, "source not in sip.allowed_networks", code="not_allowed")
        return ALLOW

    def check_new_call(self, host: str, active_calls: int, now: float, *,
                       asr_backlog_s: float = 0.0, draining: bool = False) -> Decision:
        """An INVITE that would start a call. ``asr_backlog_s``: seconds of caller audio
        waiting to be decoded; beyond ``max_backlog_s`` new calls are turned away (503)
        so that calls in progress keep their recognition."""
        if not (d := self.check_request(host)).allowed:
            return d
        if not self._take_token(host, now):
            return Decision(False, 403, "call rate limit exceeded for source",
                            code="rate_limit")
        retry = self.settings.retry_after_s
        if draining:
            return Decision(False, 503, "draining", retry, "draining")
        if active_calls >= self.settings.max_calls:
            return Decision(False, 503, "at sip.max_calls", retry, "max_calls")
        if self.max_backlog_s is not None and asr_backlog_s > self.max_backlog_s:
            return Decision(False, 503, "ASR backlog over asr.max_backlog_s", retry,
                            "asr_backlog")
        return ALLOW

    def _take_token(self, host: str, now: float) -> bool:
        rate, burst = self.settings.rate_limit_per_s, float(self.settings.rate_limit_burst)
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        if len(self._buckets) > 10_000 and now - self._swept_at >= 1.0:
            # Forget sources whose bucket has refilled (idle) rather than grow without
            # bound; at most once a second, so a flood of sources costs no scan per call.
            self._swept_at = now
            full = [h for h, b in self._buckets.items()
                    if b.tokens + (now - b.updated) * rate >= burst]
            for h in full[:5_000]:
                del self._buckets[h]
        return True


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(key: str, cidrs: tuple[str, ...]) -> list[Network]:
    try:
        return [ipaddress.ip_network(n, strict=False) for n in cidrs]
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _within(host: str, networks: list[Network]) -> bool:
    if not networks:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)
