"""After a crash or restart: every accepted call that never got its draft is finished.

A call's recording is on disk as its audio arrives and its utterances and IVR results
(the ``intake`` event: confirmed keypad number, menu choices) are stored as they come, so
a call interrupted by a crash has nearly everything. At start-up, before SIP takes new
calls, the calls left ``active`` or ``ended`` are listed; each is then driven through the
same call machine as a live call: the stored utterances go in as they are, the recording
after the last of them is transcribed, and the call is drafted with the stored IVR
results, end reason ``recovered``. Nothing waits for a new call: decodes queue in the
worker pool and run as soon as its workers have loaded their models.

While the service runs, a sweep (``sweep_undrafted``, every ``drafting.sweep_interval_s``)
drafts again the calls that ended but whose draft could not be stored (a database fault
outlasting the writer's retries), once they have waited ``drafting.retry_after_s``: such a
call does not wait for the next start-up.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from asr.audio import AudioFormatError, PcmAudio, load_audio
from storage.models import Call, UtteranceRow
from voice_gateway.calls import machine as m
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.file_call import FileTransport, feed_audio
from voice_gateway.calls.runner import CallRunner
from voice_gateway.services import Services

log = logging.getLogger(__name__)
CONCURRENT_RECOVERIES = 4
MIN_AUDIO_S = 0.5  # less than this in the recording of a call never answered: it only rang


async def recover_unfinished_calls(services: Services,
                                   calls: list[Call] | None = None) -> list[str]:
    """Draft every call the store holds as unfinished (or ``calls``, listed earlier);
    return their ids. A call that cannot be recovered now stays for the next start."""
    if calls is None:
        calls = await services.store.unfinished_calls()
    slots = asyncio.Semaphore(CONCURRENT_RECOVERIES)

    async def one(call: Call) -> str | None:
        async with slots:
            try:
                await recover_call(services, call)
            except Exception:
                log.exception("call %s: recovery failed; left for the next start",
                              call.id[:8])
                return None
            return call.id

    done = [cid for cid in await asyncio.gather(*(one(c) for c in calls)) if cid]
    if done:
        log.info("recovered %d unfinished call(s)", len(done))
    return done


async def sweep_undrafted(services: Services, now: datetime | None = None) -> list[str]:
    """Draft the calls that ended at least ``drafting.retry_after_s`` ago with no draft."""
    wait = timedelta(seconds=services.settings.drafting.retry_after_s)
    store = services.store
    calls = await store.undrafted_calls((now or datetime.now(UTC)) - wait, store.recovery_scope)
    return await recover_unfinished_calls(services, calls) if calls else []


async def sweep_forever(services: Services) -> None:
    """``sweep_undrafted`` every ``drafting.sweep_interval_s`` (a task; cancel to stop)."""
    interval = services.settings.drafting.sweep_interval_s
    if interval <= 0 or services.pool is None:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_undrafted(services)
        except Exception:
            log.exception("sweep of undrafted calls failed; next in %.0f s", interval)


async def recover_call(services: Services, call: Call) -> None:
    """Finish one call from its stored utterances, intake results and recording."""
    store = services.store
    full = await store.get_call(call.id)
    stored = sorted(full.utterances, key=lambda u: u.seq) if full is not None else []
    keypad_phone, choices = await _intake(services, call.id)
    resume_at = max((u.end_s for u in stored), default=0.0)
    audio_file = None
    if call.recording_path and call.status == "active":
        try:
            audio_file = await asyncio.to_thread(load_audio, call.recording_path)
        except (AudioFormatError, OSError) as exc:
            log.error("call %s: recording unreadable (%s); drafting from what was stored",
                      call.id[:8], exc)
    if call.status == "active" and not stored and (
            audio_file is None or audio_file.duration < MIN_AUDIO_S) and not (
            await store.call_events(call.id, ("answered",))):
        # It only rang (a crash between its INSERT and its answer): nothing to draft. An
        # ``ended`` call was answered: only the runner of an answered call ends it.
        await store.close_unanswered(call.id, "not-answered")
        log.info("call %s was never answered; closed", call.id[:8])
        return
    rate = audio_file.sample_rate if audio_file is not None else 16000
    if audio_file is not None and services.pool is not None:
        media = CallAudio.open(services.settings, services.pool, call.id, rate, record=False,
                               time_offset=resume_at)
    else:
        media = CallAudio(services.settings, None, call.id, rate, record=False,
                          time_offset=resume_at)
    machine = m.CallMachine(m.CallPlan(call.caller_number))
    transport = FileTransport()
    runner = CallRunner(services, machine, transport, media, call_id=call.id,
                        source=call.source, caller_number=call.caller_number,
                        draft_on_failure=False)
    next_seq = max((u.seq for u in stored), default=-1) + 1
    task = runner.start(m.Recover(keypad_phone, choices, next_seq))
    try:
        for u in stored:
            runner.post(stored_final(u))
        if audio_file is not None:
            start = min(len(audio_file.pcm), int(resume_at * rate) * 2)  # whole samples
            await feed_audio(media.push, PcmAudio(audio_file.pcm[start:], rate))
        transport.fed.set()
        reason = "recovered" if call.status == "active" else (call.end_reason or "recovered")
        runner.post(m.HungUp(reason))
        await task
    finally:
        if not task.done():  # cancelled (shutdown): the call stays for the next start
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if runner.drafted is None:
        raise RuntimeError("the recovered call could not be drafted")


async def _intake(services: Services, call_id: str) -> tuple[str | None, tuple[str, ...]]:
    """The IVR results stored while the call ran (the last ``intake`` event)."""
    events = await services.store.call_events(call_id, ("intake",))
    if not events:
        return None, ()
    payload = events[-1].payload
    phone = payload.get("keypad_phone")
    choices = payload.get("menu_choices") or ()
    return (str(phone) if phone else None), tuple(str(c) for c in choices)



def stored_final(u: UtteranceRow) -> m.TranscriptFinal:
    """A stored utterance as the machine's final (already stored: not stored again)."""
    words = tuple((str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in (u.words or [])
                  if isinstance(w, list) and len(w) == 4)
    alternatives = tuple(str(a) for a in (u.alternatives or []) if isinstance(a, str))
    return m.TranscriptFinal(u.start_s, u.end_s, u.text, u.confidence, words, u.error,
                             stored=True, alternatives=alternatives)
