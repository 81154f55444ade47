"""``--hardware`` and ``--burn`` as table rows and lines, for verify's text and Markdown."""

from __future__ import annotations

import statistics

from gpudoctor.model.clock_events import slowdowns
from gpudoctor.verify.model import GPU_ONLY, BurnDevice, HardwareResult

HEADERS = ("measurement", "device", "size", "GB/s", "bus GB/s", "floor", "check")
"""GB/s: 10^9 bytes per second; memory counts bytes read + written, all-reduce gives nccl-tests'
algorithm bandwidth (S / t) and bus bandwidth (x 2(n-1)/n)."""


def size_text(nbytes: int) -> str:
    """4 KiB, 16 MiB, 1 GiB: binary units, as buffer sizes are chosen."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def _gbps(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def rows(hw: HardwareResult) -> list[tuple[str, ...]]:
    """One row per bandwidth and per all-reduce size."""
    out: list[tuple[str, ...]] = []
    for b in hw.bandwidths:
        device = b.device if b.device == "cpu" else f"{b.device} {b.device_name}".strip()
        if b.kind == "p2p":
            device = f"{b.device} -> {b.peer}" + (f" ({b.link})" if b.link else "")
        floor = hw.floor(b.device_name, b.kind) if b.device != "cpu" else None
        shown = "–" if floor is None else f"{floor.gbps:g}" + ("" if floor.verified else "?")
        check = "ok" if b.status == "ok" else "error"
        if floor is not None and b.gbps is not None and b.gbps < floor.gbps:
            check = "below floor"
        out.append((b.kind, device, size_text(b.bytes), _gbps(b.gbps), "–", shown, check))
    ar = hw.allreduce
    if ar is not None:
        name = f"allreduce {ar.backend} x{ar.world_size}"
        gpu = next((b.device_name for b in hw.bandwidths if b.device != "cpu"), "")
        for p in ar.points:
            check = "sum ok" if p.correct else f"WRONG (off {p.max_error:g})"
            floor = hw.floor(gpu, "allreduce", ar.world_size) if p is ar.largest else None
            out.append(
                (
                    name,
                    ar.device,
                    size_text(p.bytes),
                    _gbps(p.algbw_gbps),
                    _gbps(p.busbw_gbps),
                    "–" if floor is None else f"{floor.gbps:g}" + ("" if floor.verified else "?"),
                    check,
                )
            )
    return out


def burn_line(b: BurnDevice) -> str:
    """One line per device burnt: rounds, rate, mismatches and what NVML saw."""
    name = f"burn {b.device}" + (f" {b.device_name}" if b.device_name else "")
    if b.status != "ok":
        return f"{name}: {b.status}: {b.message}"
    rate = ""
    if b.flops:
        med = statistics.median(b.flops)
        unit = (1e12, "TFLOP/s") if med >= 1e12 else (1e9, "GFLOP/s")
        rate = (
            f", {med / unit[0]:.1f} {unit[1]} median (first round {b.flops[0] / unit[0]:.1f}, "
            f"last {b.flops[-1] / unit[0]:.1f})"
        )
    bad = f"{b.mismatched_rounds} mismatched" + ("" if b.finite else ", non-finite values")
    line = f"{name}: {b.rounds:,} rounds in {b.seconds:,.0f} s{rate}; {bad}"
    t = b.telemetry
    if t is not None and t.available and t.samples:
        temps = [s.temperature_c for s in t.samples if s.temperature_c is not None]
        power = [s.power_w for s in t.samples if s.power_w is not None]
        clocks = [s.sm_clock_mhz for s in t.samples if s.sm_clock_mhz is not None]
        reasons = 0
        for s in t.samples:
            reasons |= s.clock_event_reasons or 0
        said = [
            f"max {max(temps)} °C" if temps else "",
            f"max {max(power):.0f} W" if power else "",
            f"SM clock {min(clocks)}-{max(clocks)} MHz" if clocks else "",
            "throttled: " + "; ".join(slowdowns(reasons)) if slowdowns(reasons) else "",
        ]
        line += "; " + ", ".join(s for s in said if s)
    return line


def measured_on(hw: HardwareResult) -> set[str]:
    """Where the measurements ran: ``cpu``, ``cuda:N``s (empty when none ran)."""
    where = {b.device for b in hw.bandwidths} | {b.device for b in hw.burn}
    if hw.allreduce is not None and hw.allreduce.device:
        where.add(hw.allreduce.device)
    return where


def summary(hw: HardwareResult) -> str:
    """What was measured, where, and how long it took, for the settings line."""
    # --device all on a machine without a GPU measures the host: the line read "memory, h2d on
    # all" beside a note that h2d was left out
    on_cpu = hw.settings.device == "cpu" or measured_on(hw) == {"cpu"}
    left = [i for i in hw.settings.items if on_cpu and i in GPU_ONLY]
    asked = [i for i in hw.settings.items if i not in left]
    if hw.settings.burn_s:
        asked.append(f"burn {hw.settings.burn_s:,g} s")
    # --burn alone read "hardware: none, burn 5 s": no measurement is named "none"
    took = f"took {hw.duration_s:,.0f} s"
    if hw.errors and not measured_on(hw):
        # no GPU for --device cuda: "hardware: burn 5 s on cuda" read as a burn that ran
        burn = [f"burn {hw.settings.burn_s:,g} s"] if hw.settings.burn_s else []
        said = ", ".join([*hw.settings.items, *burn]) or "nothing"
        return f"hardware: nothing measured ({said} asked on {hw.settings.device}); {took}"
    line = f"hardware: {', '.join(asked) or 'nothing'} on {'cpu' if on_cpu else hw.settings.device}"
    if left:
        line += f" ({', '.join(left)} {'needs' if len(left) == 1 else 'need'} a GPU)"
    return f"{line}; {took}"
