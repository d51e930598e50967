"""Every dev call through the pipeline (real Whisper model, SQLite): a file of its own, so
that the test runner's two workers (whole files each) share the slowest tests of
``test_cli.py`` and this one."""

from __future__ import annotations

import pytest

from config import Settings
from tests.conftest import CALLS_DIR, dev_cases
from voice_gateway.calls.file_call import call_from_file
from voice_gateway.services import open_services

EXPECTED = dev_cases()


@pytest.mark.slow
async def test_every_dev_call_goes_through_the_pipeline(settings: Settings) -> None:
    # Every call once, in μ-law and 16-bit PCM by turns (both encodings of each call hold
    # the same speech; decoding both doubled the suite's slowest test for nothing more).
    files = sorted(CALLS_DIR.glob("*.wav"))
    assert len(files) == 30
    cases = sorted({path.name.split(".")[0] for path in files})
    chosen = [CALLS_DIR / f"{case}.{('ulaw', 'pcm8k')[i % 2]}.wav" for i, case in enumerate(cases)]
    async with open_services(settings) as services:
        for path in chosen:
            case = path.name.split(".")[0]
            outcome = await call_from_file(services, path, EXPECTED[case]["caller_number"])
            assert outcome.transcript, path.name
            assert outcome.draft["id"] and outcome.draft["call_id"] == outcome.call_id
        drafts = await services.store.list_drafts(limit=100)
    assert len(drafts) == len(cases) == 15
