"""N-best through a call (issue #15 item 2): the recognizer's other hypotheses travel with
each utterance (stream → call machine → storage → drafter) and the text shown stays the
first hypothesis."""

from __future__ import annotations

from asr.engines.base import DecodeRequest, DecodeResult, EngineSpec
from config import Settings
from storage.models import UtteranceRow
from tests.conftest import CALLS_DIR
from voice_gateway.calls.file_call import call_from_file
from voice_gateway.calls.recovery import stored_final
from voice_gateway.services import open_services

FIRST = "门口路灯坏了我住在八七六五四"
OTHERS = ("门口路灯坏了我住在北新桥街道", "门口路灯坏了我住在北新桥接到")


async def test_alternatives_reach_storage_and_the_draft(settings: Settings) -> None:
    spec = EngineSpec(kind="fake", options=(("script", FIRST),))
    async with open_services(settings, spec=spec, workers=1) as services:
        assert services.pool is not None
        said = [FIRST]

        async def decode(_req: DecodeRequest) -> DecodeResult:
            text = said.pop() if said else ""
            return DecodeResult(text, 0.8, alternatives=OTHERS if text else ())

        services.pool.decode = decode  # type: ignore[method-assign]
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900000000")
        call = await services.store.get_call(outcome.call_id)
    assert outcome.transcript == FIRST  # what agents see: the first hypothesis
    assert outcome.draft["street"] == "北新桥街道"  # read from an alternative
    assert call is not None
    heard = [u for u in call.utterances if u.text]
    assert [u.alternatives for u in heard] == [list(OTHERS)]
    assert [u.alternatives for u in outcome.utterances if u.text] == [list(OTHERS)]


def test_recovery_reads_the_stored_alternatives() -> None:
    row = UtteranceRow(seq=0, start_s=1.0, end_s=2.0, text="路灯坏了", confidence=0.8,
                       words=[], error=None, alternatives=["陆灯坏了"])
    assert stored_final(row).alternatives == ("陆灯坏了",)
    old = UtteranceRow(seq=0, start_s=1.0, end_s=2.0, text="路灯坏了", confidence=0.8,
                       words=[], error=None, alternatives=None)  # stored before n-best
    assert stored_final(old).alternatives == ()


def test_the_call_machine_drafts_with_each_utterances_alternatives() -> None:
    from tests.calls.test_machine import final, live
    from voice_gateway.calls import machine as m

    mc = live()
    mc.handle(final("路灯坏了", alternatives=("陆灯坏了",)))
    mc.handle(final("", start=2.5))  # nothing heard: not part of the transcript
    mc.handle(final("我住在八七六五四", start=3.0, alternatives=("我住在北新桥街道",)))
    mc.handle(m.HungUp("remote-bye"))
    (draft,) = mc.handle(m.MediaDrained(5.0))
    assert isinstance(draft, m.Draft)
    assert draft.transcript == "路灯坏了我住在八七六五四"
    assert draft.readings == (("路灯坏了", ("陆灯坏了",)),
                              ("我住在八七六五四", ("我住在北新桥街道",)))
