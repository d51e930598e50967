"""IvrCall: the runtime's actions carried out on a call's media (a fake one here)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from asr.engines.base import DecodeResult
from ivr import Menu, default_menu
from ivr.events import IntakeFields, Transfer
from ivr.model import HoursNode, Interval
from storage import Event
from voice_gateway.calls.ivr_call import IvrCall, PromptLibrary


@dataclasses.dataclass
class Played:
    completed: bool


class FakeMedia:
    """Each prompt "plays" until :meth:`finish_current` or a stop (barge-in)."""

    def __init__(self) -> None:
        self.started: list[bytes] = []
        self._current: asyncio.Future[bool] | None = None

    async def play(self, pcm: bytes) -> Played:
        self.started.append(pcm)
        self._current = asyncio.get_running_loop().create_future()
        return Played(await self._current)

    def stop_playback(self) -> None:
        if self._current is not None and not self._current.done():
            self._current.set_result(False)

    def finish_current(self) -> None:
        if self._current is not None and not self._current.done():
            self._current.set_result(True)


class FakePrompts(PromptLibrary):
    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))

    def pcm(self, prompt_id: str) -> bytes | None:
        return prompt_id.encode()  # the prompt's id stands for its audio


class FakeStore:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def record_event(self, event: Event) -> None:
        self.events.append(event)


def agents_all_day() -> Menu:
    """The default menu with agents on duty around the clock (tests run at any hour)."""
    menu = default_menu()
    hours = menu.nodes["agent_hours"]
    assert isinstance(hours, HoursNode)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    always = dataclasses.replace(hours, weekly={d: (Interval(0, 1440),) for d in days})
    return dataclasses.replace(menu, nodes={**menu.nodes, "agent_hours": always})


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def make_call(transfer: Any) -> tuple[IvrCall, FakeMedia, list[IntakeFields], list[str]]:
    media, intakes, ended = FakeMedia(), [], []
    call = IvrCall(agents_all_day(), call_id="c1", caller_number="13900000001", media=media,
                   prompts=FakePrompts(), store=FakeStore(),  # type: ignore[arg-type]
                   end_call=lambda: ended.append("end"), on_intake=intakes.append,
                   transfer=transfer)
    return call, media, intakes, ended


async def test_prompt_after_a_barge_in_is_played() -> None:
    call, media, _intakes, _ended = make_call(None)
    call.start()
    await settle()
    assert media.started == [b"welcome"]
    call.dtmf("1")  # barge-in: the welcome stops, the menu goes on to intake
    await settle()
    assert len(media.started) >= 2, "the prompt queued after the stop was never played"
    assert media.started[1] != b"welcome"
    await call.close()


async def test_transfer_goes_through_the_callable_and_success_ends_the_menu() -> None:
    asked: list[Transfer] = []
    call, media, intakes, _ended = make_call(lambda t: asked.append(t) or True)
    call.start()
    await settle()
    call.dtmf("0")
    await settle()
    assert call.path[-1] == "agents"
    media.finish_current()  # the "transferring you" prompt ends: then the REFER
    await settle()
    assert [(t.node_id, t.mode, t.target) for t in asked] == [("agents", "queue", "agents")]
    call.transfer_result(True)
    await settle()
    assert call.state is not None and call.state.ended
    assert intakes == []  # nothing said or keyed worth drafting: no intake to hand over
    await call.close()
    store = call.store
    assert isinstance(store, FakeStore)
    exits = [(e.payload["node_id"], e.payload["reason"]) for e in store.events
             if e.kind == "ivr_exit"]
    assert exits[-1] == ("agents", "transferred")


async def test_transfer_that_cannot_start_goes_on_to_next() -> None:
    call, media, _intakes, _ended = make_call(lambda t: False)
    call.start()
    await settle()
    call.dtmf("0")
    await settle()
    assert call.path[-1] == "agents"
    media.finish_current()
    await settle()
    assert call.path[-1] == "agent_busy"  # then on to the intake: the caller is heard
    await call.close()


def with_decoder(decode: Any) -> tuple[IvrCall, FakeMedia]:
    media = FakeMedia()
    call = IvrCall(agents_all_day(), call_id="c2", caller_number=None, media=media,
                   prompts=FakePrompts(), store=FakeStore(),  # type: ignore[arg-type]
                   end_call=lambda: None, on_intake=lambda f: None, choice_decoder=decode)
    return call, media


async def at_main(call: IvrCall, media: FakeMedia) -> None:
    call.start()
    await settle()
    media.finish_current()  # the welcome ends: the main menu listens
    await settle()
    assert call.path[-1] == "main" and call.grammar() is not None


async def test_a_reading_under_the_menu_grammar_chooses_when_the_free_text_does_not() -> None:
    asked: list[tuple[str, ...]] = []

    async def decode(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        asked.append(phrases)
        return DecodeResult("投 诉", 0.8)  # Vosk's words, space-separated

    call, media = with_decoder(decode)
    await at_main(call, media)
    call.final("头数", 0.7, b"\1\0" * 1600)  # a free reading that matches nothing
    await settle()
    assert "人工" in asked[0] and asked[0][-1] == "[unk]"
    assert call.path[-1] == "intake" and call.state is not None
    assert call.state.choices == ("投诉举报",)  # chosen by the constrained reading
    assert [k.text for k in call.state.kept] == ["头数"]  # the caller's own words are kept
    await call.close()


async def test_without_a_match_or_with_a_failed_decode_the_free_text_goes_on() -> None:
    async def broken(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        raise RuntimeError("worker lost")

    call, media = with_decoder(broken)
    await at_main(call, media)
    call.final("楼上漏水了", 0.9, b"\1\0" * 1600)
    await settle()
    assert call.path[-1] == "intake" and call.state is not None
    assert call.state.choices == () and call.state.kept[0].text == "楼上漏水了"
    await call.close()


async def test_finals_reach_the_menu_in_order_while_a_decode_is_pending() -> None:
    release = asyncio.Event()

    async def slow(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        await release.wait()
        return DecodeResult("", 0.0)

    call, media = with_decoder(slow)
    await at_main(call, media)
    call.final("第一句", 0.9, b"\1\0" * 1600)
    call.final("第二句", 0.9)  # no audio: no decode, but it waits for the first
    await settle()
    assert call.state is not None and call.state.kept == ()
    release.set()
    await settle()
    assert [k.text for k in call.state.kept] == ["第一句", "第二句"]
    await call.close()


async def test_a_grammar_reading_that_is_a_scrap_of_a_longer_utterance_is_ignored() -> None:
    # "我住在一号楼楼上漏水": Vosk drops the [unk] words (or a model without [unk] forces
    # the speech onto the grammar) and reads just 一: that is not key 1.
    async def scrap(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        return DecodeResult("一", 0.9)

    call, media = with_decoder(scrap)
    await at_main(call, media)
    call.final("我住在一号楼楼上漏水", 0.9, b"\1\0" * 1600)
    await settle()
    assert call.path[-1] == "intake" and call.state is not None
    assert call.state.choices == ()  # went on as the appeal, not as 咨询

    async def with_unknown(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        return DecodeResult("投诉", 0.9, unknown_words=2)

    call, media = with_decoder(with_unknown)
    await at_main(call, media)
    call.final("要投", 0.9, b"\1\0" * 1600)
    await settle()
    assert call.state is not None and call.state.choices == ()
    await call.close()


async def test_no_grammar_decode_once_the_call_is_closed() -> None:
    asked: list[bytes] = []

    async def decode(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
        asked.append(pcm)
        return DecodeResult("投诉", 0.9)

    call, media = with_decoder(decode)
    await at_main(call, media)
    call.caller_hung_up()
    await call.close()
    call.final("投诉", 0.9, b"\1\0" * 1600)  # the session's last final, after the hang-up
    await settle()
    assert asked == []


async def test_a_transfer_the_node_gives_up_on_is_abandoned() -> None:
    abandoned: list[str] = []
    media = FakeMedia()
    call = IvrCall(agents_all_day(), call_id="c3", caller_number=None, media=media,
                   prompts=FakePrompts(), store=FakeStore(),  # type: ignore[arg-type]
                   end_call=lambda: None, on_intake=lambda f: None,
                   transfer=lambda t: True, abandon_transfer=lambda: abandoned.append("x"))
    call.start()
    await settle()
    call.dtmf("0")
    await settle()
    media.finish_current()  # the transfer prompt ends: the REFER goes out
    await settle()
    assert call.path[-1] == "agents" and call.state is not None
    timer = call.state.timer
    assert timer is not None
    from ivr.events import Timeout

    call.feed(Timeout(timer, at=call.now))  # the node's 60 s run out
    await settle()
    assert call.path[-1] == "agent_busy" and abandoned == ["x"]
    call.transfer_result(True)  # a late outcome changes nothing in the menu
    await settle()
    assert call.path[-1] in ("agent_busy", "intake")
    await call.close()
