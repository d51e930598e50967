from __future__ import annotations

import pytest

from voice_gateway.rtp.ports import PortAllocator, RtpPortsExhausted


def test_even_ports_only_and_fifo_reuse() -> None:
    allocator = PortAllocator(10001, 10008)
    assert allocator.free == 4
    ports = [allocator.acquire() for _ in range(3)]
    assert ports == [10002, 10004, 10006]
    allocator.release(10002)
    assert allocator.acquire() == 10008  # the just-freed port waits its turn
    assert allocator.acquire() == 10002
    with pytest.raises(RtpPortsExhausted):
        allocator.acquire()


def test_release_is_idempotent() -> None:
    allocator = PortAllocator(20000, 20003)
    port = allocator.acquire()
    allocator.release(port)
    allocator.release(port)
    allocator.release(12345)
    assert allocator.free == 2


@pytest.mark.parametrize(("low", "high"), [(0, 10), (20, 10), (70000, 70010), (5, 5)])
def test_bad_ranges(low: int, high: int) -> None:
    with pytest.raises(ValueError):
        PortAllocator(low, high)
