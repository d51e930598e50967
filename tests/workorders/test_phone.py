"""Phone extraction: spoken, grouped and Arabic digits; corrections; what is not a phone."""

from __future__ import annotations

import pytest

from workorders.phone import find_phone, normalise_number
from workorders.text import compact

CALLER = "13900000000"

SPOKEN = [
    ("电话幺三八幺幺二二三三四四", "13811223344"),
    ("电话 幺三八 幺幺二二 三三四四", "13811223344"),
    ("我的手机号是一五九一零二零三零四零", "15910203040"),
    ("电话要三八要要二二三三四四", "13811223344"),
    ("电话腰三八腰腰二二三三四四", "13811223344"),
    ("号码妖三八妖妖二二三三四四", "13811223344"),
    # 耀 (yào) too: Whisper base writes 幺 as it (胡耀三九一一八七五零二六).
    ("我叫胡耀电话耀三九幺幺二二三三四四", "13911223344"),
    ("电话 耀三九 零零幺二 三四五六", "13900123456"),
    ("电话一 三 八 零 一 二 三 四 五 六 七", "13801234567"),
    ("联系方式 一八六 一一 二二 三三 四四 谢谢", "18611223344"),
    ("电话两个号都行 一三七 零零 一一 二二 三三", "13700112233"),
    ("手机一九九 八八 七七 六六 五五", "19988776655"),
    ("我要一三八一一二二三三四四", "13811223344"),  # 要 before the number is a word
    ("电话一三九零零零零一一一一一下午都在家", "13900001111"),
    ("电话一八六一一二二三三四四两个号码都能打", "18611223344"),
    ("打我手机一五零 拐拐 洞洞 八八 九九", "15077008899"),
]

ARABIC = [
    ("电话 138 1122 3344", "13811223344"),
    ("电话159-102-030-4-0", "15910203040"),
    ("手机号是13811223344", "13811223344"),
    ("电话 138 1122 3344 住 3 号楼", "13811223344"),
    ("电话１３８１１２２３３４４", "13811223344"),  # full-width digits
]

LANDLINES = [
    ("座机 六二三四 五六七八", "62345678"),
    ("家里座机零幺零六二三四五六七八", "01062345678"),
    ("电话 010-6234-5678", "01062345678"),
]

CORRECTIONS = [
    ("电话是一三八零零一三八零零零 不对 是 一三八零零一三八零零一", "13800138001"),
    ("电话一三八零零一三八零零零 错了 重说 一三八零零一三八零零二", "13800138002"),
    ("手机一五二零一零二零三零四 说错了 应该是 一五二零一零二零三零五", "15201020305"),
    # 不对 misheard by Whisper as its homophone 部队 (bù duì).
    ("我近期电话是13800138000部队是13800138001", "13800138001"),
    ("电话13800138000，部队，是13800138002", "13800138002"),
    # The army itself is no correction.
    ("部队大院的 电话13800138000 部队的人也来看过", "13800138000"),
    # A correction of only the last digits replaces as many of the number's last digits.
    ("我叫覃建军幺三二零八四七六三九五哎说错了最后是六三五九我们一帮人", "13208476359"),
    ("我叫袁丽幺八六零二四五七幺三九不对是零二五四七幺三九我社保卡丢了", "18602547139"),
]

# Numbers that must never be taken for a phone: the caller ID stays.
NOT_PHONES = [
    "老板欠我一万二千块钱",
    "二零二三年三月开始就这样",
    "三号楼二单元一零零二室",
    "九百一十路公交晚上九点就没了",
    "订单号一二三四五六七八",
    "身份证号一一零一零五一九八零零一零一一二三四",
    "一共交了一二零零零元押金",
    "我住十八楼 屋里才十四度",
    "车牌号京A一二三四五",
    "第三次了 三个月 两口子",
    "房租 三千五 押金 七千",
]


@pytest.mark.parametrize(("text", "want"), SPOKEN + ARABIC + LANDLINES + CORRECTIONS)
def test_heard_number(text: str, want: str) -> None:
    found = find_phone(compact(text), CALLER)
    assert found.value == want
    assert found.span is not None
    assert found.confidence >= 0.7


@pytest.mark.parametrize("text", NOT_PHONES)
def test_not_a_phone(text: str) -> None:
    found = find_phone(compact(text), CALLER)
    assert found.value == CALLER
    assert found.span is None


def test_span_points_at_the_transcript() -> None:
    text = "我姓黄 电话 幺三八 幺幺二二 三三四四"
    found = find_phone(compact(text), None)
    assert found.span is not None
    assert text[found.span[0] : found.span[1]] == "幺三八 幺幺二二 三三四四"


@pytest.mark.parametrize(
    ("caller", "want"),
    [
        ("13900000000", "13900000000"),
        ("+86 139 0000 0000", "13900000000"),
        ("0086-13900000000", "13900000000"),
        ("010 6234 5678", "01062345678"),
        (None, None),
        ("", None),
    ],
)
def test_caller_id_when_nothing_spoken(caller: str | None, want: str | None) -> None:
    assert find_phone(compact("楼下太吵了"), caller).value == want


def test_keypad_wins_over_everything() -> None:
    found = find_phone(compact("电话一三八一一二二三三四四"), CALLER, keypad_phone="15011112222")
    assert found.value == "15011112222"
    assert found.confidence > 0.95


def test_a_number_with_a_lost_digit_falls_back_to_the_caller_id() -> None:
    # Whisper sometimes drops one of a repeated pair: an invalid number is not reported.
    assert find_phone(compact("电话 1381122334"), "13811223344").value == "13811223344"


def test_heard_number_confirming_the_caller_id_is_most_confident() -> None:
    assert find_phone(compact("电话一三九零零零零零零零零"), CALLER).confidence == 0.99


@pytest.mark.parametrize(
    ("raw", "want"), [("138-1122-3344", "13811223344"), ("+8613811223344", "13811223344")]
)
def test_normalise_number(raw: str, want: str) -> None:
    assert normalise_number(raw) == want


@pytest.mark.parametrize(
    ("text", "caller", "want"),
    [
        # Whisper gained a digit: the caller ID one digit away is what was meant.
        ("电话151012345678", "15012345678", "15012345678"),
        ("电话 1381122334", "13811223344", "13811223344"),
        # A corrected, valid number after a garbled one is still the caller's choice.
        ("电话 1381122334 不对 是 15900001111", "13811223344", "15900001111"),
        # A number one digit changed from the caller ID is the caller ID misheard: the
        # ASR swaps digits far more often than a caller gives a number one digit from
        # their own, and a wrong guess then still reaches the caller.
        ("电话 13811223345", "13811223344", "13811223344"),
        # Two digit edits of an 11-digit number: still the caller ID misheard (Whisper
        # doubled an 8 and lost a 2; replaced two digits of a run).
        ("电话 188 518 27364", "18518227364", "18518227364"),
        ("电话 13810925107", "13810925517", "13810925517"),
        # Three: a different number.
        ("电话 13811223355", "13811224444", "13811223355"),
        # The caller's own number, a digit misheard, then its last digits mended (and
        # misheard again): the caller ID, not the splice.
        ("电话18811174292输错了是930", "18811074293", "18811074293"),
        # The caller says exactly the number they call from, then corrects it: the
        # correction is what they mean, however close to the caller ID.
        ("电话 幺三九 零零幺二 三四五六 不对 是 幺三九 零零幺二 三四五七", "13900123456",
         "13900123457"),
        ("手机 幺八六 幺二三四 五六七八 说错了 最后 是 五六七九", "18612345678", "18612345679"),
        ("电话幺五幺零零八八六六四四前面说错了是幺五二零零八八六六四四", "15100886644",
         "15200886644"),
        # As Whisper writes it: 哎不对说错了 heard 艾部对收错了.
        ("电话13520874419艾部对收错了最后4418我叫", "13520874419", "13520874418"),
        # A 不对 a clause later corrects something else: the number near the caller ID
        # after it is still the caller ID misheard.
        ("我电话就是幺三九零零幺二三四五六 物业费收得不对 应该是 幺三九零零幺二三四五七",
         "13900123456", "13900123456"),
    ],
)
def test_misheard_caller_id(text: str, caller: str, want: str) -> None:
    assert find_phone(compact(text), caller).value == want


@pytest.mark.parametrize(
    ("text", "caller", "want"),
    [
        # Calling from 010 69712048, the caller gives the landline as Beijing callers do,
        # without the area code, and Whisper gains a digit (六九七一一二零四八) or changes
        # one: the caller ID misheard, given as the caller said it.
        ("我姓闫 座机 六九七一一二零四八", "01069712048", "69712048"),
        ("座机 六九七二二零四八", "01069712048", "69712048"),
        # Said whole, area code and all, a digit gained: the caller ID as it is.
        ("座机 零幺零 六九七一一二零四八", "01069712048", "01069712048"),
        # Another landline, far from the caller's own, is that landline.
        ("座机 六二三四五六七八", "01069712048", "62345678"),
    ],
)
def test_own_landline_said_without_the_area_code(text: str, caller: str, want: str) -> None:
    assert find_phone(compact(text), caller).value == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # 零幺零 heard as 零零零 / 零七零: the area code with one digit misheard, then a
        # local number; cued or not, an 11-digit run starting with 0 is a landline.
        ("座机零零零八三二二五六七四", "01083225674"),
        ("家里左机零零零八三二二五六七四", "01083225674"),
        ("电话零七零六二五五三四二一", "01062553421"),
        # 幺 lost altogether (零零 + eight digits): ten digits that are 010 and a local
        # number, and a correction of them.
        ("家里电话零零六七九六二零五腰", "01067962051"),
        ("电话零零八三五四七二六腰不对是零零八三五四七二六八", "01083547268"),
    ],
)
def test_a_misheard_area_code(text: str, want: str) -> None:
    assert find_phone(compact(text), "13900001111").value == want


@pytest.mark.parametrize("text", ["订单号零零六七九六二零五一", "编号零零八三五四七二六八号"])
def test_ten_digits_starting_00_are_no_landline_without_a_phone_cue(text: str) -> None:
    assert find_phone(compact(text), "13900001111").value == "13900001111"


# A caller ID is a number only when it is "+"? and 3 to 20 ASCII digits (RFC 3966 visual
# separators aside); digits are never picked out of anything else.
NOT_A_NUMBER = [
    "%3Csvg%2Fonload%3Dalert(3)%3E",  # its digits made the phone "32333"
    "<svg/onload=alert(3)>",
    "anonymous",
    "sip:13800138000@example.com",
    "13800138000;cpc=ordinary",
    "１３８００１３８０００",  # full-width digits
    "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
    "1380013800²",
    "++8613800138000",
    "12",
    "1" * 21,
    "1" * 25,
]


@pytest.mark.parametrize("caller", NOT_A_NUMBER)
def test_caller_id_that_is_not_a_number_is_absent(caller: str) -> None:
    assert normalise_number(caller) is None
    assert find_phone(compact("楼下太吵了"), caller).value is None


@pytest.mark.parametrize(
    ("raw", "want"), [("110", "110"), ("(010) 6234.5678", "01062345678"), ("1" * 20, "1" * 20)]
)
def test_normalise_number_edges(raw: str, want: str) -> None:
    assert normalise_number(raw) == want


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        # The number before the correction was heard a digit short (五五 → 五); the
        # correction says its tail again: the head comes from the first reading.
        ("电话 幺八六 二四五 七幺三九 不对 是 零二五四 七幺三九", "18602547139"),
        ("电话幺三八零二七六五四九不对是零二六七五五四九", "13802675549"),
    ],
)
def test_a_correction_restating_the_tail_of_a_number_heard_short(text: str, phone: str) -> None:
    assert find_phone(compact(text), "13051276948").value == phone


@pytest.mark.parametrize(
    "text",
    [
        "电话幺三八零二七六五四九不对是幺三八零二六七五四九",  # both short: no number
        "电话幺三八零二七六五四九 不对 是 四九",  # too short a tail to trust
    ],
)
def test_no_number_from_two_short_readings(text: str) -> None:
    assert find_phone(compact(text), "13051276948").value == "13051276948"


@pytest.mark.parametrize(("text", "number"), [
    # 座机 written 做机 / 左机 cues a landline whose 幺 was lost (零零 for 零幺零)
    ("我这个是做机零零六九八四二七一三我今年八十了", "01069842713"),
    ("家里左机零零六九八四二七一三", "01069842713"),
    # 幺 written 雅 (yā for yāo) inside a number
    ("家里电话零雅零八七七三四零二腰", "01087734021"),
    # 座机 heard with another ji too (左击, 做几): a local number after it
    ("你打我们这左击零零八九五二六一三七", "01089526137"),
    ("家做几把六三二七八八腰五我想问一下", "63278815"),
])
def test_a_landline_heard_with_its_cue_or_its_one_misheard(text: str, number: str) -> None:
    assert find_phone(compact(text), "13366021984").value == number


def test_ya_in_a_name_before_the_number_is_not_a_digit() -> None:
    assert find_phone(compact("我叫王雅幺三九幺零二二八四七五"), None).value == "13910228475"


@pytest.mark.parametrize(("text", "number"), [
    # eight digits after a mobile number and a correction mend its last eight
    ("电话要3862094017不对62084017", "13862084017"),
    ("电话 幺三八 六二零九 四零幺七 不对 六二零八 四零幺七", "13862084017"),
    # unless the caller turns to a landline
    ("手机幺三八六二零九四零幺七 不对 我留个座机吧 六二零八四零幺七", "62084017"),
])
def test_eight_digits_after_a_corrected_mobile(text: str, number: str) -> None:
    assert find_phone(compact(text), "13366021984").value == number


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # 零幺零 六二八幺 五三四七 heard with one 零 too many after the misheard area code
        ("家里座机零零零六二八一零五三四七", "01062815347"),
        ("座机零零零六二零零一五三四七", "01062015347"),
        # 家里 turns to a landline as 座机 does: 零幺零 heard as 零零
        ("留个家里的吧 家里零零六七零二三一五八", "01067023158"),
    ],
)
def test_a_landline_heard_with_a_digit_too_many_or_cued_by_jiali(text: str, want: str) -> None:
    assert find_phone(compact(text), "13911112222").value == want


@pytest.mark.parametrize(("text", "caller", "phone"), [
    # one digit heard as a word (四 → 算) splits the caller ID in two
    ("单位来看看电话要三算二六零五七七八腰", "13426057781", "13426057781"),
    # two runs that are not the caller ID around a word are no number of theirs
    ("单位来看看电话要三算二六零五七七八腰", "13811112222", "26057781"),
])
def test_the_caller_id_split_by_a_misheard_digit(text: str, caller: str, phone: str) -> None:
    assert find_phone(compact(text), caller).value == phone
