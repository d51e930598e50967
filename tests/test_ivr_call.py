"""IvrCall: the runtime's actions carried out on a call's media (a fake one here)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

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
