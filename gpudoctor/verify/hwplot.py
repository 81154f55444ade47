"""The ``--plot`` chart of ``--hardware`` and ``--burn``: bandwidths, the all-reduce sweep, burn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpudoctor.verify.hwrender import size_text
from gpudoctor.verify.model import HardwareResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_VERDICT_COLORS = {"pass": "#1a7f37", "warn": "#b35900", "fail": "#c62828"}


def draw_hardware(hw: HardwareResult, verdict: str | None = None) -> Figure:
    """One panel per kind of figure measured; the caller closes the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        p
        for p, wanted in (
            ("bandwidth", bool(hw.bandwidths)),
            ("allreduce", hw.allreduce is not None and bool(hw.allreduce.points)),
            ("burn", any(b.flops for b in hw.burn)),
        )
        if wanted
    ] or ["empty"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.8), dpi=100)
    axes = [axes] if len(panels) == 1 else list(axes)
    try:
        for ax, panel in zip(axes, panels, strict=True):
            if panel == "bandwidth":
                _bandwidths(ax, hw)
            elif panel == "allreduce":
                _allreduce(ax, hw)
            elif panel == "burn":
                _burn(ax, hw)
            else:
                ax.text(0.5, 0.5, "nothing measured", ha="center", va="center")
                ax.set_axis_off()
        head = "gpudoctor verify --hardware" + (f": {verdict.upper()}" if verdict else "")
        fig.suptitle(head, color=_VERDICT_COLORS.get(verdict or "", "black"), fontsize=11)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _bandwidths(ax: Axes, hw: HardwareResult) -> None:
    labels, values, floors = [], [], []
    for b in hw.bandwidths:
        where = f"{b.device}->{b.peer}" if b.kind == "p2p" else b.device
        labels.append(f"{b.kind}\n{where}" + (f"\n{b.link}" if b.link else ""))
        values.append(b.gbps or 0.0)
        floor = hw.floor(b.device_name, b.kind) if b.device != "cpu" else None
        floors.append(floor.gbps if floor is not None else None)
    xs = list(range(len(values)))
    bars = ax.bar(xs, values, 0.7, color="#2b7bb9", edgecolor="black", linewidth=0.4)
    ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=7, padding=2)
    for x, line in zip(xs, floors, strict=True):
        if line is not None:
            ax.hlines(line, x - 0.4, x + 0.4, colors="#c62828", linestyles="dashed")
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylabel("GB/s (dashed: floor)")
    ax.set_title("bandwidth", fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def _allreduce(ax: Axes, hw: HardwareResult) -> None:
    ar = hw.allreduce
    if ar is None:
        return
    sizes = [p.bytes for p in ar.points]
    ax.plot(sizes, [p.busbw_gbps for p in ar.points], "o-", label="bus bandwidth")
    ax.plot(sizes, [p.algbw_gbps for p in ar.points], "s--", label="algorithm bandwidth")
    for p in ar.points:
        if not p.correct:
            ax.annotate("wrong sum", (p.bytes, p.busbw_gbps), color="#c62828", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [size_text(s) for s in sizes], fontsize=7, rotation=30)
    ax.set_ylabel("GB/s")
    ax.set_title(f"all-reduce, {ar.backend}, {ar.world_size} ranks", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _burn(ax: Axes, hw: HardwareResult) -> None:
    from matplotlib.ticker import MaxNLocator

    burnt = [b for b in hw.burn if b.flops]
    # One scale for every line: each line chose its own, so a GPU throttled below 1 TFLOP/s
    # was drawn in GFLOP/s on a TFLOP/s axis, hundreds of times above the healthy ones.
    tera = any(max(b.flops) >= 1e12 for b in burnt)
    scale, unit = (1e12, "TFLOP/s") if tera else (1e9, "GFLOP/s")
    for b in burnt:
        mark = " (MISMATCH)" if b.mismatched_rounds else ""
        ax.plot(range(1, len(b.flops) + 1), [f / scale for f in b.flops], label=f"{b.device}{mark}")
    # from zero: an axis fitted to the lines drew 240 to 247 GFLOP/s, a steady CPU, as a peak
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole: no round 1.25
    ax.set_xlabel("round")
    ax.set_ylabel(unit)
    ax.set_title("burn: matrix-product rate per round", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
