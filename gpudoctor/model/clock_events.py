"""NVML's clock-event (throttle) reason bits, shared by check's rules and verify's verdict."""

from __future__ import annotations

import enum


class ClockEvent(enum.IntFlag):
    """``nvmlClocksEventReasons``: why the SM clock is below its maximum right now."""

    GPU_IDLE = 0x1
    APPLICATIONS_CLOCKS_SETTING = 0x2
    SW_POWER_CAP = 0x4
    HW_SLOWDOWN = 0x8
    SYNC_BOOST = 0x10
    SW_THERMAL_SLOWDOWN = 0x20
    HW_THERMAL_SLOWDOWN = 0x40
    HW_POWER_BRAKE_SLOWDOWN = 0x80
    DISPLAY_CLOCK_SETTING = 0x100


SLOWDOWNS: dict[ClockEvent, str] = {
    ClockEvent.HW_SLOWDOWN: "HW slowdown (power brake, overheating or a power-supply fault)",
    ClockEvent.SW_THERMAL_SLOWDOWN: "SW thermal slowdown (above the target temperature)",
    ClockEvent.HW_THERMAL_SLOWDOWN: "HW thermal slowdown (too hot)",
    ClockEvent.HW_POWER_BRAKE_SLOWDOWN: "HW power brake (asserted by the system's power supply)",
}
"""The bits that mean the GPU is being held back by heat or power, with what each means."""

HW_SLOWDOWNS: dict[ClockEvent, str] = {
    bit: text for bit, text in SLOWDOWNS.items() if bit is not ClockEvent.SW_THERMAL_SLOWDOWN
}
"""The hardware ones (HW slowdown, HW thermal, HW power brake): a fault, where SW thermal
slowdown is the driver keeping the GPU under its target temperature."""


_SLOWDOWN_BITS = [(int(bit), text) for bit, text in SLOWDOWNS.items()]
"""As plain integers: ``int & IntFlag`` builds a flag through the enum machinery each time."""


_NAMES: dict[ClockEvent, str] = {
    ClockEvent.GPU_IDLE: "idle",
    ClockEvent.APPLICATIONS_CLOCKS_SETTING: "applications clocks",
    ClockEvent.SW_POWER_CAP: "SW power cap",
    ClockEvent.HW_SLOWDOWN: "HW slowdown",
    ClockEvent.SYNC_BOOST: "sync boost",
    ClockEvent.SW_THERMAL_SLOWDOWN: "SW thermal slowdown",
    ClockEvent.HW_THERMAL_SLOWDOWN: "HW thermal slowdown",
    ClockEvent.HW_POWER_BRAKE_SLOWDOWN: "HW power brake",
    ClockEvent.DISPLAY_CLOCK_SETTING: "display clock",
}


def describe(reasons: int) -> str:
    """``0x5 (idle, SW power cap)``: the mask with the name of each bit set, for people."""
    names = [text for bit, text in _NAMES.items() if reasons & int(bit)]
    unknown = reasons & ~sum(int(bit) for bit in _NAMES)
    if unknown:
        names.append(f"bits 0x{unknown:x}")
    return f"0x{reasons:x} ({', '.join(names) or 'none'})"


def slowdowns(reasons: int) -> list[str]:
    """What each slowdown bit set in ``reasons`` means, in bit order."""
    return [text for bit, text in _SLOWDOWN_BITS if reasons & bit]


def is_idle(reasons: int) -> bool:
    """True when the GpuIdle bit is set (clocks and PCIe link drop at idle by design)."""
    return bool(reasons & ClockEvent.GPU_IDLE)


BUSY_UTILIZATION_PCT = 5
"""Below this utilisation a GPU counts as idle, where link speed drops by design."""


def load_of(reasons: int | None, utilization_pct: int | None) -> str:
    """``busy``, ``idle`` or ``unknown``, from the GpuIdle clock-event bit and utilisation."""
    if reasons is not None and is_idle(reasons):
        return "idle"
    if utilization_pct is not None:
        return "busy" if utilization_pct >= BUSY_UTILIZATION_PCT else "idle"
    return "busy" if reasons is not None else "unknown"
