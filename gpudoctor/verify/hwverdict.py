"""The verdict on ``--hardware`` and ``--burn``: floors, correctness, throttling and drift."""

from __future__ import annotations

import statistics

from gpudoctor.model.hardware import AllReduce
from gpudoctor.verify.health import judge_telemetry
from gpudoctor.verify.model import Bandwidth, BurnDevice, HardwareResult
from gpudoctor.verify.references import Floor, References
from gpudoctor.verify.verdict import Level, Reason

DRIFT = 0.85
"""A burn whose last third of rounds runs below this share of its first third has drifted: the
GPU slowed under sustained load (heat, power) even where NVML flagged no throttle reason."""
CPU_REPRO_TOL = 1e-5
"""On the CPU a round may differ from the first by rounding alone: BLAS libraries do not promise
bit-wise equal results from run to run (oneMKL only in its CNR mode, "Numerical
Reproducibility" in Intel's oneMKL reference). Up to this relative difference it is a note."""
_KIND_WORDS = {
    "memory": "memory bandwidth",
    "h2d": "host-to-device bandwidth",
    "d2h": "device-to-host bandwidth",
    "p2p": "peer bandwidth",
    "allreduce": "all-reduce bus bandwidth",
}


def _below(what: str, gbps: float, floor: Floor, device: str | None) -> Reason:
    unverified = "" if floor.verified else ", an unverified floor"
    return Reason(
        level=Level.FAIL if floor.verified else Level.WARN,
        code="below_floor",
        message=(
            f"{what}: {gbps:.1f} GB/s, below the {floor.gbps:g} GB/s a healthy {floor.gpu} "
            f"measures ({floor.source}{unverified})"
        ),
        device=device,
    )


def _bandwidth(b: Bandwidth, refs: References) -> list[Reason]:
    where = f"{b.device} -> {b.peer}" if b.kind == "p2p" else b.device
    what = f"{_KIND_WORDS[b.kind]} {where}" + (f" over {b.link.upper()}" if b.link else "")
    if b.status != "ok" or b.gbps is None:
        return [Reason(level=Level.FAIL, code="hardware_error", message=f"{what}: {b.message}")]
    floor = refs.floor(b.device_name, b.kind) if b.device != "cpu" else None
    if floor is not None and b.gbps < floor.gbps:
        return [_below(what, b.gbps, floor, b.device)]
    return []


def _allreduce(ar: AllReduce, gpu_name: str, refs: References) -> list[Reason]:
    out: list[Reason] = []
    wrong = [p for p in ar.points if not p.correct]
    if wrong:
        sizes = ", ".join(f"{p.bytes} B" for p in wrong[:4])
        out.append(
            Reason(
                level=Level.FAIL,
                code="allreduce_wrong",
                message=(
                    f"all-reduce over {ar.world_size} ranks ({ar.backend}) gave a wrong sum at "
                    f"{sizes} (off by up to {max(p.max_error for p in wrong):g}): data corrupted "
                    "in a GPU, a link or the library"
                ),
            )
        )
    top = ar.largest
    floor = refs.floor(gpu_name, "allreduce", ar.world_size) if ar.device == "cuda" else None
    if top is not None and floor is not None and top.busbw_gbps < floor.gbps:
        what = f"all-reduce bus bandwidth over {ar.world_size} GPUs at {top.bytes >> 20} MiB"
        out.append(_below(what, top.busbw_gbps, floor, None))
    return out


def drifted(rates: tuple[float, ...]) -> float | None:
    """The last third's median rate over the first third's, when it fell below DRIFT."""
    if len(rates) < 6:
        return None
    third = len(rates) // 3
    first, last = statistics.median(rates[:third]), statistics.median(rates[-third:])
    ratio = last / first if first > 0 else 1.0
    return ratio if ratio < DRIFT else None


def _burn(b: BurnDevice) -> list[Reason]:
    name = f"burn {b.device}" + (f" ({b.device_name})" if b.device_name else "")
    if b.status != "ok":
        return [Reason(level=Level.FAIL, code="burn_error", message=f"{name}: {b.message}")]
    out: list[Reason] = []
    rounding = b.device == "cpu" and b.finite and b.max_rel_diff <= CPU_REPRO_TOL
    if b.mismatched_rounds and rounding:
        out.append(
            Reason(
                level=Level.NOTE,
                code="burn_cpu_rounding",
                message=(
                    f"{name}: {b.mismatched_rounds} of {b.rounds} rounds differed from the "
                    f"first by at most {b.max_rel_diff:.1g} (the CPU's BLAS need not repeat "
                    "its rounding bit for bit)"
                ),
                device=b.device,
            )
        )
    elif b.mismatched_rounds or not b.finite:
        what = "non-finite values" if not b.finite else f"differences up to {b.max_rel_diff:.2g}"
        out.append(
            Reason(
                level=Level.FAIL,
                code="silent_data_corruption",
                message=(
                    f"{name}: {b.mismatched_rounds} of {b.rounds} rounds of the same matrix "
                    f"product gave other results than the first ({what}): silent data "
                    "corruption; take this GPU out of service and run the vendor's diagnostics"
                ),
                device=b.device,
            )
        )
    # A shared CPU's rate swings with its other jobs: drift is judged on GPUs only.
    ratio = drifted(b.flops) if b.device != "cpu" else None
    if ratio is not None:
        out.append(
            Reason(
                level=Level.WARN,
                code="burn_drift",
                message=(
                    f"{name}: the matrix-product rate fell to {ratio:.0%} of its start over "
                    f"{b.seconds:,.0f} s of sustained load: check cooling and power"
                ),
                device=b.device,
            )
        )
    if b.device != "cpu":
        for f in judge_telemetry(b.telemetry):
            if f.code != "no_telemetry":
                out.append(
                    Reason(
                        level=Level(f.level),
                        code=f.code,
                        message=f"{name}: {f.message}",
                        device=b.device,
                    )
                )
    return out


def judge_hardware(hw: HardwareResult, refs: References) -> list[Reason]:
    """Every reason ``--hardware`` and ``--burn`` give; figures without a floor only inform."""
    out = [Reason(level=Level.FAIL, code="hardware_error", message=e) for e in hw.errors]
    for b in hw.bandwidths:
        out += _bandwidth(b, refs)
    gpu_names = {b.device_name for b in hw.bandwidths if b.device != "cpu"}
    if hw.allreduce is not None:
        name = next(iter(sorted(gpu_names)), "")
        out += _allreduce(hw.allreduce, name, refs)
    for burnt in hw.burn:
        out += _burn(burnt)
    unjudged = sorted(
        {
            b.device_name or b.device
            for b in hw.bandwidths
            if b.status == "ok" and (b.device == "cpu" or refs.floor(b.device_name, b.kind) is None)
        }
    )
    if unjudged:
        out.append(
            Reason(
                level=Level.NOTE,
                code="no_floor",
                message=(
                    f"no floor in the knowledge base for {', '.join(unjudged)}: "
                    "its figures are information, not judged"
                ),
            )
        )
    return out
