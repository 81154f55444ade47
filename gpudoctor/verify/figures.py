"""Figures derived from the measurements: fraction of peak, GPU/CPU speedup, ratio to ResNet-50."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.verify.model import Run, VerifyResult


@dataclass(frozen=True, kw_only=True)
class Speedup:
    """A GPU against the CPU on the same model, framework and batch."""

    model: str
    framework: str
    device: str
    batch_size: int
    gpu_images_per_second: float
    cpu_images_per_second: float

    @property
    def ratio(self) -> float:
        """GPU images/s over CPU images/s."""
        return self.gpu_images_per_second / self.cpu_images_per_second


def ok_runs(result: VerifyResult) -> list[Run]:
    """The runs that were timed to the end."""
    return [r for r in result.runs if r.status == "ok" and r.images_per_second]


def peak_for(result: VerifyResult, run: Run) -> float | None:
    """The measured matmul peak (FLOP/s) of the run's framework, device and precision."""
    for peak in result.peaks:
        if (peak.framework, peak.device, peak.precision) == (
            run.framework,
            run.device,
            run.precision,
        ):
            return peak.flops if peak.flops > 0 else None
    return None


def achieved_flops(run: Run) -> float | None:
    """Model FLOP/s the run achieved (2 × MACs per image forward, × 3 in training)."""
    if not run.images_per_second:
        return None
    return run.images_per_second * run.flops_per_image


def fraction_of_peak(result: VerifyResult, run: Run) -> float | None:
    """Achieved FLOP/s over the device's measured matmul peak in the same precision."""
    peak, achieved = peak_for(result, run), achieved_flops(run)
    if peak is None or achieved is None:
        return None
    return achieved / peak


def speedups(result: VerifyResult) -> list[Speedup]:
    """Every GPU run that has a CPU run of the same model, framework and batch to compare with."""
    runs = ok_runs(result)
    cpu = {(r.model, r.framework, r.batch_size): r for r in runs if r.device == "cpu"}
    found: dict[tuple[str, str, str], Speedup] = {}
    for r in runs:
        if r.device == "cpu":
            continue
        base = cpu.get((r.model, r.framework, r.batch_size))
        if base is None or base.images_per_second is None or r.images_per_second is None:
            continue
        key = (r.model, r.framework, r.device)
        # The common-batch run is the like-for-like one when both exist.
        if key in found and r.role != "common":
            continue
        found[key] = Speedup(
            model=r.model,
            framework=r.framework,
            device=r.device,
            batch_size=r.batch_size,
            gpu_images_per_second=r.images_per_second,
            cpu_images_per_second=base.images_per_second,
        )
    return list(found.values())


def speedup_for(result: VerifyResult, run: Run) -> Speedup | None:
    """The speedup shown on this GPU run's row (the run whose batch the CPU also ran)."""
    for s in speedups(result):
        if (s.model, s.framework, s.device, s.batch_size) == (
            run.model,
            run.framework,
            run.device,
            run.batch_size,
        ):
            return s
    return None


def ratios_to_anchor(
    result: VerifyResult, anchor: str = "resnet50"
) -> dict[tuple[str, str, str], float]:
    """(model, framework, device) -> images/s over the anchor's, for the main GPU runs."""
    main = [r for r in ok_runs(result) if r.device != "cpu" and r.role == "main"]
    base = {(r.framework, r.device): r.images_per_second for r in main if r.model == anchor}
    out: dict[tuple[str, str, str], float] = {}
    for r in main:
        b = base.get((r.framework, r.device))
        if b and r.images_per_second and r.model != anchor:
            out[(r.model, r.framework, r.device)] = r.images_per_second / b
    return out
