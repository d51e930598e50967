"""#18 item 7: the trunk side of the shipped dispatcher.cfg, with the real Kamailio in front
of a real gateway.

- SIP over TLS: a call over TLS to Kamailio reaches the gateway. Debian's sipp has no TLS,
  so it speaks TCP to the TLS relay of the #14 tests, which verifies Kamailio's certificate.
- Flood limits: one source sending far beyond FLOOD_REQS requests in 2 s is cut off (its
  requests dropped, unanswered, for BAN_S), while a call from another source still passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from asr.engines.base import EngineSpec
from config import Settings
from tests.interop.peers import (
    SCENARIOS,
    render_dispatcher,
    require_binary,
    run_sipp_at,
    running_kamailio,
    status_of,
)
from tests.sipp.harness import running_gateway, sip_settings, wait_for_drafts
from tests.sipp.test_sipp_tls import tls_relay
from voice_gateway.sip.tls import client_context

FLOODER, CALLER = "127.0.0.2", "127.0.0.3"


@pytest.fixture(autouse=True)
def _peers() -> None:
    require_binary("/usr/sbin/kamailio")
    require_binary("/usr/bin/sipp")


def options(port: int, local: int, n: int) -> bytes:
    return (f"OPTIONS sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {FLOODER}:{local};branch=z9hG4bK-flood{n}\r\n"
            f"From: <sip:scanner@{FLOODER}>;tag=f{n}\r\nTo: <sip:12345@127.0.0.1>\r\n"
            f"Call-ID: flood-{n}@{FLOODER}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()  # fmt: skip


def flood(port: int, count: int, then_wait_s: float) -> tuple[int, int | None]:
    """``count`` OPTIONS from FLOODER at once; the answers they got, and the status of one
    more sent after ``then_wait_s`` (None: unanswered)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((FLOODER, 0))
        local = s.getsockname()[1]
        for n in range(count):
            s.sendto(options(port, local, n), ("127.0.0.1", port))
        answered = 0
        s.settimeout(then_wait_s)
        with contextlib.suppress(TimeoutError):
            while True:
                if status_of(s.recv(65536)) is not None:
                    answered += 1
        s.sendto(options(port, local, count), ("127.0.0.1", port))
        s.settimeout(3)
        try:
            return answered, status_of(s.recv(65536))
        except TimeoutError:
            return answered, None


async def test_a_flood_from_one_source_is_cut_off_and_others_still_call(
    settings: Settings, tmp_path: Path
) -> None:
    gateway_settings = sip_settings(settings)
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{gateway_settings.sip.port}"])
    async with (
        running_gateway(gateway_settings, spec=EngineSpec("fake"), workers=1) as (services, _),
        running_kamailio(shipped.config, tmp_path, shipped.port) as kamailio,
    ):
        answered, later = await asyncio.to_thread(flood, kamailio.port, 100, 2.0)
        run = await run_sipp_at(SCENARIOS / "uac_routed.xml", ("127.0.0.1", kamailio.port),
                                tmp_path, local_ip=CALLER, inf=[["13900000051"]],
                                values={"HOLD_MS": "300"})
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1, within=30)
    # FLOOD_REQS (16) per 2 s pass; the rest, and what the source sends next, get nothing.
    assert answered < 40, answered
    assert later is None
    assert kamailio.lines(f"flood from {FLOODER}")
    assert [d["phone"] for d in drafts] == ["13900000051"]


async def test_a_call_over_tls_to_kamailio_reaches_the_gateway(
    settings: Settings, tmp_path: Path
) -> None:
    gateway_settings = sip_settings(settings)
    shipped = render_dispatcher(tmp_path, [f"sip:127.0.0.1:{gateway_settings.sip.port}"])
    async with (
        running_gateway(gateway_settings, spec=EngineSpec("fake"), workers=1) as (services, _),
        running_kamailio(shipped.config, tmp_path, shipped.port) as kamailio,
        tls_relay(shipped.tls_port, client_context(shipped.certificate)) as relay,
    ):
        run = await run_sipp_at(SCENARIOS / "uac_routed.xml", ("127.0.0.1", relay), tmp_path,
                                transport="t1", inf=[["13900000052"]],
                                values={"HOLD_MS": "300"})
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1, within=30)
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "remote-bye"
    assert [d["phone"] for d in drafts] == ["13900000052"]
    invites = kamailio.lines("INVITE sip:12345@")
    assert invites and all(line.endswith("over tls") for line in invites)
    assert [line for line in kamailio.lines("BYE sip:") if line.endswith("over tls")]
