"""Caller ID from a SIP URI user part: a phone number, or unknown with escaped evidence."""

from __future__ import annotations

import pytest

from voice_gateway.calls.caller_id import CallerId, parse_caller_id

XSS = "%3Csvg%2Fonload%3Dalert(3)%3E"

# (raw user part, the number it is, or None for unknown)
TABLE = [
    ("13812345678", "13812345678"),
    ("+8613812345678", "+8613812345678"),
    ("%2B8613812345678", "+8613812345678"),
    ("010-6512-3456", "01065123456"),
    ("(010) 6512.3456", "01065123456"),
    ("+86-10-12345", "+861012345"),
    ("110", "110"),  # three digits: the shortest that counts
    ("1" * 20, "1" * 20),
    ("anonymous", None),
    ("Anonymous", None),
    (XSS, None),  # its digits are 3, 2, 3, 3, 3: never "32333"
    ("<svg/onload=alert(3)>", None),
    ("12", None),  # too short
    ("1" * 21, None),
    ("1" * 25, None),
    ("++86138", None),
    ("86+138", None),
    ("+", None),
    ("１３８", None),  # full-width digits are not ASCII
    ("١٣٨١٢٣٤٥٦٧٨", None),  # Arabic-Indic digits
    ("138²", None),  # str.isdigit() says yes
    ("138\n", None),
    ("138%0A", None),
    ("13812345678;cpc=ordinary", "13812345678"),  # user-parameters (RFC 3966)
    ("+8613812345678;npdi", "+8613812345678"),
    (";cpc=ordinary", None),
    ("%C3%28138", None),  # percent-encodes bytes that are not UTF-8
    ("%", None),
    ("", None),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "number"), TABLE, ids=[repr(r) for r, _ in TABLE])
def test_parse_caller_id(raw: str, number: str | None) -> None:
    caller = parse_caller_id(raw)
    assert caller.number == number
    if number is not None:
        assert caller == CallerId(number=number, raw=raw)
    else:
        assert caller.raw is not None and len(caller.raw) <= 64
        assert caller.raw.isprintable() and "<" not in caller.raw and ">" not in caller.raw
        caller.raw.encode()  # storable as UTF-8


def test_no_caller_id() -> None:
    assert parse_caller_id(None) == CallerId(number=None, raw=None)


@pytest.mark.parametrize(
    ("raw", "evidence"),
    [
        (XSS, "&lt;svg/onload=alert(3)&gt;"),
        ("anonymous", "anonymous"),
        ("", ""),
        ("\"a\"&'b'", "&quot;a&quot;&amp;&#x27;b&#x27;"),
        ("138%0A%00\x7f", "138\\x0a\\x00\\x7f"),
        ("%C3%28138", "\\xc3(138"),  # undecodable bytes shown, not replaced
        ("x\udcff\u200by", "x\\udcff\\u200by"),  # lone surrogate, zero-width space
        ("１３８", "１３８"),
    ],
)
def test_evidence_is_escaped(raw: str, evidence: str) -> None:
    assert parse_caller_id(raw) == CallerId(number=None, raw=evidence)


def test_evidence_is_cut_at_64_characters_without_splitting_an_escape() -> None:
    assert parse_caller_id("a" * 100).raw == "a" * 64
    assert parse_caller_id("a" * 60 + "<svg>").raw == "a" * 60 + "&lt;"
    assert parse_caller_id("a" * 61 + "<svg>").raw == "a" * 61  # "&lt;" would not fit whole
    assert parse_caller_id("a" * 61 + "\x00").raw == "a" * 61
