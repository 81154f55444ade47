"""The clock-event bits: which mean a slowdown, and which mean idle."""

from __future__ import annotations

from gpudoctor.model.clock_events import ClockEvent, describe, is_idle, slowdowns


def test_power_cap_and_idle_are_not_slowdowns():
    assert slowdowns(ClockEvent.SW_POWER_CAP | ClockEvent.GPU_IDLE) == []


def test_each_slowdown_bit_is_named_in_bit_order():
    found = slowdowns(ClockEvent.HW_POWER_BRAKE_SLOWDOWN | ClockEvent.HW_SLOWDOWN | 0x4)
    assert len(found) == 2
    assert found[0].startswith("HW slowdown")
    assert found[1].startswith("HW power brake")


def test_idle_is_the_lowest_bit():
    assert is_idle(0x1)
    assert not is_idle(0x4 | 0x40)


def test_the_mask_is_shown_with_the_name_of_each_bit():
    assert describe(0x0) == "0x0 (none)"
    assert describe(0x1) == "0x1 (idle)"
    assert describe(0x44) == "0x44 (SW power cap, HW thermal slowdown)"
    # a bit newer drivers may add is shown, not dropped
    assert describe(0x1001) == "0x1001 (idle, bits 0x1000)"
