"""Caller numbers never reach logs unmasked."""

from __future__ import annotations

import logging

import pytest

from voice_gateway.sip.privacy import mask_digits
from voice_gateway.sip.uas import UserAgentServer

from .support import SRC, invite


def test_mask_digits() -> None:
    assert mask_digits("sip:13812345678@10.0.0.1:5060") == "sip:*********78@10.0.0.1:**60"
    assert mask_digits("tel:+86-10-12345") == "tel:+86-10-***45"


def test_malformed_message_logs_hold_no_number(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="voice_gateway.sip")
    core = UserAgentServer()
    core.receive_data(invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), SRC)
    core.receive_data(invite().replace(b"SIP/2.0\r\n", b"SIP/9.0\r\n", 1), SRC)
    assert caplog.records
    assert "13812345678" not in caplog.text
