"""The SIP router under the faults that used to lose calls: each test sends raw SIP to a
running gateway on loopback (fake ASR engine) and checks what comes back and what is
stored."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from asr.engines.base import EngineSpec
from config import Settings
from tests.sip.support import invite, request
from tests.sipp.harness import running_gateway, sip_settings

FAKE = EngineSpec(kind="fake")


async def exchange(port: int, data: bytes, *, want: int, within: float = 10.0) -> list[str]:
    """Send ``data`` in one TCP segment; the status lines of the responses read until
    ``want`` final (non-1xx) responses have come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    seen: list[str] = []
    buffer = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    try:
        while sum(1 for s in seen if not s.startswith("1")) < want:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - loop.time())
            if not chunk:
                break
            buffer += chunk
            for status in re.findall(rb"^SIP/2\.0 (\d{3}[^\r]*)\r\n", buffer, re.M):
                seen.append(status.decode())
            buffer = buffer[buffer.rfind(b"SIP/2.0 "):] if b"\r\n\r\n" not in buffer else b""
    finally:
        writer.close()
    return seen


def tcp_invite(n: int, **kw: object) -> bytes:
    return invite(call_id=f"burst-{n}", branch=f"z9hG4bKburst{n}", from_tag=f"f{n}",
                  via_transport="TCP", **kw)


async def test_a_pipelined_burst_never_exceeds_max_calls(settings: Settings,
                                                         tmp_path: Path) -> None:
    """12 INVITEs in one TCP segment with max_calls=5: five calls, seven 503s."""
    settings = sip_settings(settings, max_calls=5, answer_delay_ms=2000)
    async with running_gateway(settings, spec=FAKE, workers=1) as (_services, gateway):
        burst = b"".join(tcp_invite(n) for n in range(12))
        statuses = await exchange(settings.sip.port, burst, want=7)
        assert [s for s in statuses if s.startswith("503")] == ["503 Service Unavailable"] * 7
        assert len(gateway.calls) == 5


async def test_invite_and_cancel_in_one_read_is_487_and_never_answered(
    settings: Settings,
) -> None:
    settings = sip_settings(settings, answer_delay_ms=500)
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, gateway):
        cancel = request("CANCEL", call_id="burst-0", branch="z9hG4bKburst0", from_tag="f0",
                         via_transport="TCP", cseq_method="CANCEL")
        statuses = await exchange(settings.sip.port, tcp_invite(0) + cancel, want=2)
        assert "487 Request Terminated" in statuses
        assert not any(s.startswith("200") and "OK" in s for s in statuses[:1])
        for _ in range(50):
            if not gateway.calls:
                break
            await asyncio.sleep(0.1)
        assert gateway.calls == {}
        assert await services.store.list_drafts() == []  # nobody was heard: no draft
        assert await services.store.unfinished_calls() == []  # and nothing left open


async def test_a_database_stall_gets_503_with_retry_after_not_480(settings: Settings) -> None:
    """The write lock held by another client: the INVITE gets 503 + Retry-After within
    sip.setup_deadline_s (it rang for 30 s, then got 480), and the refused call leaves no
    row behind for recovery to draft."""
    import sqlite3

    settings = sip_settings(settings, setup_deadline_s=0.5, answer_delay_ms=100)
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, gateway):
        lock = sqlite3.connect(settings.data_dir / "voice-intake.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            loop = asyncio.get_running_loop()
            sent = loop.time()
            statuses = await exchange(settings.sip.port, tcp_invite(1), want=1)
            took = loop.time() - sent
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert statuses[-1].startswith("503"), statuses
        assert took < 3.0  # the deadline, not the lock's 5 s busy timeout or a ring
        for _ in range(50):
            if not gateway.calls:
                break
            await asyncio.sleep(0.1)
        assert gateway.calls == {}  # the slot and the RTP port are free again
        await services.store.settle()
        assert await services.store.unfinished_calls() == []


async def test_a_refused_invite_carries_retry_after(settings: Settings) -> None:
    settings = sip_settings(settings, setup_deadline_s=0.5, answer_delay_ms=100)
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, _gateway):
        async def stalled(*args: object, **kwargs: object) -> str:
            from storage import StorageStalled

            raise StorageStalled("not stored within 0.5 s")

        services.store.create_call = stalled  # type: ignore[method-assign]
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.sip.port)
        writer.write(tcp_invite(2))
        data = b""
        while b"503" not in data:
            data += await asyncio.wait_for(reader.read(65536), 5.0)
        writer.close()
        assert b"Retry-After: 30" in data


async def test_a_fault_in_call_setup_still_answers_and_frees_the_slot(
    settings: Settings, monkeypatch: object,
) -> None:
    from voice_gateway.calls import sip_gateway

    async def broken(self: object) -> None:
        raise RuntimeError("a bug in setup")

    settings = sip_settings(settings, max_calls=1)
    async with running_gateway(settings, spec=FAKE, workers=1) as (_services, gateway):
        monkeypatch.setattr(sip_gateway.SipCallTransport, "prepare", broken)  # type: ignore[attr-defined]
        for n in range(3):  # with max_calls=1, a leaked slot would make the next one 503
            statuses = await exchange(settings.sip.port, tcp_invite(n), want=1)
            assert [s for s in statuses if not s.startswith("1")] == [
                "500 Server Internal Error"], statuses
            for _ in range(50):
                if not gateway.calls:
                    break
                await asyncio.sleep(0.05)
            assert gateway.calls == {}


async def test_a_caller_id_that_is_markup_is_unknown_and_kept_escaped(
    settings: Settings,
) -> None:
    settings = sip_settings(settings, answer_delay_ms=50)
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, gateway):
        data = tcp_invite(5).replace(b"<sip:13812345678@127.0.0.1>",
                                     b"<sip:%3Csvg%2Fonload%3Dalert(3)%3E@127.0.0.1>")
        statuses = await exchange(settings.sip.port, data, want=1)
        assert statuses[-1].startswith("200")
        (runner,) = gateway.calls.values()
        call_id = runner.call_id
        await gateway.close()
        call = await services.store.get_call(call_id)
        drafts = await services.store.list_drafts()
    assert call is not None and call.caller_number is None
    assert drafts[0]["phone"] is None  # not "32333"


async def test_an_asr_backlog_turns_new_calls_away_but_keeps_the_ones_in_progress(
    settings: Settings,
) -> None:
    settings = sip_settings(settings, answer_delay_ms=50)
    async with running_gateway(settings, spec=FAKE, workers=1) as (_services, gateway):
        statuses = await exchange(settings.sip.port, tcp_invite(20), want=1)
        assert statuses[-1].startswith("200")
        gateway.backlog_s = lambda: 1e6  # type: ignore[method-assign]
        statuses = await exchange(settings.sip.port, tcp_invite(21), want=1)
        assert statuses[-1].startswith("503")
        assert len(gateway.calls) == 1  # the call in progress goes on


async def test_shutdown_while_a_call_rings_answers_its_invite(settings: Settings) -> None:
    """A graceful restart with calls in setup: each INVITE gets 503 (it used to get no
    final response: the trunk waited for its own timer), and no row stays active."""
    settings = sip_settings(settings, answer_delay_ms=5000)
    async with running_gateway(settings, spec=FAKE, workers=1) as (services, gateway):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.sip.port)
        writer.write(tcp_invite(30))
        data = b""
        while b"180 " not in data:
            data += await asyncio.wait_for(reader.read(65536), 5.0)
        await asyncio.sleep(0.3)  # stored by now, still ringing
        await gateway.close()
        while b"503" not in data:
            data += await asyncio.wait_for(reader.read(65536), 5.0)
        writer.close()
        assert gateway.calls == {}
        assert await services.store.unfinished_calls() == []
        assert await services.store.list_drafts() == []


async def test_tcp_from_outside_the_allowlist_is_closed_before_a_byte_is_read(
    settings: Settings,
) -> None:
    """Connections used to be accepted from any source (300 of 300 from 127.0.0.2 held
    with 127.0.0.1/32 allowed), and each stayed open forever."""
    settings = sip_settings(settings, allowed_networks=("127.0.0.1/32",))
    async with running_gateway(settings, spec=FAKE, workers=1) as (_services, gateway):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", settings.sip.port, local_addr=("127.0.0.2", 0))
        writer.write(tcp_invite(40))
        assert await asyncio.wait_for(reader.read(65536), 5.0) == b""  # closed, no answer
        writer.close()
        assert gateway.calls == {}
        statuses = await exchange(settings.sip.port, tcp_invite(41), want=1)  # 127.0.0.1
        assert statuses[-1].startswith("200")
