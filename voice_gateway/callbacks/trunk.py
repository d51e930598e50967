"""The outbound trunk from configuration: where our INVITEs go and as whom."""

from __future__ import annotations

from config.settings import CallbackSettings
from voice_gateway.sip.events import Transport
from voice_gateway.sip.uac import OutboundRoute

_TRANSPORTS = {"udp": Transport.UDP, "tcp": Transport.TCP, "tls": Transport.TLS}


def outbound_route(settings: CallbackSettings) -> OutboundRoute:
    """The route of ``[callbacks]``: the trunk as next hop (none: the target's host),
    its transport and credentials, the hotline's caller ID, ring timeout, redirect rules."""
    proxy = (settings.trunk_host, settings.trunk_port) if settings.trunk_host else None
    return OutboundRoute(
        proxy=proxy, transport=_TRANSPORTS[settings.trunk_transport],
        username=settings.trunk_username or None, password=settings.trunk_password or None,
        caller_id=settings.caller_id, domain=settings.caller_domain or None,
        display_name=settings.display_name or None, ring_timeout_s=settings.ring_timeout_s,
        max_redirects=settings.max_redirects, redirect_hosts=settings.redirect_hosts,
    )  # fmt: skip


def target_uri(number: str, settings: CallbackSettings) -> str:
    """``sip:<number>@<target_domain or trunk_host>``; a SIP URI is taken as it is."""
    if number.startswith(("sip:", "sips:")):
        return number
    domain = settings.target_domain or settings.trunk_host
    if not domain:
        raise ValueError("callbacks.target_domain or callbacks.trunk_host is needed to dial "
                         "a number")
    if settings.target_domain or settings.trunk_port == 5060:
        return f"sip:{number}@{domain}"
    return f"sip:{number}@{domain}:{settings.trunk_port}"
