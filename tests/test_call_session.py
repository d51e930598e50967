"""A call from a file through the real pipeline, with the fake engine (no model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from asr.audio import load_audio
from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
from asr.pool import AsrWorkerCrashed
from config import Settings
from tests.conftest import CALLS_DIR
from voice_gateway.calls.file_call import call_from_file, outcome_json
from voice_gateway.calls.masking import mask_number
from voice_gateway.services import open_services

SCRIPT = EngineSpec(kind="fake", options=(("script", "电话一三六二二三三四四五五"),))


async def test_file_call_is_recorded_transcribed_drafted_and_stored(settings: Settings) -> None:
    wav = CALLS_DIR / "D03.ulaw.wav"
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        outcome = await call_from_file(services, wav, "13900000000")
        call = await services.store.get_call(outcome.call_id)
        drafts = await services.store.list_drafts()
    out = outcome_json(outcome)
    assert out["draft"]["phone"] == "13622334455"
    assert out["transcript"] == "电话一三六二二三三四四五五"
    assert len(out["utterances"]) >= 1
    first = out["utterances"][0]
    assert 0.0 < first["start"] < first["end"] <= load_audio(wav).duration + 0.05
    assert call is not None and call.status == "drafted"
    assert [u.text for u in call.utterances] == [u["text"] for u in out["utterances"]]
    assert drafts[0]["call_id"] == outcome.call_id
    # The recording holds all of the caller's audio at its own rate.
    assert call.recording_path is not None
    recorded = load_audio(Path(call.recording_path))
    original = load_audio(wav)
    assert recorded.sample_rate == original.sample_rate == 8000
    assert recorded.pcm == original.pcm


async def test_worker_crash_is_retried_and_the_call_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    spec = EngineSpec(kind="fake", options=(("crash_marker", str(tmp_path / "crashed")),))
    async with open_services(settings, spec=spec, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D08.ulaw.wav", "13766665555")
        assert services.pool is not None and services.pool.restarts == 1
    assert (tmp_path / "crashed").exists()
    assert outcome.utterances and not any(u.error for u in outcome.utterances)
    assert outcome.draft["phone"] == "13766665555"


async def test_asr_failure_keeps_recording_and_still_drafts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        assert services.pool is not None

        async def broken(_req: DecodeRequest) -> DecodeResult:
            raise AsrWorkerCrashed("utterance crashed the ASR worker twice")

        monkeypatch.setattr(services.pool, "decode", broken)
        outcome = await call_from_file(services, CALLS_DIR / "D02.pcm8k.wav", "15910203040")
        call = await services.store.get_call(outcome.call_id)
    assert outcome.utterances and all(u.error for u in outcome.utterances)
    assert outcome.draft["phone"] == "15910203040"  # from the caller ID
    assert call is not None and call.recording_path is not None
    assert load_audio(Path(call.recording_path)).duration == pytest.approx(14.825, abs=0.03)


@pytest.mark.parametrize(
    ("number", "masked"),
    [("13812345678", "*********78"), (None, "-"), ("5", "5")],
)
def test_numbers_are_masked_for_logs(number: str | None, masked: str) -> None:
    assert mask_number(number) == masked


async def test_unfinished_call_is_drafted_after_restart(settings: Settings) -> None:
    from storage import Event, RecordingWriter
    from voice_gateway.calls.recovery import recover_unfinished_calls

    audio = load_audio(CALLS_DIR / "D03.ulaw.wav")
    # First run: the call is accepted, its menu choice and confirmed number are stored,
    # audio arrives, then the process dies.
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        path = settings.recordings_dir / "crashed.wav"
        call_id = await services.store.create_call("sip", "13900001111", str(path), "fake")
        await services.store.record_event(Event("intake", call_id, {
            "keypad_phone": "13622334455", "menu_choices": ["投诉举报"], "complete": False}))
        recording = RecordingWriter(path, audio.sample_rate)
        recording.write(audio.pcm[: len(audio.pcm) // 2])
        recording.sync()  # what the periodic sync would have done before the crash
    # Next run: recovery drafts it from the recording and the stored IVR results.
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        assert await recover_unfinished_calls(services) == [call_id]
        call = await services.store.get_call(call_id)
        drafts = await services.store.list_drafts()
        assert await recover_unfinished_calls(services) == []  # once only
    assert call is not None and call.status == "drafted" and call.end_reason == "recovered"
    assert call.utterances and call.utterances[0].text == "电话一三六二二三三四四五五"
    assert [d["call_id"] for d in drafts] == [call_id]
    assert drafts[0]["phone"] == "13622334455"  # the keyed-in number wins
    assert drafts[0]["appeal_type"] == "投诉"


async def test_repeat_caller_is_linked_and_third_appeal_escalated(settings: Settings) -> None:
    from voice_gateway.calls.drafting import draft_and_store

    text = "朝阳区双井街道九龙花园三号楼电梯坏了我姓黄电话一三八一一二二三三四四"
    async with open_services(settings, with_asr=False) as services:
        first = await draft_and_store(services, None, text, "13811223344")
        second = await draft_and_store(services, None, text, "13811223344")
        third = await draft_and_store(services, None, text, "13811223344")
        other = await draft_and_store(services, None, "海淀区学院路街道噪音扰民", "13900001111")
        rows = await services.store.recent_drafts_like("13811223344", None, None,
                                                       datetime.now(UTC) - timedelta(days=1))
    related = {r.id: (r.related, r.escalate) for r in rows}
    assert related[first["id"]] == ([], False)
    assert related[second["id"]] == ([first["id"]], False)
    assert related[third["id"]] == ([first["id"], second["id"]], True)
    assert other["id"] not in related


async def test_a_full_disk_during_a_call_keeps_transcription_and_drafts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on the recording used to stop ASR too (fed only after the write), leaving
    the call active with no utterances and no draft."""
    import errno
    from typing import Any

    from storage.recordings import DiskHealth, RecordingWriter
    from voice_gateway.calls import audio as call_audio

    health = DiskHealth()

    class FullAfter:
        def __init__(self, fh: Any, room: int) -> None:
            self.fh, self.room = fh, room

        def write(self, data: bytes) -> int:
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.room -= len(data)
            return int(self.fh.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

    class FillingDisk(RecordingWriter):
        def __init__(self, path: Path, rate: int, *args: Any, **kw: Any) -> None:
            super().__init__(path, rate, *args, health=health, **kw)
            self._fh = FullAfter(self._fh, 16000)  # type: ignore[assignment]

    monkeypatch.setattr(call_audio, "RecordingWriter", FillingDisk)
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900000000")
        call = await services.store.get_call(outcome.call_id)
    assert outcome.transcript == "电话一三六二二三三四四五五"
    assert outcome.draft["phone"] == "13622334455"
    assert call is not None and call.status == "drafted"
    assert call.recording_complete is False
    assert call.duration_s == pytest.approx(load_audio(CALLS_DIR / "D03.ulaw.wav").duration,
                                            abs=0.03)
    assert not health.ok(0.0 if health.last_failure is None else health.last_failure)


async def test_failed_event_writes_are_retried_logged_and_the_call_is_still_drafted(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IVR analytics writes that fail were never logged, and a failing utterance write
    killed the transcript consumer; now each write is retried, then logged, and the call
    goes on to its draft."""
    from sqlalchemy.exc import OperationalError

    from ivr import default_menu
    from voice_gateway.calls import runner as runner_module
    from voice_gateway.calls.file_call import call_through_menu

    monkeypatch.setattr(runner_module, "WRITE_RETRY_S", 0.0)
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        attempts: list[str] = []

        async def broken(event: object) -> None:
            attempts.append(getattr(event, "kind", "?"))
            raise OperationalError("INSERT INTO events", {}, Exception("disk I/O error"))

        async def broken_utterance(*args: object) -> None:
            raise OperationalError("INSERT INTO utterances", {}, Exception("disk I/O error"))

        monkeypatch.setattr(services.store, "record_event", broken)
        monkeypatch.setattr(services.store, "add_utterance", broken_utterance)
        result = await call_through_menu(services, CALLS_DIR / "D03.ulaw.wav",
                                         "13900000000", default_menu())
        call = await services.store.get_call(result.outcome.call_id)
    assert attempts.count("ivr_node") >= 3  # each analytics write tried three times
    assert "ivr_node not stored after 3 attempts" in caplog.text
    assert "utterance not stored after 3 attempts" in caplog.text
    assert result.outcome.transcript == "电话一三六二二三三四四五五"
    assert call is not None and call.status == "drafted"


async def test_a_call_that_only_rang_before_a_crash_is_closed_not_drafted(
    settings: Settings,
) -> None:
    from voice_gateway.calls.recovery import recover_unfinished_calls

    async with open_services(settings, with_asr=False) as services:
        path = settings.recordings_dir / "rang.wav"  # never created: not answered
        call_id = await services.store.create_call("sip", "13900001111", str(path), "fake")
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        assert await recover_unfinished_calls(services) == [call_id]
        call = await services.store.get_call(call_id)
        assert await services.store.list_drafts() == []
        assert await services.store.unfinished_calls() == []
    assert call is not None and call.status == "abandoned"


async def test_a_call_whose_draft_failed_is_drafted_by_the_sweep_without_a_restart(
    settings: Settings,
) -> None:
    from storage import Event, RecordingWriter
    from storage.repository import StoredUtterance
    from voice_gateway.calls.recovery import sweep_undrafted

    audio = load_audio(CALLS_DIR / "D03.ulaw.wav")
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        # Two calls ended while the database refused their drafts: one long enough ago to
        # be retried, one that its own runner may still be drafting.
        ids = []
        for name in ("old", "new"):
            path = settings.recordings_dir / f"{name}.wav"
            call_id = await services.store.create_call("sip", "13900001111", str(path), "fake")
            recording = RecordingWriter(path, audio.sample_rate)
            recording.write(audio.pcm)
            recording.close()
            await services.store.record_event(Event("answered", call_id, {}))
            await services.store.add_utterance(call_id, StoredUtterance(
                0, 0.5, 3.0, "朝阳区双井街道路灯坏了", 0.9, []))
            await services.store.end_call(call_id, "remote-bye", audio.duration)
            ids.append(call_id)
        later = datetime.now(UTC) + timedelta(seconds=settings.drafting.retry_after_s - 30)
        assert await sweep_undrafted(services, later) == []
        much_later = datetime.now(UTC) + timedelta(seconds=settings.drafting.retry_after_s + 1)
        assert await sweep_undrafted(services, much_later) == ids
        assert await sweep_undrafted(services, much_later) == []  # once only
        calls = [await services.store.get_call(i) for i in ids]
        drafts = await services.store.list_drafts()
    assert all(c is not None and c.status == "drafted" for c in calls)
    assert sorted(d["call_id"] for d in drafts) == sorted(ids)
    assert all(d["district"] == "朝阳区" for d in drafts)  # from the stored utterances
    # The end reason the call had is kept: it ended normally, only its draft was late.
    assert all(c is not None and c.end_reason == "remote-bye" for c in calls)


async def test_a_drafter_fault_still_drafts_the_call(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transcript the drafter raises on (a bug) must not leave the call undrafted: the
    # call is drafted from its caller ID, with the transcript kept for the agent.
    from voice_gateway.calls import drafting

    real = drafting.draft

    def broken(transcript: str, *args: object, **kwargs: object) -> object:
        if transcript:
            raise TypeError("ord() expected a character, but string of length 2 found")
        return real(transcript, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(drafting, "draft", broken)
    async with open_services(settings, spec=SCRIPT, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900000000")
        call = await services.store.get_call(outcome.call_id)
    assert call is not None and call.status == "drafted"
    assert outcome.draft["phone"] == "13900000000"  # the caller ID, not the number heard
    assert outcome_json(outcome)["transcript"] == "电话一三六二二三三四四五五"
