"""The bench's paired bootstrap interval of the pipeline − bare CER difference."""

from __future__ import annotations

import pytest

from bench.asr.common import cer, cer_difference_interval


def test_the_interval_holds_the_difference_and_is_zero_wide_when_the_texts_agree() -> None:
    refs = ["朝阳区双井街道", "我姓黄", "电话一三八"]
    assert cer_difference_interval(refs, refs, refs) == (0.0, 0.0)
    pipe = ["朝阳七双井街道", "我信黄", "电话一三八"]
    bare = ["朝阳区双井街道", "我姓黄", "电话一三八"]
    low, high = cer_difference_interval(refs, pipe, bare)
    diff = cer(list(zip(refs, pipe, strict=True))) - cer(list(zip(refs, bare, strict=True)))
    assert low <= diff <= high
    assert low >= 0.0  # the pipeline is never better on any file, so no draw favours it


def test_a_small_subset_with_errors_on_both_sides_straddles_zero() -> None:
    refs = ["一二三四五六七八", "九十百千万亿元角"] * 4
    pipe = ["一二三四五六七九", "九十百千万亿元角"] * 4
    bare = ["一二三四五六七八", "九十百千万亿元脚"] * 4
    low, high = cer_difference_interval(refs, pipe, bare)
    assert low < 0.0 < high
    assert cer_difference_interval(refs, pipe, bare) == (low, high)  # seeded


def test_the_texts_must_pair_up() -> None:
    with pytest.raises(ValueError):
        cer_difference_interval(["一"], ["一", "二"], ["一"])
