"""The callback scheduler inside ``serve``: queue handled orders, dial due callbacks within
calling hours and the trunk's caps, store each attempt and plan the next.

How it works. Every ``callbacks.poll_interval_s`` :meth:`CallbackScheduler.tick` queues
the orders handled since (storage decides which, once, whatever the number of nodes),
and, inside calling hours, claims as many due callbacks as the :class:`TrunkGate` allows
(the claim makes exactly one node dial each). Each claimed callback is one task: dial (the
:class:`~voice_gateway.callbacks.dialer.Dialer`, or any function with its signature),
then :meth:`~storage.callbacks.CallbackStore.finish_attempt` with the next due time from
:func:`~voice_gateway.callbacks.schedule.next_attempt`. The clocks are injected, so tests
run it on a virtual one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from config.settings import CallbackSettings
from storage.callbacks import AttemptRecord, CallbackJob, CallbackStore
from voice_gateway.callbacks.dialer import DialResult
from voice_gateway.callbacks.schedule import CallingHours, TrunkGate, next_attempt
from voice_gateway.callbacks.survey import SurveyAnswers, needs_rework

log = logging.getLogger(__name__)

Dial = Callable[[CallbackJob], Awaitable[DialResult]]
SURVEY_LEASE_S = 600.0  # a survey call's longest life after it is answered


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CallbackScheduler:
    """See the module docstring."""

    def __init__(self, store: CallbackStore, dial: Dial, settings: CallbackSettings, *,
                 node: str, zone: str, wall: Callable[[], datetime] = _utc_now,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store = store
        self.dial = dial
        self.settings = settings
        self.node = node
        self.hours = CallingHours.parse(settings.calling_hours, zone)
        self.gate = TrunkGate(settings.max_concurrent, settings.attempts_per_second)
        self.lease = timedelta(seconds=settings.ring_timeout_s + SURVEY_LEASE_S)
        self.wall = wall
        self.monotonic = monotonic
        self._tasks: set[asyncio.Task[None]] = set()

    async def tick(self) -> int:
        """One round: queue, claim, start attempts; the number started."""
        now = self.wall()
        await self.store.enqueue_handled(now)
        if not self.hours.allows(now):
            return 0
        free = self.gate.free_slots(self.monotonic())
        jobs = await self.store.claim(self.node, now, free, self.lease)
        for job in jobs:
            self.gate.started(self.monotonic())
            task = asyncio.create_task(self._attempt(job), name=f"callback-{job.id[:8]}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def settle(self) -> None:
        """Until every attempt started has been stored (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self) -> None:
        """Tick forever (cancel to stop); a failed round is logged and retried."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("callback round failed")
            await asyncio.sleep(self.settings.poll_interval_s)

    async def close(self) -> None:
        """Stop the attempts under way (their calls end; their rows' leases run out)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _attempt(self, job: CallbackJob) -> None:
        try:
            result = await self.dial(job)
        except asyncio.CancelledError:
            self.gate.ended()
            raise
        except Exception:
            log.exception("callback %s: the attempt failed", job.id[:8])
            result = DialResult("failed")
        self.gate.ended()
        now = self.wall()
        answers = result.answers or SurveyAnswers()
        record = AttemptRecord(result.outcome, result.status, result.call_id,
                               answers.resolved, answers.satisfaction, answers.do_not_call,
                               rework=needs_rework(answers))  # fmt: skip
        next_due = None
        if result.outcome != "answered":
            next_due = next_attempt(result.outcome, job.attempts + 1, now, self.settings,
                                    self.hours, result.retry_after)  # fmt: skip
        status = await self.store.finish_attempt(job, self.node, record, now, next_due)
        log.info("callback %s attempt %d: %s -> %s", job.id[:8], job.attempts + 1,
                 result.outcome, status)  # fmt: skip
