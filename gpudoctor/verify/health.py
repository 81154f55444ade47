"""What NVML telemetry during a run says: throttling, low clocks, a downtrained PCIe link."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from gpudoctor.model.clock_events import HW_SLOWDOWNS, SLOWDOWNS, ClockEvent
from gpudoctor.verify.model import Telemetry

SLOWDOWN_SHARE = 0.10
"""NVML may flag HW slowdown during a P-state change, so one sample is not enough (§9.4).
The same share applies to SW thermal slowdown, which only warns."""
LOW_CLOCK = 0.8
"""Median SM clock under this share of the maximum is throttling (nvbench's threshold)."""
LOADED_UTILIZATION = 50
"""Samples below this GPU utilisation are not "under load" for the PCIe link check."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One thing the telemetry shows: level ``note``, ``warn`` or ``fail``."""

    level: str
    code: str
    message: str


def judge_telemetry(t: Telemetry | None) -> list[Finding]:
    """Throttling, clocks and PCIe link state of one GPU run."""
    if t is None or not t.available:
        why = t.message if t is not None and t.message else "NVML not available"
        return [Finding(level="note", code="no_telemetry", message=f"no telemetry ({why})")]
    if not t.samples:
        return [Finding(level="note", code="no_telemetry", message="no telemetry samples taken")]
    return [*_slowdown(t), *_clock(t), *_pcie(t)]


def _slowdown(t: Telemetry) -> list[Finding]:
    """HW slowdown bits fail (benchmarks.md §9.4); SW thermal slowdown only warns."""
    read = [s.clock_event_reasons for s in t.samples if s.clock_event_reasons is not None]
    if not read:
        return []
    out: list[Finding] = []
    hw = [r for r in read if any(r & bit for bit in HW_SLOWDOWNS)]
    if len(hw) / len(read) > SLOWDOWN_SHARE:
        seen = [text for bit, text in HW_SLOWDOWNS.items() if any(r & bit for r in hw)]
        out.append(
            Finding(
                level="fail",
                code="hw_slowdown",
                message=(
                    f"the GPU slowed itself down ({', '.join(seen)}) in "
                    f"{len(hw) / len(read):.0%} of samples{_conditions(t)}: check cooling, fans "
                    "and the power cables"
                ),
            )
        )
    sw = [r for r in read if r & ClockEvent.SW_THERMAL_SLOWDOWN]
    if len(sw) / len(read) > SLOWDOWN_SHARE:
        out.append(
            Finding(
                level="warn",
                code="sw_thermal_slowdown",
                message=(
                    f"the driver lowered the clocks to keep the GPU under its target temperature "
                    f"({SLOWDOWNS[ClockEvent.SW_THERMAL_SLOWDOWN]}) in {len(sw) / len(read):.0%} "
                    f"of samples{_conditions(t)}: long runs will be slower; check the airflow"
                ),
            )
        )
    return out


def _conditions(t: Telemetry) -> str:
    temps = [s.temperature_c for s in t.samples if s.temperature_c is not None]
    power = [s.power_w for s in t.samples if s.power_w is not None]
    detail = []
    if temps:
        detail.append(f"max {max(temps)} °C")
    if power:
        limit = f"/{t.power_limit_w:.0f}" if t.power_limit_w else ""
        detail.append(f"power {max(power):.0f}{limit} W")
    return f" ({', '.join(detail)})" if detail else ""


def _clock(t: Telemetry) -> list[Finding]:
    clocks = [s.sm_clock_mhz for s in t.samples if s.sm_clock_mhz]
    if not clocks or not t.max_sm_clock_mhz:
        return []
    median = statistics.median(clocks)
    if median >= LOW_CLOCK * t.max_sm_clock_mhz:
        return []
    return [
        Finding(
            level="warn",
            code="low_clock",
            message=(
                f"median SM clock {median:.0f} MHz is {median / t.max_sm_clock_mhz:.0%} of the "
                f"{t.max_sm_clock_mhz} MHz maximum under load (power cap, heat or locked clocks)"
            ),
        )
    ]


def _pcie(t: Telemetry) -> list[Finding]:
    loaded = [
        s for s in t.samples if s.utilization_pct is None or s.utilization_pct >= LOADED_UTILIZATION
    ]
    gens = [s.pcie_gen for s in loaded if s.pcie_gen]
    widths = [s.pcie_width for s in loaded if s.pcie_width]
    out: list[Finding] = []
    if not loaded or not (gens or widths):
        return [
            Finding(level="note", code="pcie_unchecked", message="PCIe link not read under load")
        ]
    gen, width = (max(gens) if gens else None), (max(widths) if widths else None)
    low_gen = gen is not None and t.max_pcie_gen is not None and gen < t.max_pcie_gen
    low_width = width is not None and t.max_pcie_width is not None and width < t.max_pcie_width
    if low_gen or low_width:
        out.append(
            Finding(
                level="fail",
                code="pcie_downtrained",
                message=(
                    f"PCIe link ran at Gen{gen} x{width} under load, below the "
                    f"Gen{t.max_pcie_gen} x{t.max_pcie_width} this GPU and slot support: "
                    "reseat the card, check the riser and the slot's BIOS link settings"
                ),
            )
        )
    slot_gen = (t.gpu_max_pcie_gen or 0) > (t.max_pcie_gen or t.gpu_max_pcie_gen or 0)
    slot_width = (t.gpu_max_pcie_width or 0) > (t.max_pcie_width or t.gpu_max_pcie_width or 0)
    if slot_gen or slot_width:
        out.append(
            Finding(
                level="warn",
                code="pcie_slot_limited",
                message=(
                    f"the slot limits the link to Gen{t.max_pcie_gen} x{t.max_pcie_width}; the "
                    f"GPU supports Gen{t.gpu_max_pcie_gen} "
                    f"x{t.gpu_max_pcie_width or t.max_pcie_width}"
                ),
            )
        )
    return out
