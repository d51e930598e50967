"""Kamailio 5.6 (Debian's /usr/sbin/kamailio) in front of the real gateway, with the
configurations shipped in deploy/kamailio/ rendered for loopback ports.

- As a record-routing proxy: a CANCEL before the answer, a BYE from the caller and one
  from the gateway, both along the route set, the gateway's over TCP once it exceeds
  1300 bytes (RFC 3261 §18.1.1).
- As a dispatcher in front of two gateways: calls spread over both, then one gateway stops
  and every further call is answered by the survivor.

sipp (Debian's sip-tester) plays the callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from storage.models import Call
from tests.interop.peers import (
    SCENARIOS,
    Kamailio,
    render_dispatcher,
    render_kamailio,
    require_binary,
    run_sipp_at,
    running_kamailio,
)
from tests.sipp.harness import SCENARIOS as SIPP_SCENARIOS
from tests.sipp.harness import free_port, running_gateway, sip_settings, wait_for_drafts
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.services import Services


@pytest.fixture(autouse=True)
def _peers() -> None:
    require_binary("/usr/sbin/kamailio")
    require_binary("/usr/bin/sipp")


@contextlib.asynccontextmanager
async def proxied_gateway(
    settings: Settings, workdir: Path, **sip: object
) -> AsyncIterator[tuple[Services, SipGateway, Kamailio]]:
    """The gateway (fake ASR: these calls carry no speech) behind deploy/kamailio/proxy.cfg."""
    settings = sip_settings(settings, **sip)
    port = free_port()
    config = render_kamailio("proxy.cfg", {
        "PROXY_ADDR": "127.0.0.1", "PROXY_PORT": str(port),
        "GATEWAY": f"sip:127.0.0.1:{settings.sip.port}",
    })  # fmt: skip
    async with (
        running_gateway(settings, spec=EngineSpec("fake"), workers=1) as (
            services,
            gateway,
        ),
        running_kamailio(config, workdir, port) as kamailio,
    ):
        yield services, gateway, kamailio


async def settled(services: Services, count: int) -> list[Call]:
    """The calls, once ``count`` of them are drafted (drafting follows the hang-up)."""
    drafts = await wait_for_drafts(services, count, within=60.0)
    calls = [await services.store.get_call(d["call_id"]) for d in drafts]
    return [c for c in calls if c is not None]


async def test_cancel_through_the_proxy(settings: Settings, tmp_path: Path) -> None:
    async with proxied_gateway(settings, tmp_path, answer_delay_ms=5000) as (
        services, gateway, kamailio,
    ):  # fmt: skip
        run = await run_sipp_at(SIPP_SCENARIOS / "uac_cancel.xml", ("127.0.0.1", kamailio.port),
                                tmp_path)  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        await asyncio.sleep(0.3)
        assert gateway.calls == {}
    assert kamailio.lines("CANCEL sip:12345@127.0.0.1")
    assert await services.store.list_drafts() == []


async def test_caller_bye_follows_the_route_set(settings: Settings, tmp_path: Path) -> None:
    async with proxied_gateway(settings, tmp_path) as (services, gateway, kamailio):
        run = await run_sipp_at(
            SCENARIOS / "uac_routed.xml",
            ("127.0.0.1", kamailio.port),
            tmp_path,
            inf=[["13900000020"]],
            values={"HOLD_MS": "1500"},
        )
        assert run.returncode == 0, run.errors or run.stderr
        ended = await settled(services, 1)
    assert [c.end_reason for c in ended] == ["remote-bye"]
    # The ACK and the BYE went to Kamailio with its Route, for the gateway's Contact.
    contact = f"sip:intake@127.0.0.1:{gateway.settings.port} from 127.0.0.1"
    assert len(kamailio.lines(f"ACK {contact}")) == len(kamailio.lines(f"BYE {contact}")) == 1
    assert gateway.calls == {}


@pytest.mark.parametrize("padding", [0, 1400], ids=["short", "over-1300-bytes"])
async def test_gateway_bye_follows_the_route_set(
    settings: Settings, tmp_path: Path, padding: int
) -> None:
    # The gateway hangs up (no RTP from the caller for 2 s): its BYE goes to Kamailio
    # (the route set), then to the caller. With a From of 1400 more bytes it is too large
    # for UDP and goes over TCP; Kamailio still delivers it.
    async with proxied_gateway(settings, tmp_path, rtp_timeout_s=2.0) as (
        services, _gateway, kamailio,
    ):  # fmt: skip
        run = await run_sipp_at(SCENARIOS / "uac_routed_wait_bye.xml",
                                ("127.0.0.1", kamailio.port), tmp_path,
                                values={"PADDING": "x" * max(padding, 1)})  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        ended = await settled(services, 1)
    assert [c.end_reason for c in ended] == ["rtp_timeout"]
    byes = kamailio.lines("BYE sip:13900000021@127.0.0.1")
    assert len(byes) == 1, byes
    assert byes[0].endswith("over tcp" if padding else "over udp")


async def drafted_on_both(
    a: Services, b: Services, count: int, within: float = 60.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both gateways' drafts, once they make ``count`` together."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        on_a, on_b = await a.store.list_drafts(), await b.store.list_drafts()
        if len(on_a) + len(on_b) >= count or loop.time() > deadline:
            return on_a, on_b
        await asyncio.sleep(0.25)


async def test_dispatcher_fails_over_to_the_surviving_gateway(
    settings: Settings, tmp_path: Path
) -> None:
    first = sip_settings(settings)
    second = sip_settings(dataclasses.replace(settings, data_dir=tmp_path / "data2"))
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{first.sip.port}",
                                           f"sip:127.0.0.1:{second.sip.port}"],
                                FAILOVER_MS="5000")  # fmt: skip
    fake = EngineSpec("fake")

    def callers(start: int) -> list[list[str]]:
        return [[f"139000001{n:02d}"] for n in range(start, start + 10)]

    async with contextlib.AsyncExitStack() as stack:
        services_a, _ = await stack.enter_async_context(
            running_gateway(first, spec=fake, workers=1)
        )
        b = contextlib.AsyncExitStack()
        services_b, _ = await b.enter_async_context(running_gateway(second, spec=fake, workers=1))
        kamailio = await stack.enter_async_context(
            running_kamailio(shipped.config, tmp_path, shipped.port))
        target = ("127.0.0.1", kamailio.port)
        scenario = SCENARIOS / "uac_routed.xml"
        try:
            run = await run_sipp_at(
                scenario,
                target,
                tmp_path,
                calls=10,
                concurrency=3,
                rate=5,
                inf=callers(0),
                values={"HOLD_MS": "500"},
            )
            assert run.returncode == 0, run.errors or run.stderr
            on_a, on_b = await drafted_on_both(services_a, services_b, 10)
        finally:
            await b.aclose()  # the second gateway stops; Kamailio still lists it
        # Round-robin spread the first ten calls over both gateways.
        assert len(on_a) + len(on_b) == 10 and on_a and on_b
        # Every further call is answered, by the survivor (those that pick the stopped
        # gateway first wait FAILOVER_MS, then go on). 5 s, not the shipped 2 s: on a
        # loaded test machine a live gateway may take seconds to answer.
        run = await run_sipp_at(
            scenario,
            target,
            tmp_path,
            calls=10,
            concurrency=3,
            rate=5,
            inf=callers(10),
            values={"HOLD_MS": "500"},
        )
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services_a, len(on_a) + 10)
    assert len(drafts) == len(on_a) + 10
    later = {d["phone"] for d in drafts} - {d["phone"] for d in on_a}
    assert later == {row[0] for row in callers(10)}
