"""Do-not-call asked at intake (如不需要回访请按6 at the main menu): the choice reaches the
draft, the order gets a refused callback (shown in the console), and the scheduler never
queues or dials it."""

from __future__ import annotations

from datetime import datetime

from config import Settings
from ivr import default_menu
from storage import DraftWorkflow
from storage.callbacks import CallbackJob, CallbackStore
from tests.callbacks.test_scheduler import Clock, Phone, bj
from tests.ivr.test_simulator import DAY, FULL, nodes, submitted
from voice_gateway.callbacks.dialer import DialResult
from voice_gateway.callbacks.scheduler import CallbackScheduler
from voice_gateway.callbacks.survey import DO_NOT_CALL_LABEL, SurveyAnswers
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.calls.simulate import simulate
from voice_gateway.services import open_services

TEXT = "朝阳区双井街道九龙花园三号楼电梯坏了我姓黄"


def test_key_6_at_the_main_menu_declines_the_callback() -> None:
    path = simulate(default_menu(), ["6", *FULL], DAY)
    assert nodes(path)[1:3] == [("main", "key", "6"), ("intake", "done", None)]
    assert submitted(path)["menu_choices"] == [DO_NOT_CALL_LABEL]


def test_saying_no_callback_at_the_main_menu_declines_it() -> None:
    path = simulate(default_menu(), ["我不需要回访", *FULL], DAY)
    assert nodes(path)[1] == ("main", "speech", "6")


async def _dispatched(settings: Settings, choices: tuple[str, ...],
                      phone: str) -> tuple[str, list[tuple[str, datetime]], dict[str, object]]:
    """Draft a call with ``choices``, dispatch and respond to it, run the scheduler."""
    async with open_services(settings, with_asr=False) as services:
        store = services.store
        stored = await draft_and_store(services, None, TEXT, phone, menu_choices=choices)
        order = str(stored["id"])
        flow = DraftWorkflow(store.engine, store.bus)
        await flow.claim(order, "agent")
        await flow.dispatch(order, "agent", None)
        await flow.follow_up(order, "agent", responded=True)
        clock = Clock(bj(3, 10))
        answered = DialResult("answered", 200, answers=SurveyAnswers(True, "satisfied"))
        phone_line = Phone({phone: [answered]}, clock)
        callbacks = CallbackStore(store.engine, store.bus)

        async def dial(job: CallbackJob) -> DialResult:
            return await phone_line(job)

        scheduler = CallbackScheduler(callbacks, dial, settings.callbacks, node="n1",
                                      zone="Asia/Shanghai", wall=lambda: clock.now,
                                      monotonic=lambda: clock.mono)  # fmt: skip
        for _ in range(3):
            await scheduler.tick()
            await scheduler.settle()
            clock.advance(600)
        row = await callbacks.for_draft(order)
    assert row is not None
    return row["status"], phone_line.dialled, row


async def test_declined_at_intake_is_never_dialled(settings: Settings) -> None:
    status, dialled, row = await _dispatched(settings, ("投诉举报", DO_NOT_CALL_LABEL),
                                             "13811223344")  # fmt: skip
    assert (status, dialled, row["attempts"]) == ("refused", [], 0)


async def test_without_the_choice_the_order_is_called_back(settings: Settings) -> None:
    status, dialled, _row = await _dispatched(settings, ("投诉举报",), "13811223344")
    assert status == "done" and [n for n, _t in dialled] == ["13811223344"]
