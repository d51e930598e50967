"""The outbound trunk from configuration."""

from __future__ import annotations

import pytest

from config.settings import CallbackSettings
from voice_gateway.callbacks.trunk import outbound_route, target_uri
from voice_gateway.sip.events import Transport


def test_route_from_settings() -> None:
    route = outbound_route(CallbackSettings(
        trunk_host="10.0.0.5", trunk_port=5070, trunk_transport="tcp", trunk_username="hl",
        trunk_password="pw", caller_id="010-12345", caller_domain="hotline.example",
        display_name="12345热线", ring_timeout_s=30, redirect_hosts=("sbc2.example",)))  # fmt: skip
    assert route.proxy == ("10.0.0.5", 5070) and route.transport is Transport.TCP
    assert (route.username, route.password) == ("hl", "pw")
    assert (route.caller_id, route.domain, route.display_name) == (
        "010-12345", "hotline.example", "12345热线")
    assert route.ring_timeout_s == 30 and route.redirect_hosts == ("sbc2.example",)


def test_no_trunk_no_credentials() -> None:
    route = outbound_route(CallbackSettings())
    assert route.proxy is None and route.username is None and route.domain is None


def test_target_uri() -> None:
    s = CallbackSettings(trunk_host="10.0.0.5", trunk_port=5070)
    assert target_uri("13800000000", s) == "sip:13800000000@10.0.0.5:5070"
    assert target_uri("sip:x@y", s) == "sip:x@y"
    s = CallbackSettings(trunk_host="10.0.0.5", target_domain="carrier.example")
    assert target_uri("13800000000", s) == "sip:13800000000@carrier.example"
    with pytest.raises(ValueError):
        target_uri("13800000000", CallbackSettings())
