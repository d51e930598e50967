"""The call machine as a table: (phase, event) in, exact actions out; and every race."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from voice_gateway.calls import machine as m
from voice_gateway.calls.machine import TRANSITIONS, CallMachine, CallPlan

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # a Monday morning


def kinds(actions: list[m.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def offered(ring_s: float = 0.3, **plan: Any) -> CallMachine:
    mc = CallMachine(CallPlan("13900000001", ring_s=ring_s, **plan))
    assert mc.handle(m.Offered()) == [m.StoreCall(), m.StartTimer("ring", ring_s)]
    return mc


def live(**plan: Any) -> CallMachine:
    mc = offered(**plan)
    assert mc.handle(m.CallStored(True)) == []
    assert mc.handle(m.TimerFired("ring")) == [m.Answer()]
    mc.handle(m.Answered(NOW))
    assert mc.phase == "live"
    return mc


def final(text: str, start: float = 1.0, **kw: Any) -> m.TranscriptFinal:
    return m.TranscriptFinal(start, start + 1.0, text, 0.9, **kw)


SETUP_TABLE = [
    # (events after Offered, expected actions of the last event, phase after)
    ([m.CallStored(True)], [], "setting_up"),
    ([m.CallStored(True), m.TimerFired("ring")], [m.Answer()], "answering"),
    ([m.TimerFired("ring"), m.CallStored(True)], [m.Answer()], "answering"),
    ([m.CallStored(False, "stalled")],
     [m.Reject(503, "storage unavailable: stalled", 30), m.Finished("storage_unavailable")],
     "done"),
    # CANCEL (or BYE) while the row is being inserted: wait for it, then close it.
    ([m.HungUp("cancelled")], [m.CancelTimer("ring")], "abandoning"),
    ([m.HungUp("cancelled"), m.CallStored(True)],
     [m.CloseUnanswered("cancelled"), m.Finished("cancelled")], "done"),
    ([m.HungUp("cancelled"), m.CallStored(False, "x")], [m.Finished("cancelled")], "done"),
    # CANCEL after the row is stored, while ringing.
    ([m.CallStored(True), m.HungUp("cancelled")],
     [m.CancelTimer("ring"), m.CloseUnanswered("cancelled"), m.Finished("cancelled")], "done"),
    # CANCEL crossing the 200: the answer fails.
    ([m.CallStored(True), m.TimerFired("ring"), m.Answered(NOW, ok=False)],
     [m.CloseUnanswered("not-answered"), m.Finished("not-answered")], "done"),
    # A late ring timer and stray events before the answer are ignored.
    ([m.CallStored(True), m.TimerFired("ring"), m.TimerFired("ring")], [], "answering"),
    # The service ends the call during setup (shutdown): the INVITE gets its 503.
    ([m.HungUp("shutdown", by_caller=False)],
     [m.CancelTimer("ring"), m.Reject(503, "shutdown", 30)], "abandoning"),
    ([m.CallStored(True), m.TimerFired("ring"), m.HungUp("shutdown", by_caller=False)],
     [m.CancelTimer("ring"), m.Reject(503, "shutdown", 30), m.CloseUnanswered("shutdown"),
      m.Finished("shutdown")], "done"),
    ([m.Dtmf("1", "info")], [], "setting_up"),
    ([final("早")], [], "setting_up"),
]


@pytest.mark.parametrize(("events", "expected", "phase"), SETUP_TABLE)
def test_setup(events: list[m.Event], expected: list[m.Action], phase: str) -> None:
    mc = offered()
    actions: list[m.Action] = []
    for ev in events:
        actions = mc.handle(ev)
    assert actions == expected
    assert mc.phase == phase


def test_answered_without_a_menu_listens_until_the_caller_hangs_up() -> None:
    mc = live()
    assert mc.handle(final("楼上漏水")) == [m.StoreUtterance(0, final("楼上漏水"))]
    assert mc.handle(m.HungUp("remote-bye")) == [m.EndMedia()]
    assert mc.phase == "ending"
    # A transcript after the hang-up is still stored and drafted.
    late = final("我姓王", start=3.0)
    assert mc.handle(late) == [m.StoreUtterance(1, late)]
    assert mc.handle(m.MediaDrained(4.0)) == [
        m.Draft("remote-bye", "楼上漏水我姓王", None, (), 4.0, True,
                readings=(("楼上漏水", ()), ("我姓王", ())))]
    assert mc.handle(m.Drafted(True)) == [m.Finished("remote-bye")]
    assert mc.done


def test_media_starting_is_stored_once_with_its_delay_after_the_answer() -> None:
    mc = live()
    assert mc.handle(m.MediaStarted("198.51.100.7:4000", at=0.25)) == [
        m.StoreEvent("media_started", {"after_s": 0.25, "source": "198.51.100.7:4000"})]
    assert mc.media_started
    assert mc.handle(m.MediaStarted("198.51.100.7:4000", at=9.0)) == []  # once per call
    assert mc.handle(m.HungUp("remote-bye")) == [m.EndMedia()]


def test_a_call_with_no_media_says_so_in_its_trace() -> None:
    mc = live()
    mc.handle(m.HungUp("remote-bye"))
    assert not mc.media_started


def test_service_hang_ups_send_a_bye_and_a_late_bye_from_the_core_is_ignored() -> None:
    mc = live()
    assert mc.handle(m.HungUp("rtp_timeout", by_caller=False)) == [m.SendBye(), m.EndMedia()]
    assert mc.handle(m.HungUp("local-bye")) == []
    assert mc.end_reason == "rtp_timeout"


def test_a_failed_write_is_counted_and_the_call_goes_on() -> None:
    mc = live()
    assert mc.handle(m.StorageFailed("utterance")) == []
    assert mc.storage_failures == 1 and mc.phase == "live"
    mc.handle(m.HungUp("remote-bye"))
    mc.handle(m.MediaDrained(1.0))
    assert mc.handle(m.Drafted(False)) == [m.Finished("remote-bye")]


def test_a_disk_failure_is_drafted_with_an_incomplete_recording() -> None:
    mc = live()
    mc.handle(final("路灯坏了"))
    mc.handle(m.HungUp("remote-bye"))
    (draft,) = mc.handle(m.MediaDrained(9.0, recording_complete=False))
    assert isinstance(draft, m.Draft)
    assert draft.transcript == "路灯坏了" and draft.recording_complete is False


def test_recovery_drafts_with_the_stored_ivr_results_and_no_bye() -> None:
    mc = CallMachine(CallPlan("13900000001"))
    assert mc.handle(m.Recover("13811112222", ("投诉举报",), next_seq=1)) == []
    assert mc.handle(final("老的", stored=True)) == []  # already stored: not again
    new = final("新的", start=5.0)
    assert mc.handle(new) == [m.StoreUtterance(1, new)]
    assert mc.handle(m.HungUp("recovered")) == [m.EndMedia()]
    assert mc.handle(m.MediaDrained(7.0)) == [
        m.Draft("recovered", "老的新的", "13811112222", ("投诉举报",), 7.0, True,
                readings=(("老的", ()), ("新的", ())))]


def test_every_event_without_a_row_is_ignored_in_every_phase() -> None:
    events: list[m.Event] = [
        m.Offered(), m.Recover(None, ()), m.CallStored(True), m.Answered(NOW), m.Dtmf("1", "x"),
        m.SpeechBegan(), m.MediaStarted("x"), final("x"), m.ScriptedSpeech("x"), m.ChoiceReading(1),
        m.PromptDone(1), m.TimerFired("zzz"), m.TransferUpdate(200, True, True),
        m.HungUp("x"), m.MediaDrained(), m.Drafted(True), m.StorageFailed("x"),
    ]
    phases = ("offered", "setting_up", "answering", "live", "ending", "abandoning",
              "drafting", "done")
    for phase in phases:
        for ev in events:
            if (phase, type(ev)) in TRANSITIONS:
                continue
            mc = CallMachine(CallPlan(None))
            mc.phase = phase  # type: ignore[assignment]
            assert mc.handle(ev) == [], (phase, ev)
            assert mc.phase == phase
            assert mc.ignored == 1


def test_an_ivr_timer_expiry_already_on_its_way_when_the_timer_restarted_is_stale() -> None:
    from tests.calls.test_machine_ivr import at_main

    call = at_main()
    mc = call.mc
    while mc.ivr_timer is None and call.queue:
        call.finish_prompt()  # the menu's prompt ends: it starts its timer
    current = mc._timer_gen
    assert current >= 1 and mc.ivr_timer is not None
    assert mc.handle(m.TimerFired("ivr", current - 1)) == []  # an earlier timer's expiry
    assert mc.ignored == 1 and mc.ivr_timer is not None
    assert mc.handle(m.TimerFired("ivr", current)) != []  # the current one counts
