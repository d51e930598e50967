"""bench/sip, outbound row: 回访 survey calls placed by the gateway to sipp-as-citizen.

sipp listens as a UAS (tests/sipp/scenarios/uas_answer.xml): it answers, presses 1 and 1
(RFC 2833 pcaps, 1.5 s apart) and waits for our BYE. The gateway's
:class:`~voice_gateway.callbacks.dialer.Dialer` places ``calls`` surveys, paced at
``rate`` INVITEs a second with at most ``concurrency`` up at once (the per-trunk caps),
each walking the shipped survey menu with no prompt audio. Figures: INVITEs a second
achieved, INVITE→answered p50/p95, peak surveys up at once, answered/failed, and the
gateway process's CPU per survey (``getrusage``: this process is the gateway).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.sipp.harness import free_port
from tests.sipp.pcap import write_dtmf_pcap
from tests.sipp.uas import sipp_uas
from voice_gateway.callbacks.dialer import Dialer
from voice_gateway.callbacks.survey import SurveyAnswers, load_survey_menu
from voice_gateway.calls.sip_gateway import SipGateway
from voice_gateway.sip import Event as SipEvent
from voice_gateway.sip.events import OutboundAnswered
from voice_gateway.sip.uac import OutboundRoute

DTMF_1 = "/usr/share/sip-tester/dtmf_2833_1.pcap"


def _cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


@dataclass
class OutboundLevel:
    calls: int
    rate: float
    concurrency: int
    answered: int = 0
    satisfied: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    invites_s: float = 0.0  # first to last INVITE
    setup_ms: list[float] = field(default_factory=list)  # INVITE -> 200 (ACKed)
    peak_up: int = 0
    cpu_s: float = 0.0
    load: float = 0.0
    sipp_rc: int = 0

    @property
    def attempts_per_s(self) -> float:
        return (self.calls - 1) / self.invites_s if self.invites_s > 0 else 0.0

    def setup(self, q: float) -> float:
        if not self.setup_ms:
            return 0.0
        ordered = sorted(self.setup_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def ms_cpu_per_survey(self) -> float:
        return self.cpu_s * 1000 / self.answered if self.answered else 0.0

    @property
    def ok(self) -> bool:
        return self.answered == self.calls and self.sipp_rc == 0


def _keys_media(workdir: Path) -> str:
    second = workdir / "bench-key-1b.pcap"
    write_dtmf_pcap(second, "1")
    return "\n".join(f'<pause milliseconds="1500"/>\n'
                     f'<nop><action><exec play_pcap_audio="{p}"/></action></nop>'
                     for p in (DTMF_1, str(second)))  # fmt: skip


async def outbound_level(gateway: SipGateway, workdir: Path, calls: int, rate: float,
                         concurrency: int) -> OutboundLevel:  # fmt: skip
    """Place ``calls`` surveys to one sipp UAS; see the module docstring."""
    level = OutboundLevel(calls, rate, concurrency)
    dialer = Dialer(gateway, load_survey_menu())
    sent: dict[object, float] = {}
    forward = gateway.on_outbound

    def timed(ev: SipEvent) -> None:
        if isinstance(ev, OutboundAnswered) and ev.call in sent:
            level.setup_ms.append((time.perf_counter() - sent[ev.call]) * 1000)
        if forward is not None:
            forward(ev)

    gateway.on_outbound = timed
    invite = gateway.core.invite

    def stamped_invite(*args: object, **kwargs: object) -> object:
        handle = invite(*args, **kwargs)  # type: ignore[arg-type]
        sent[handle] = time.perf_counter()
        return handle

    gateway.core.invite = stamped_invite  # type: ignore[assignment,method-assign]
    slots = asyncio.Semaphore(concurrency)
    up = 0
    port = free_port()
    media = {"MEDIA": _keys_media(workdir)}
    try:
        async with sipp_uas("uas_answer.xml", workdir, values=media, calls=calls,
                            port=port, timeout_s=120) as uas:  # fmt: skip
            route = OutboundRoute(proxy=("127.0.0.1", uas.port), ring_timeout_s=30)

            async def one(i: int) -> None:
                nonlocal up
                async with slots:
                    up += 1
                    level.peak_up = max(level.peak_up, up)
                    try:
                        result = await dialer.call(f"sip:1380000{i:04d}@127.0.0.1:{uas.port}",
                                                   route, order_id=f"bench-{i}")
                    finally:
                        up -= 1
                if result.outcome == "answered":
                    level.answered += 1
                    level.satisfied += result.answers == SurveyAnswers(True, "satisfied")
                else:
                    level.failed[result.outcome] = level.failed.get(result.outcome, 0) + 1

            cpu0, t0 = _cpu(), time.perf_counter()
            tasks = []
            for i in range(calls):
                tasks.append(asyncio.create_task(one(i)))
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)
            level.elapsed_s = time.perf_counter() - t0
            level.cpu_s = _cpu() - cpu0
            stamps = sorted(sent.values())
            level.invites_s = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
            level.load = os.getloadavg()[0]
            level.sipp_rc = (await uas.result()).returncode
    finally:
        gateway.on_outbound = forward
        gateway.core.invite = invite  # type: ignore[method-assign]
    return level


def outbound_rows(levels: list[OutboundLevel]) -> list[list[str]]:
    """The report's rows."""
    return [[
        str(lv.calls), f"{lv.rate:g}", str(lv.concurrency), f"{lv.attempts_per_s:.1f}",
        str(lv.peak_up), str(lv.answered), str(lv.satisfied),
        ",".join(f"{k} {v}" for k, v in lv.failed.items()) or "0",
        f"{lv.setup(0.5):.0f}", f"{lv.setup(0.95):.0f}", f"{lv.ms_cpu_per_survey:.0f}",
        f"{lv.load:.1f}", "ok" if lv.ok else "FAIL",
    ] for lv in levels]  # fmt: skip


OUTBOUND_HEADERS = ["surveys", "INVITE/s asked", "cap up", "INVITE/s seen", "peak up",
                    "answered", "1 and 1 heard", "failed", "200 p50 ms", "p95",
                    "gw ms cpu/survey", "load", "verdict"]  # fmt: skip


def median_setup(levels: list[OutboundLevel]) -> float:
    values = [v for lv in levels for v in lv.setup_ms]
    return statistics.median(values) if values else 0.0
