"""The IVR inside the call machine: prompts, barge-in, transfers, grammar readings, the
intake results stored as they are collected, and the IVR's own hang-up."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from ivr import Menu, default_menu
from ivr.model import HoursNode, Interval
from voice_gateway.calls import machine as m
from voice_gateway.calls.machine import CallMachine, CallPlan

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
AUDIO = b"\1\0" * 1600


def agents_all_day() -> Menu:
    """The default menu with agents on duty around the clock (tests run at any hour)."""
    menu = default_menu()
    hours = menu.nodes["agent_hours"]
    assert isinstance(hours, HoursNode)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    always = dataclasses.replace(hours, weekly={d: (Interval(0, 1440),) for d in days})
    return dataclasses.replace(menu, nodes={**menu.nodes, "agent_hours": always})


class Call:
    """A machine plus what a runner would remember: queued prompts, the log of actions."""

    def __init__(self, **plan: Any) -> None:
        plan.setdefault("menu", agents_all_day())
        self.mc = CallMachine(CallPlan("13900000001", **plan))
        self.log: list[m.Action] = []
        self.queue: list[m.Play] = []
        for ev in (m.Offered(), m.CallStored(True), m.Answered(NOW)):
            self.feed(ev)

    def feed(self, ev: m.Event) -> list[m.Action]:
        actions = self.mc.handle(ev)
        self.log += actions
        for a in actions:
            if isinstance(a, m.Play):
                self.queue.append(a)
            elif isinstance(a, m.StopPlayback):
                self.queue.clear()
        return actions

    def finish_prompt(self) -> list[m.Action]:
        play = self.queue.pop(0)
        return self.feed(m.PromptDone(play.seq))

    def path(self) -> list[str]:
        return [r["node"] for r in self.mc.trace]

    def of(self, kind: type[Any]) -> list[Any]:
        return [a for a in self.log if isinstance(a, kind)]


def at_main(**plan: Any) -> Call:
    call = Call(**plan)
    call.finish_prompt()  # the welcome ends: the main menu listens
    assert call.path()[-1] == "main" and call.mc._grammar() is not None
    return call


def test_prompt_queued_after_a_barge_in_is_played() -> None:
    call = Call()
    assert [p.prompt_id for p in call.queue] == ["welcome"]
    call.feed(m.Dtmf("1", "rfc4733"))  # barge-in: the welcome stops, the menu goes on
    assert m.StopPlayback() in call.log
    assert call.queue and call.queue[0].prompt_id != "welcome"
    # The stopped prompt's late PromptDone is stale.
    assert call.feed(m.PromptDone(1, completed=False)) == []


def test_transfer_refers_and_success_ends_our_leg() -> None:
    call = Call(transfer_target=lambda t: "sip:agents@10.0.0.5")
    call.feed(m.Dtmf("0", "rfc4733"))
    while call.queue and not call.of(m.Refer):
        call.finish_prompt()
    assert call.of(m.Refer) == [m.Refer("sip:agents@10.0.0.5")]
    assert call.path()[-1] == "agents"
    assert call.feed(m.TransferUpdate(202, done=False)) == [
        m.StoreEvent("transfer", {"target": None, "status": 202, "done": False})]
    actions = call.feed(m.TransferUpdate(200, done=True, ok=True))
    assert actions[-2:] == [m.SendBye(), m.EndMedia()]
    assert call.mc.end_reason == "transferred"


def test_transfer_with_no_agents_goes_on_to_next_and_hears_the_caller() -> None:
    call = Call()
    call.feed(m.Dtmf("0", "rfc4733"))
    while call.queue and call.path()[-1] != "intake":
        call.finish_prompt()
    assert call.of(m.Refer) == []
    assert "agent_busy" in call.path() and call.path()[-1] == "intake"


def test_a_transfer_the_node_gives_up_on_is_abandoned() -> None:
    call = Call(transfer_target=lambda t: "sip:agents@10.0.0.5")
    call.feed(m.Dtmf("0", "rfc4733"))
    while call.queue and not call.of(m.Refer):
        call.finish_prompt()
    assert call.path()[-1] == "agents"
    call.feed(m.TimerFired("ivr", call.mc._timer_gen))  # the node's 60 s run out
    assert m.AbandonTransfer() in call.log
    assert "agent_busy" in call.path()
    call.feed(m.TransferUpdate(200, done=True, ok=True))  # late: the menu moved on
    assert call.path()[-1] in ("agent_busy", "intake")


def test_a_reading_under_the_menu_grammar_chooses_when_the_free_text_does_not() -> None:
    call = at_main(grammar_choices=True)
    (store, decode) = call.feed(m.TranscriptFinal(1.0, 2.0, "头数", 0.7, pcm=AUDIO))
    assert isinstance(store, m.StoreUtterance) and isinstance(decode, m.DecodeChoice)
    assert "人工" in decode.phrases and decode.phrases[-1] == "[unk]"
    call.feed(m.ChoiceReading(decode.ref, "投 诉", 0.8))  # Vosk's words, space-separated
    state = call.mc.ivr
    assert state is not None and call.path()[-1] == "intake"
    assert state.choices == ("投诉举报",)  # chosen by the constrained reading
    assert [k.text for k in state.kept] == ["头数"]  # the caller's own words are kept


def test_without_a_reading_the_free_text_goes_on() -> None:
    call = at_main(grammar_choices=True)
    (_store, decode) = call.feed(m.TranscriptFinal(1.0, 2.0, "楼上漏水了", 0.9, pcm=AUDIO))
    assert isinstance(decode, m.DecodeChoice)
    call.feed(m.ChoiceReading(decode.ref))  # the decode failed
    state = call.mc.ivr
    assert state is not None and call.path()[-1] == "intake"
    assert state.choices == () and state.kept[0].text == "楼上漏水了"


def test_finals_reach_the_menu_in_order_while_a_reading_is_pending() -> None:
    call = at_main(grammar_choices=True)
    (_s, decode) = call.feed(m.TranscriptFinal(1.0, 2.0, "第一句", 0.9, pcm=AUDIO))
    call.feed(m.TranscriptFinal(3.0, 4.0, "第二句", 0.9))  # waits behind the first
    assert call.mc.ivr is not None and call.mc.ivr.kept == ()
    assert isinstance(decode, m.DecodeChoice)
    call.feed(m.ChoiceReading(decode.ref))
    assert [k.text for k in call.mc.ivr.kept] == ["第一句", "第二句"]


def test_a_grammar_reading_that_is_a_scrap_of_a_longer_utterance_is_ignored() -> None:
    # "我住在一号楼楼上漏水": Vosk drops the [unk] words and reads just 一: not key 1.
    call = at_main(grammar_choices=True)
    (_s, decode) = call.feed(m.TranscriptFinal(1.0, 2.0, "我住在一号楼楼上漏水", 0.9,
                                               pcm=AUDIO))
    assert isinstance(decode, m.DecodeChoice)
    call.feed(m.ChoiceReading(decode.ref, "一", 0.9))
    assert call.mc.ivr is not None and call.mc.ivr.choices == ()
    call = at_main(grammar_choices=True)
    (_s, decode) = call.feed(m.TranscriptFinal(1.0, 2.0, "要投", 0.9, pcm=AUDIO))
    assert isinstance(decode, m.DecodeChoice)
    call.feed(m.ChoiceReading(decode.ref, "投诉", 0.9, unknown_words=True))
    assert call.mc.ivr is not None and call.mc.ivr.choices == ()


def test_no_grammar_reading_after_the_hang_up() -> None:
    call = at_main(grammar_choices=True)
    call.feed(m.HungUp("remote-bye"))
    actions = call.feed(m.TranscriptFinal(1.0, 2.0, "投诉", 0.9, pcm=AUDIO))
    assert kinds_of(actions) == ["StoreUtterance"]  # kept for the draft, no decode


def kinds_of(actions: list[m.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_intake_results_are_stored_when_collected_and_reach_the_draft() -> None:
    call = at_main()
    call.feed(m.Dtmf("2", "rfc4733"))  # 投诉举报
    while call.queue and call.path()[-1] != "intake":
        call.finish_prompt()
    assert call.path()[-1] == "intake"
    call.feed(m.HungUp("remote-bye"))
    intake = [a for a in call.of(m.StoreEvent) if a.kind == "intake"]
    assert intake and intake[-1].payload["menu_choices"] == ["投诉举报"]
    (draft,) = call.feed(m.MediaDrained(3.0))
    assert isinstance(draft, m.Draft) and draft.menu_choices == ("投诉举报",)


def test_analytics_events_carry_the_menu_and_its_version() -> None:
    call = Call()
    nodes = [a for a in call.of(m.StoreEvent) if a.kind == "ivr_node"]
    assert nodes[0].payload["node_id"] == "welcome"
    assert nodes[0].payload["menu"] == call.mc.plan.menu.id  # type: ignore[union-attr]


def test_the_ivr_hang_up_waits_for_the_queued_prompts() -> None:
    call = Call()
    mc = call.mc
    # Walk the caller to the end of the menu by silence.
    for _ in range(200):
        if mc.phase != "live":
            break
        if call.queue:
            call.finish_prompt()
        else:
            call.feed(m.TimerFired("ivr", call.mc._timer_gen))
    assert mc.phase == "ending"
    bye = call.log.index(m.SendBye())
    assert not any(isinstance(a, m.Play) for a in call.log[bye:])
    assert call.queue == []  # every prompt was over before the BYE
