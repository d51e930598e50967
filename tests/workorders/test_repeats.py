"""Repeat callers: same phone, or same address and category, within the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from config.settings import DraftingSettings
from workorders import draft
from workorders.repeats import PriorOrder, link_repeats

NOW = datetime(2024, 5, 1, 9, 0)
TEXT = "朝阳区 双井街道 九龙 花园 三 号楼 的 电梯 又 坏 了 我 姓 黄"
CALLER = "13811223344"


def prior(
    order_id: str,
    days_ago: float,
    *,
    phone: str | None = None,
    address: str | None = None,
    category: str | None = "住房管理",
    street: str | None = "双井街道",
) -> PriorOrder:
    return PriorOrder(
        order_id, phone, "朝阳区", street, address, category, NOW - timedelta(days=days_ago)
    )


def linked(*orders: PriorOrder, settings: DraftingSettings | None = None) -> tuple[str, ...]:
    d = link_repeats(draft(TEXT, CALLER, NOW), CALLER, orders, NOW, settings)
    return d.related


@pytest.mark.parametrize(
    ("order", "related"),
    [
        (prior("A", 3, phone=CALLER), True),
        (prior("A", 3, phone="+86 138 1122 3344"), True),
        (prior("A", 3, phone="13999999999"), False),
        (prior("A", 3, address="九龙花园三号楼"), True),
        (prior("A", 3, address="九龙 花园 三 号楼"), True),
        (prior("A", 3, address="九龙花园三号楼", category="环境保护"), False),
        (prior("A", 3, address="九龙花园五号楼"), False),
        (prior("A", 3, address="九龙花园三号楼", street="劲松街道"), False),
        (prior("A", 31, phone=CALLER), False),
        (prior("A", 29.9, phone=CALLER), True),
        (prior("A", -1, phone=CALLER), False),  # not earlier than this call
    ],
)
def test_what_counts_as_a_repeat(order: PriorOrder, related: bool) -> None:
    assert linked(order) == (("A",) if related else ())


def test_related_are_oldest_first_and_the_third_appeal_escalates() -> None:
    d = draft(TEXT, CALLER, NOW)
    one = link_repeats(d, CALLER, [prior("B", 2, phone=CALLER)], NOW)
    assert one.related == ("B",)
    assert one.escalate is False
    two = link_repeats(
        d, CALLER, [prior("B", 2, phone=CALLER), prior("A", 20, address="九龙花园三号楼")], NOW
    )
    assert two.related == ("A", "B")
    assert two.escalate is True


def test_window_and_threshold_come_from_settings() -> None:
    settings = DraftingSettings(repeat_window_days=7, escalate_at=2)
    orders = [prior("A", 10, phone=CALLER), prior("B", 3, phone=CALLER)]
    d = link_repeats(draft(TEXT, CALLER, NOW), CALLER, orders, NOW, settings)
    assert d.related == ("B",)
    assert d.escalate is True


def test_caller_id_is_used_when_the_draft_has_no_phone() -> None:
    d = draft("楼下太吵了", None, NOW)
    assert d.phone.value is None
    linked_draft = link_repeats(d, CALLER, [prior("A", 1, phone=CALLER)], NOW)
    assert linked_draft.related == ("A",)


def test_no_prior_orders() -> None:
    d = link_repeats(draft(TEXT, CALLER, NOW), CALLER, [], NOW)
    assert (d.related, d.escalate) == ((), False)
