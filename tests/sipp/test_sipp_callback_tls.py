"""A 回访 survey over SIP over TLS to the trunk (#19: ``[callbacks] trunk_transport =
"tls"``). Debian's sipp has no TLS, so, as in test_sipp_tls, a relay started here speaks
TLS: it accepts the gateway's TLS connections with a certificate made here (the gateway
verifies it through ``sip.tls_ca_file``) and carries them over TCP to sipp-as-citizen,
whose Contact names the relay with ``transport=tls``. sipp's own port is known to
nobody but the relay, and the relay takes only TLS: the INVITE, ACK and BYE sipp's
scenario waits for can only have come over TLS."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from config import Settings
from storage import DraftWorkflow
from storage.callbacks import CallbackStore
from tests.sipp.harness import free_port, running_gateway
from tests.sipp.test_sipp_callback import _handled_order, keys, quiet_prompts
from tests.sipp.test_sipp_tls import tls_relay, tls_settings
from tests.sipp.uas import sipp_uas
from voice_gateway.callbacks.service import call_now
from voice_gateway.sip.tls import make_trial_certificate, server_context

pytestmark = [pytest.mark.slow]


async def test_survey_over_tls_to_the_trunk(settings: Settings, tmp_path: Path) -> None:
    cert, key = tmp_path / "trunk-cert.pem", tmp_path / "trunk-key.pem"
    make_trial_certificate(cert, key, ["127.0.0.1"])
    sipp_port = free_port()
    async with tls_relay(sipp_port, None, listen=server_context(cert, key)) as trunk:
        callbacks = dataclasses.replace(settings.callbacks, trunk_host="127.0.0.1",
                                        trunk_port=trunk, trunk_transport="tls")  # fmt: skip
        settings = quiet_prompts(tls_settings(settings, tls_ca_file=cert), tmp_path)
        settings = dataclasses.replace(settings, callbacks=callbacks)
        values = {"MEDIA": keys(tmp_path, "1", "2"), "CONTACT_PORT": str(trunk)}
        async with (running_gateway(settings) as (services, gateway),
                    sipp_uas("uas_answer_tls.xml", tmp_path, values=values, transport="t1",
                             port=sipp_port) as uas):  # fmt: skip
            order = await _handled_order(services)
            out = await call_now(services, gateway, order, "13800000000")
            run = await uas.result()
            row = await CallbackStore(services.store.engine, services.store.bus).for_draft(
                order)
            found = await DraftWorkflow(services.store.engine, services.store.bus).draft(order)
    assert run.returncode == 0, run.errors or run.stdout[-2000:]
    assert (out["outcome"], out["resolved"], out["satisfaction"]) == ("answered", True, "basic")
    assert row is not None and row["status"] == "done"
    assert found is not None and found[1]["resolved_at"] and found[1]["satisfaction"] == "basic"
