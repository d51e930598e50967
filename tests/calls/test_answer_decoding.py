"""Per-question decoding (#15 item 4): answers to the intake's name, address and problem
questions are decoded again with a bias for the question; the biased reading feeds those
fields, the free decode stays the transcript."""

from __future__ import annotations

from datetime import UTC, datetime

from asr.engines.base import EngineSpec
from asr.engines.fake import FakeEngine
from config import Settings
from tests.calls.test_machine_ivr import AUDIO, Call
from voice_gateway.calls import machine as m
from voice_gateway.calls.answers import answer_request
from workorders import draft
from workorders.draft import Draft
from workorders.knowledge import knowledge
from workorders.questions import Answer, draft_with_answers, lost_tail, question_bias

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def at_intake(**plan: object) -> Call:
    call = Call(**plan)
    call.feed(m.Dtmf("2", "rfc4733"))  # 投诉举报
    while call.queue and call.path()[-1] != "intake":
        call.finish_prompt()
    while call.queue:
        call.finish_prompt()
    state = call.mc.ivr
    assert state is not None and state.intake is not None and state.intake.step == "problem"
    return call


def asked(actions: list[m.Action]) -> m.DecodeAnswer:
    (ask,) = [a for a in actions if isinstance(a, m.DecodeAnswer)]
    return ask


def test_each_answer_to_a_question_is_decoded_again_for_that_question() -> None:
    call = at_intake(decode_answers=True)
    ask = asked(call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO)))
    assert ask.question == "problem"
    assert ask.heard == "门口有人摆摊" and ask.pcm == AUDIO
    call.feed(m.TimerFired("ivr", call.mc._timer_gen))  # the caller's turn is over
    while call.queue:
        call.finish_prompt()
    assert call.mc.ivr is not None and call.mc.ivr.intake is not None
    assert call.mc.ivr.intake.step == "name"
    ask_name = asked(call.feed(m.TranscriptFinal(5.0, 6.0, "我信陈", 0.9, pcm=AUDIO)))
    assert ask_name.question == "name"
    assert ask_name.heard == "门口有人摆摊我信陈"  # what the call said so far
    call.feed(m.AnswerReading(ask_name.ref, "我姓陈耳东陈"))
    # The draft waits for the reading still under way, then carries both, as said.
    call.feed(m.HungUp("remote-bye"))
    assert call.feed(m.MediaDrained(7.0)) == [m.StartTimer("readings", 60.0)]
    cancel, draft_action = call.feed(m.AnswerReading(ask.ref, "门口有人占道经营"))
    assert cancel == m.CancelTimer("readings")
    assert isinstance(draft_action, m.Draft)
    assert draft_action.transcript == "门口有人摆摊我信陈"  # the record is the free decode
    # Each answered the question the IVR had asked when it was said.
    assert draft_action.answers == (("problem", "门口有人摆摊", "门口有人占道经营", True),
                                    ("name", "我信陈", "我姓陈耳东陈", True))


def test_no_second_decode_when_off_or_outside_the_intake_questions() -> None:
    call = at_intake()
    actions = call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO))
    assert actions and not [a for a in actions if isinstance(a, m.DecodeAnswer)]
    call = Call(decode_answers=True)  # at the welcome: no question asked yet
    actions = call.feed(m.TranscriptFinal(1.0, 3.0, "投诉", 0.9, pcm=AUDIO))
    assert not [a for a in actions if isinstance(a, m.DecodeAnswer)]


def test_a_failed_reading_lets_the_draft_go_on_with_the_free_decode() -> None:
    call = at_intake(decode_answers=True)
    ask = asked(call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO)))
    call.feed(m.HungUp("remote-bye"))
    assert call.feed(m.MediaDrained(7.0)) == [m.StartTimer("readings", 60.0)]
    _cancel, draft_action = call.feed(m.AnswerReading(ask.ref))  # the decode failed
    assert isinstance(draft_action, m.Draft) and draft_action.answers == ()


def test_the_biases_name_surnames_districts_then_that_districts_streets_and_topics() -> None:
    data = knowledge()
    name = question_bias("name", "", data)
    assert name is not None and "弓长张" in name.prompt and "立早章" in name.prompt
    assert {"弓长张", "耳东陈", "张", "章"} <= set(name.phrases) and name.phrases[-1] == "[unk]"
    places = question_bias("address", "我住在东城区", data)
    assert places is not None and "东城区" in places.prompt
    assert "东花市街道" in places.prompt and "海淀区" not in places.prompt
    anywhere = question_bias("address", "我住在那个", data)
    assert anywhere is not None and "海淀区" in anywhere.prompt and "延庆区" in anywhere.prompt
    problem = question_bias("problem", "", data)
    assert problem is not None and "井盖" in problem.prompt and "井盖" in problem.phrases
    assert question_bias("phone", "", data) is None
    for bias in (name, places, anywhere, problem):
        assert len(bias.prompt) <= 120  # Whisper base: about 220 prompt tokens


def test_an_engine_gets_the_bias_as_a_prompt_and_as_a_grammar() -> None:
    bias = question_bias("name", "", knowledge())
    assert bias is not None
    request = answer_request(AUDIO, bias)
    assert request.prompt == bias.prompt and request.grammar == bias.phrases
    assert request.background  # never ahead of a caller's utterance in the pool
    # An engine with a grammar (the fake one here, Vosk in production) reads it.
    engine = FakeEngine(EngineSpec(kind="fake", options=(("script", "我信陈"),
                                                         ("biased_script", "我姓陈"))))
    assert engine.decode(request).text == "我姓陈"
    assert engine.decode(request.__class__(AUDIO)).text == "我信陈"


def test_the_biased_reading_feeds_its_fields_and_the_spans_point_at_the_free_text() -> None:
    transcript = "我要投诉门口有人摆摊我是那个东城区那边"
    answers = [Answer("name", "我是那个", "我姓陈耳东陈"),
               Answer("address", "东城区那边", "东城区东花市街道")]
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value is None and free.street.value is None
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value == "陈" and merged.street.value == "东花市街道"
    assert merged.district.value == "东城区"
    start = transcript.index("我是那个")
    assert merged.surname.span == (start, start + 4)
    start = transcript.index("东城区那边")
    assert merged.street.span == (start, start + 5)
    # Fields no question asked for stay the free draft's.
    assert merged.appeal_type == free.appeal_type and merged.phone == free.phone


def test_a_biased_reading_that_reads_back_the_prompt_is_not_used() -> None:
    # On a short answer Whisper may go on with its prompt: the spellings of the name bias.
    transcript = "我要投诉门口有人摆摊我健身"
    answers = [Answer("name", "我健身", "我健身弓长张小孙水工江沙大水工江沙大水工江")]
    free = draft(transcript, "13900000001", NOW)
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value is None  # not 张 from the prompt's 弓长张
    assert merged == free


# -- the second pass: free speech decoded again for the name and the address ----------------

def test_a_monologue_utterance_is_decoded_again_for_each_second_pass_question() -> None:
    from tests.calls.test_machine import final, live

    mc = live(second_pass=("name", "address"))  # no menu: everything said is the appeal
    actions = mc.handle(final("门口路灯坏了我信陈住在东城区那边", pcm=AUDIO))
    asks = [a for a in actions if isinstance(a, m.DecodeAnswer)]
    assert [a.question for a in asks] == ["name", "address"]
    assert all(a.pcm == AUDIO and a.heard == "门口路灯坏了我信陈住在东城区那边" for a in asks)
    assert mc.handle(final("", start=3.0, pcm=AUDIO)) == [
        m.StoreUtterance(1, final("", start=3.0, pcm=AUDIO))]  # nothing heard: nothing asked
    mc.handle(m.HungUp("remote-bye"))
    assert mc.handle(m.MediaDrained(5.0)) == [m.StartTimer("readings", 60.0)]  # waits
    mc.handle(m.AnswerReading(asks[1].ref, "门口路灯坏了我信陈住在东城区东花市街道"))
    _cancel, draft_action = mc.handle(
        m.AnswerReading(asks[0].ref, "门口路灯坏了我姓陈住在东城区那边"))
    assert isinstance(draft_action, m.Draft)
    assert draft_action.transcript == "门口路灯坏了我信陈住在东城区那边"
    assert {a[0] for a in draft_action.answers} == {"name", "address"}
    assert not any(a[3] for a in draft_action.answers)  # no question was asked


def test_the_second_pass_leaves_the_answers_to_intake_questions_to_their_own_decode() -> None:
    call = at_intake(decode_answers=True, second_pass=("name", "address"))
    # The problem, told at length: its own question, and the second pass's.
    actions = call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO))
    assert sorted(a.question for a in actions if isinstance(a, m.DecodeAnswer)) == [
        "address", "name", "problem"]
    call.feed(m.TimerFired("ivr", call.mc._timer_gen))
    while call.queue:
        call.finish_prompt()
    assert call.mc.ivr is not None and call.mc.ivr.intake is not None
    assert call.mc.ivr.intake.step == "name"
    # The answer to the name question: its own decode for the name, the second pass's
    # for the address (a caller talking over the prompts says anything at any step).
    actions = call.feed(m.TranscriptFinal(5.0, 6.0, "我信陈住在东城区", 0.9, pcm=AUDIO))
    assert sorted(a.question for a in actions if isinstance(a, m.DecodeAnswer)) == [
        "address", "name"]
    # Without per-question decoding every utterance gets the second pass, at any step.
    call = at_intake(second_pass=("name", "address"))
    actions = call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO))
    assert [a.question for a in actions if isinstance(a, m.DecodeAnswer)] == ["name", "address"]
    call.feed(m.TimerFired("ivr", call.mc._timer_gen))
    while call.queue:
        call.finish_prompt()
    actions = call.feed(m.TranscriptFinal(5.0, 9.0, "我信陈住在东城区", 0.9, pcm=AUDIO))
    assert [a.question for a in actions if isinstance(a, m.DecodeAnswer)] == ["name", "address"]


def test_one_utterance_read_for_the_name_and_for_the_address_feeds_both() -> None:
    transcript = "门口路灯坏了我信陈住在东城区那边"
    answers = [Answer("name", transcript, "门口路灯坏了我姓陈住在东城区那边"),
               Answer("address", transcript, "门口路灯坏了我信陈住在东城区东花市街道")]
    free = draft(transcript, "13900000001", NOW)
    assert free.street.value is None
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value == "陈" and merged.street.value == "东花市街道"
    assert merged.category == free.category  # no question asked about the problem


async def test_a_file_call_drafts_from_the_second_pass_and_keeps_the_free_transcript(
        settings: Settings) -> None:
    from tests.conftest import CALLS_DIR
    from voice_gateway.calls.file_call import call_from_file
    from voice_gateway.services import open_services

    free = "门口路灯坏了我信陈住在东城区那边"
    spec = EngineSpec(kind="fake", options=(
        ("script", free),
        ("biased_script", "门口路灯坏了我姓陈耳东陈住在东城区那边|"
                          "门口路灯坏了住在东城区东花市街道")))
    assert settings.asr.second_pass == ("name", "address")  # on by default
    async with open_services(settings, spec=spec, workers=1) as services:
        outcome = await call_from_file(services, CALLS_DIR / "D03.ulaw.wav", "13900000000")
    heard = [u.text for u in outcome.utterances if u.text]
    assert heard and all(t == free for t in heard)  # the record is the free decode
    assert outcome.draft["surname"] == "陈"
    assert outcome.draft["street"] == "东花市街道"


def test_a_biased_given_name_does_not_replace_the_records_under_the_same_surname() -> None:
    transcript = "我叫周桂兰电话幺三九零零幺二三四五六"
    free = draft(transcript, "13900000001", NOW)
    assert free.name.value == "周桂兰"
    same = draft_with_answers(free, transcript, [Answer("name", transcript,
                                                        "我叫周贵篮电话幺三九零零幺二三四五六")],
                              "13900000001", NOW)
    assert same.name.value == "周桂兰" and same.surname.value == "周"
    # Another surname: the biased reading's name, surname and all.
    other = draft_with_answers(free, transcript, [Answer("name", transcript,
                                                         "我叫邹桂兰电话幺三九零零幺二三四五六")],
                               "13900000001", NOW)
    assert (other.name.value, other.surname.value) == ("邹桂兰", "邹")



def test_answers_keep_the_order_of_their_utterances_when_texts_repeat() -> None:
    from tests.calls.test_machine import final, live

    mc = live(second_pass=("address",))
    said = ["对", "我住在东城区那边", "对"]
    asks = []
    for i, text in enumerate(said):
        actions = mc.handle(final(text, start=1.0 + 2 * i, pcm=AUDIO))
        asks += [a for a in actions if isinstance(a, m.DecodeAnswer)]
    mc.handle(m.HungUp("remote-bye"))
    mc.handle(m.MediaDrained(9.0))
    readings = ["对", "我住在东城区东花市街道", "对"]
    out: list[m.Action] = []
    for ask, text in reversed(list(zip(asks, readings, strict=True))):  # any order back
        out = mc.handle(m.AnswerReading(ask.ref, text))
    draft_action = out[-1]
    assert isinstance(draft_action, m.Draft)
    assert [a[1] for a in draft_action.answers] == said
    merged = draft_with_answers(draft(draft_action.transcript, "13900000001", NOW),
                                draft_action.transcript,
                                [Answer(*a) for a in draft_action.answers], "13900000001", NOW)
    assert merged.street.value == "东花市街道"
    # Its evidence is the utterance that said it, not the first one.
    start = draft_action.transcript.index("我住在东城区那边")
    assert merged.street.span == (start, start + len("我住在东城区那边"))


def test_a_draft_waits_for_readings_only_so_long() -> None:
    from tests.calls.test_machine import final, live

    mc = live(second_pass=("name", "address"))
    mc.handle(final("门口路灯坏了我信陈", pcm=AUDIO))
    mc.handle(m.HungUp("remote-bye"))
    assert mc.handle(m.MediaDrained(5.0)) == [m.StartTimer("readings", 60.0)]
    # A busy pool has not got to them: the call is drafted with what it has.
    (draft_action,) = mc.handle(m.TimerFired("readings"))
    assert isinstance(draft_action, m.Draft) and draft_action.answers == ()
    assert mc.phase == "drafting"
    assert mc.handle(m.AnswerReading(1, "门口路灯坏了我姓陈")) == []  # too late: ignored


def test_a_final_after_the_hang_up_is_decoded_again_for_the_question_it_answers() -> None:
    call = at_intake(decode_answers=True, second_pass=("name", "address"))
    call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO))
    call.feed(m.TimerFired("ivr", call.mc._timer_gen))
    while call.queue:
        call.finish_prompt()
    assert call.mc.ivr is not None and call.mc.ivr.intake is not None
    assert call.mc.ivr.intake.step == "name"
    call.feed(m.HungUp("remote-bye"))  # the answer's final comes after the hang-up
    actions = call.feed(m.TranscriptFinal(5.0, 6.0, "我信陈", 0.9, pcm=AUDIO))
    assert [a.question for a in actions if isinstance(a, m.DecodeAnswer)] == ["name", "address"]


# -- a tail the free decode lost ----------------------------------------------------------

_STOPPED = "楼道里一股煤气味儿从早上就有了你们赶紧派人来看看吧东城区北新桥街道那边我叫董立新"


def test_lost_tail_is_what_a_biased_reading_heard_after_the_free_decode_stopped() -> None:
    biased = _STOPPED[:-1] + "信电话幺三九幺零四七二二八五"  # 新 read 信 here
    assert lost_tail(_STOPPED, biased) == "电话幺三九幺零四七二二八五"
    assert lost_tail(_STOPPED, _STOPPED + "啊") == ""  # no more than a breath
    assert lost_tail("我健身", "我健身弓长张小孙水工江沙大水工江") == ""  # the prompt read back


def test_a_number_heard_only_in_a_lost_tail_replaces_the_caller_id() -> None:
    tail = "电话幺三九幺零四七二二八五"
    answers = [Answer("name", _STOPPED, _STOPPED + tail),
               Answer("address", _STOPPED, _STOPPED[:-4])]
    free = draft(_STOPPED, "15810372294", NOW)
    assert free.phone.value == "15810372294" and free.phone.span is None
    merged = draft_with_answers(free, _STOPPED, answers, "15810372294", NOW)
    assert merged.phone.value == "13910472285"
    assert merged.phone.span == (0, len(_STOPPED))  # the utterance the agent hears it in
    assert (merged.phone.confidence or 0) < 0.9
    # A number the free decode heard, or keyed in, stands.
    said = _STOPPED + "电话幺三八零零零零幺幺幺幺"
    answers = [Answer("name", said, said + tail)]
    assert draft_with_answers(draft(said, "15810372294", NOW), said, answers, "15810372294",
                              NOW).phone.value == "13800001111"
    keyed = draft(_STOPPED, "15810372294", NOW, keypad_phone="13700000000")
    answers = [Answer("name", _STOPPED, _STOPPED + tail)]
    assert draft_with_answers(keyed, _STOPPED, answers, "15810372294", NOW,
                              keypad_phone="13700000000").phone.value == "13700000000"


def test_a_number_a_biased_reading_heard_whole_replaces_the_caller_id() -> None:
    # 幺八九 幺零二三 五五六八: the free decode lost a 零 (ten digits, no number), the
    # reading with the name prompt heard all eleven.
    free_text = "就是我们小区南门对面电话1891235568信黄草投黄"
    biased = "就是我们小区南门对面电话18910235568姓黄草头黄"
    transcript = "我要举报工地半夜打桩" + free_text
    free = draft(transcript, "15801367729", NOW)
    assert free.phone.value == "15801367729" and free.phone.span is None
    merged = draft_with_answers(free, transcript, [Answer("name", free_text, biased)],
                                "15801367729", NOW)
    assert merged.phone.value == "18910235568"
    at = transcript.index(free_text)
    assert merged.phone.span == (at, at + len(free_text))
    assert (merged.phone.confidence or 0) < 0.9
    # The caller's own number misheard in both readings is still the caller ID.
    own = "电话150011939三八"
    transcript = "我要举报工地半夜打桩" + own[:-1]
    merged = draft_with_answers(draft(transcript, "15001209938", NOW), transcript,
                                [Answer("name", own[:-1], own)], "15001209938", NOW)
    assert merged.phone.value == "15001209938" and merged.phone.span is None
    # Two readings that disagree settle nothing.
    other = biased.replace("18910235568", "18910235569")
    transcript = "我要举报工地半夜打桩" + free_text
    merged = draft_with_answers(free, transcript, [Answer("name", free_text, biased),
                                                   Answer("address", free_text, other)],
                                "15801367729", NOW)
    assert merged.phone.value == "15801367729"


def test_a_category_a_biased_reading_writes_where_the_free_decode_named_none() -> None:
    free_text = "喂你好我想说个事那个东西一直没给我们发下来都仨月了"
    biased = "喂你好我想说个事那个工资一直没给我们发下来都仨月了"
    transcript = free_text + "电话幺三八零零零零幺幺幺幺"
    free = draft(transcript, None, NOW)
    assert free.category.value == "其他" and free.category.span is None
    merged = draft_with_answers(free, transcript, [Answer("name", free_text, biased)], None, NOW)
    assert (merged.category.value, merged.subcategory.value) == ("劳动社保", "拖欠工资")
    assert merged.category.span == (0, len(free_text))  # what the agent hears it in
    assert (merged.category.confidence or 0) < 0.7
    assert merged.dispatch_to.value != free.dispatch_to.value
    # A category the free decode names stands.
    said = "我们小区停水两天了" + free_text
    kept = draft(said, None, NOW)
    assert draft_with_answers(kept, said, [Answer("name", free_text, biased)], None,
                              NOW).category == kept.category


def test_a_lost_tail_without_digits_changes_nothing_the_question_did_not_ask() -> None:
    answers = [Answer("address", _STOPPED, _STOPPED + "我姓张弓长张立早章")]
    free = draft(_STOPPED, "15810372294", NOW)
    merged = draft_with_answers(free, _STOPPED, answers, "15810372294", NOW)
    assert merged.phone == free.phone and merged.surname == free.surname


def test_a_surname_the_caller_described_is_not_undone_by_a_biased_reading() -> None:
    transcript = "孩子上学的事我想问问我信沾沾天佑的沾电话幺三九"
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value == "詹"
    answers = [Answer("name", transcript, "孩子上学的事我想问问我信章章天佑的章电话幺三九")]
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value == "詹"


def test_an_answer_that_is_only_a_name_names_the_caller() -> None:
    # 您贵姓? — 王建国: no 我叫 for the drafter to find in the transcript.
    transcript = "楼下饭馆油烟太大王建国"
    answers = [Answer("name", "王建国", "王建国")]
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value is None
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert (merged.surname.value, merged.name.value) == ("王", "王建国")
    start = transcript.index("王建国")
    assert merged.surname.span == (start, start + 3)
    # 耳东陈 陈建军: the spelling gives the surname, the answer the full name under it.
    transcript = "楼下饭馆油烟太大耳东陈陈建军"
    answers = [Answer("name", "耳东陈陈建军", "耳东 陈 陈建军")]
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value == "陈"
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert (merged.surname.value, merged.name.value) == ("陈", "陈建军")


def test_a_short_utterance_that_is_no_name_names_no_one() -> None:
    # A monologue's utterances are all read for the name: 李家村那边 is a place, 王师傅 明天来
    # someone else.
    transcript = "我们村里路灯坏了李家村那边王师傅明天来"
    answers = [Answer("name", "李家村那边", "李家村 那边"),
               Answer("name", "王师傅明天来", "王师傅 明天 来")]
    free = draft(transcript, "13900000001", NOW)
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value is None and merged.name.value is None


def test_a_biased_name_agrees_with_the_surname_that_stands() -> None:
    # The free reading's surname is settled by the caller's description (牧贵英的牧 → 穆,
    # surer than the biased 吴): the biased 吴春生 does not come with it.
    transcript = "我叫牧春生牧贵英的牧我们村今年搞煤改电"
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value == "穆"
    answers = [Answer("name", transcript, "我叫吴春生吴贵英的吴我们村今年搞煤改电")]
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.surname.value == "穆"
    assert merged.name.value in (None, free.name.value)


def test_a_biased_name_replaces_one_flagged_implausible_under_the_same_surname() -> None:
    transcript = "我叫古见金山古的古妖八妖妖零九三五七零"
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value == "谷"
    answers = [Answer("name", transcript, "我叫谷建军山谷的谷幺八幺幺零九三五七零")]
    merged = draft_with_answers(free, transcript, answers, "13900000001", NOW)
    assert merged.name.value == "谷建军"


def test_only_the_answer_to_the_question_asked_is_marked_asked() -> None:
    call = at_intake(decode_answers=True, second_pass=("name", "address"))
    actions = call.feed(m.TranscriptFinal(1.0, 3.0, "门口有人摆摊", 0.9, pcm=AUDIO))
    refs = {a.question: a.ref for a in actions if isinstance(a, m.DecodeAnswer)}
    for question, ref in refs.items():
        call.feed(m.AnswerReading(ref, f"{question}的读法"))
    assert sorted((a[0], a[3]) for a in call.mc.answers) == [
        ("address", False), ("name", False), ("problem", True)]


def test_a_surname_alone_names_the_caller_only_where_the_ivr_asked_for_it() -> None:
    # 您贵姓? — 王: the answer is the surname. The same word in a monologue, read for the
    # name by the second pass, is no name (王 of 王府井, 李 of 李家村).
    transcript = "楼下饭馆油烟太大王"
    free = draft(transcript, "13900000001", NOW)
    assert free.surname.value is None
    asked_for = draft_with_answers(free, transcript, [Answer("name", "王", "王", asked=True)],
                                   "13900000001", NOW)
    assert asked_for.surname.value == "王"
    read_for = draft_with_answers(free, transcript, [Answer("name", "王", "王")],
                                  "13900000001", NOW)
    assert read_for.surname.value is None


def _d42(free_text: str, for_name: str) -> tuple[str, list[Answer], Draft, Draft]:
    """D42's call with the free decode and the name-biased reading given, the address-biased
    reading as decoded (冯叔分): the transcript, the answers, and the free and merged
    drafts."""
    for_address = "特别感谢我叫冯叔分命云区果园街等于电话"
    transcript = "表扬一下我们社区的民警小刘" + free_text + "幺五幺零幺二六三三四八"
    free = draft(transcript, None, NOW)
    answers = [Answer("address", free_text, for_address), Answer("name", free_text, for_name)]
    return transcript, answers, free, draft_with_answers(free, transcript, answers, None, NOW)


def test_a_full_name_only_the_address_reading_heard_fills_the_name() -> None:
    # D42 heard worse: free 凤书门, biased for the name 彤书门, biased for the address
    # 冯叔分.
    free_text = "特别感谢我叫凤书门明营区果颜接等于电话"
    transcript, answers, free, merged = _d42(free_text, "特别感谢我叫彤书门命营区果元接等音电话")
    assert free.name.value is None
    assert (merged.surname.value, merged.name.value) == ("冯", "冯淑芬")
    start = transcript.index(free_text)
    assert merged.name.span == (start, start + len(free_text))
    assert (merged.name.confidence or 0) < 0.85
    # A name the draft has stands; a name under another surname than the draft's is not taken.
    named = "我叫王建国" + transcript
    kept = draft(named, None, NOW)
    assert draft_with_answers(kept, named, answers, None, NOW).name.value == "王建国"


def test_an_appeal_type_the_biased_readings_say_outright_replaces_a_hinted_one() -> None:
    # D12: 建议 heard as 建于 in the free decode, written 建议 in both biased readings.
    free_text = "建于九百一十路公交晚上能延长一下运营时间下班回不了家我住怀柔区龙山街道"
    biased = "建议九百一十路公交晚上能延长一下运营时间下班回不了家我住怀柔区龙山街道"
    transcript = free_text + "我姓侯电话幺五零幺二三四五六七八"
    free = draft(transcript, None, NOW)
    assert free.appeal_type.value != "建议"
    answers = [Answer("name", free_text, biased), Answer("address", free_text, biased)]
    merged = draft_with_answers(free, transcript, answers, None, NOW)
    assert merged.appeal_type.value == "建议"
    assert merged.appeal_type.span == (0, len(free_text))
    # Readings that disagree change nothing; nor does one where the free decode said it.
    other = biased.replace("建议", "投诉")
    split = [Answer("name", free_text, biased), Answer("address", free_text, other)]
    assert draft_with_answers(free, transcript, split, None, NOW).appeal_type == \
        free.appeal_type
    said = "我要投诉" + transcript
    kept = draft(said, None, NOW)
    assert draft_with_answers(kept, said, answers, None, NOW).appeal_type.value == "投诉"


def test_a_surname_more_readings_agree_on_outvotes_the_name_reading() -> None:
    # D42 as decoded: free 凤叔分 (冯淑芬), biased for the address 冯叔分 (冯淑芬), biased
    # for the name 彤叔分 (童淑芬): two readings of the same audio against one.
    for_name = "特别感谢我叫彤叔分命营区果元接等音电话"
    free_text = "特别感谢我叫凤叔分明营区果颜接等于电话"
    transcript, _answers, free, merged = _d42(free_text, for_name)
    assert (merged.surname.value, merged.name.value) == ("冯", "冯淑芬")
    # Alone against the name reading, the free decode's homophone gives way.
    only_name = draft_with_answers(free, transcript, [Answer("name", free_text, for_name)],
                                   None, NOW)
    assert only_name.surname.value == "童"
