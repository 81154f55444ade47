"""Figures derived from the measurements: fraction of peak, GPU/CPU speedup, ratio to ResNet-50."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpudoctor.verify.model import DatasheetPeak, PublishedFigure, Run, VerifyResult
from gpudoctor.verify.references import AMP, References


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
    """The device's peak in the run's precision: the best rate any probe reached on it.

    Across frameworks (on the 2-core build VM torch's matmul reached 210 GFLOP/s where
    TensorFlow's reached 377 on the same cores), matrix sizes and repeats, so that no model
    beats it but by noise or by doing fewer operations than counted (Winograd convolutions).
    """
    rates = [
        p.flops
        for p in result.peaks
        if (p.device, p.precision) == (run.device, run.precision) and p.flops > 0
    ]
    return max(rates) if rates else None


def datasheet_for(result: VerifyResult, run: Run) -> DatasheetPeak | None:
    """The datasheet peak of the run's GPU model in its precision, when the data has it."""
    for d in result.datasheet_peaks:
        if (d.device, d.precision) == (run.device, run.precision):
            return d
    return None


def fraction_of_datasheet(result: VerifyResult, run: Run) -> float | None:
    """Achieved FLOP/s over the GPU model's datasheet peak (the figure MFU reports quote)."""
    sheet, achieved = datasheet_for(result, run), achieved_flops(run)
    if sheet is None or achieved is None:
        return None
    return achieved / sheet.flops


def with_datasheet_peaks(result: VerifyResult, refs: References) -> VerifyResult:
    """The result with the datasheet peak of every GPU it ran, in the run's precision."""
    found: dict[tuple[str, str], DatasheetPeak] = {}
    for run in result.runs:
        if run.device == "cpu" or not run.device_name:
            continue
        sheet = refs.datasheet(run.device_name, run.precision)
        if sheet is not None and (run.device, run.precision) not in found:
            found[(run.device, run.precision)] = DatasheetPeak(
                device=run.device,
                gpu=run.device_name,
                precision=run.precision,
                flops=sheet.tflops * 1e12,
                verified=sheet.verified,
                source=sheet.source,
            )
    return replace(result, datasheet_peaks=tuple(found.values()))


def with_published_figures(result: VerifyResult, refs: References) -> VerifyResult:
    """The result with NVIDIA's published figure beside every main GPU run that has one."""
    found: dict[tuple[str, str, str, str, str], PublishedFigure] = {}
    for run in result.runs:
        if run.device == "cpu" or run.role != "main" or not run.device_name:
            continue
        row = refs.published_for(run.device_name, run.framework, run.model, run.mode, run.precision)
        key = (run.device, run.framework, run.model, run.mode, run.precision)
        if row is not None and key not in found:
            found[key] = PublishedFigure(
                device=run.device,
                gpu=run.device_name,
                framework=row.framework,
                model=row.model,
                mode=row.mode,
                precision=row.precision,
                gpus=row.gpus,
                batch_size=row.batch_size,
                images_per_second=row.images_per_second,
                conditions=row.conditions,
                verified=row.verified,
                source=row.source,
            )
    return replace(result, published_figures=tuple(found.values()))


def published_for(result: VerifyResult, run: Run) -> PublishedFigure | None:
    """The published figure shown beside this run (main GPU runs only)."""
    if run.role != "main" or run.status != "ok":
        return None
    for p in result.published_figures:
        if (p.device, p.framework, p.model, p.mode) == (
            run.device,
            run.framework,
            run.model,
            run.mode,
        ) and (p.precision == run.precision or {p.precision, run.precision} <= set(AMP)):
            return p
    return None


def fraction_of_published(result: VerifyResult, run: Run) -> float | None:
    """The run's images/s over NVIDIA's published per-GPU figure for it."""
    figure = published_for(result, run)
    if figure is None or not run.images_per_second:
        return None
    return run.images_per_second / figure.images_per_second


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
