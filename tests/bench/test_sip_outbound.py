"""bench.sip's outbound row, smoke-run small (3 surveys at 1 INVITE/s): every survey
answered by sipp and heard as 1 and 1, the row filled in (figures not meaningful here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from asr.engines.base import EngineSpec
from bench.sip.outbound import OUTBOUND_HEADERS, outbound_level, outbound_rows
from config import Settings
from tests.sipp.harness import running_gateway, sip_settings

pytestmark = [pytest.mark.slow]


async def test_outbound_row(settings: Settings, tmp_path: Path) -> None:
    settings = sip_settings(settings)
    settings = dataclasses.replace(settings, ivr=dataclasses.replace(
        settings.ivr, prompt_dir=tmp_path / "prompts"))  # fmt: skip
    async with running_gateway(settings, spec=EngineSpec(kind="fake"), workers=1) as (
            _services, gateway):
        level = await outbound_level(gateway, tmp_path, calls=3, rate=1.0, concurrency=2)
    assert level.ok, level
    assert level.satisfied == 3 and level.peak_up <= 2 and len(level.setup_ms) == 3
    [row] = outbound_rows([level])
    assert len(row) == len(OUTBOUND_HEADERS) and row[-1] == "ok"
