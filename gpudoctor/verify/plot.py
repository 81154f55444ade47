"""The ``--plot`` chart: images/s per model, GPU beside CPU, log scale, the speedup marked."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from gpudoctor.errors import BadInputError
from gpudoctor.verify import figures
from gpudoctor.verify.model import Run, VerifyResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gpudoctor.verify.verdict import Verdict

_COLORS = {"cpu": "#8c8c8c", "gpu": "#2b7bb9"}


def require_matplotlib() -> None:
    """Fail early, before minutes of timing, when matplotlib is missing or cannot be imported.

    Finding the package is not enough: an installed but broken matplotlib (typically built
    against another numpy ABI) only fails on import, so import what render_png imports.
    """
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise BadInputError("--plot needs matplotlib: pip install 'gpudoctor[plot]'")
    try:
        import matplotlib

        matplotlib.use("Agg")
        # pyplot loads the compiled parts (ft2font, the Agg backend) that usually break
        import matplotlib.pyplot
    except Exception as exc:
        text = str(exc).strip()
        why = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
        raise BadInputError(
            f"--plot needs a working matplotlib, but importing it failed ({why}); "
            "reinstall it: pip install --force-reinstall 'gpudoctor[plot]'"
        ) from None


def _fit_title(fig: Figure, text: str, *, color: str | None = None) -> None:
    """Title the figure so that no line runs past its edges.

    An axes title is centred over the axes, which the y label pushes right, so a long one was
    clipped at the right edge: use a figure title, wrap it, and shrink it while it overflows.
    """
    import textwrap

    width_px = fig.get_figwidth() * fig.dpi
    size = 12.0
    while True:
        # an average glyph is about 0.6 em wide; wrap a little short of the full width
        chars = max(20, int(0.9 * width_px / (0.6 * size * fig.dpi / 72)))
        lines = [textwrap.fill(line, chars) for line in text.splitlines()]
        artist = fig.suptitle("\n".join(lines), fontsize=size, color=color or "black")
        fig.tight_layout()
        box = artist.get_window_extent()  # with the renderer tight_layout used
        if (box.x0 >= 0 and box.x1 <= width_px) or size <= 6:
            return
        size -= 1


def log_limits(values: list[float]) -> tuple[float, float]:
    """The y range of the log axis: from a power of ten a decade below the slowest run.

    Bars on a log axis grow from its bottom; started just below the slowest run, that bar
    (often the CPU's) is a sliver and the comparison is lost.
    """
    low = 10.0 ** (math.floor(math.log10(min(values))) - 1)
    return low, max(values) * 3


def value_text(images_per_second: float) -> str:
    """The figure printed on a bar: ``1,322`` or ``14.7`` images/s."""
    if images_per_second >= 100:
        return f"{images_per_second:,.0f}"
    return f"{images_per_second:.3g}" if images_per_second < 1 else f"{images_per_second:.1f}"


def slot_status(result: VerifyResult, model: str, framework: str, device: str) -> str:
    """What happened to one bar of the chart: ``ok``, ``skipped``, ``failed`` or ``not run``."""
    runs = [
        r
        for r in result.runs
        if (r.model, r.framework, r.device, r.role) == (model, framework, device, "main")
    ]
    if any(r.status == "ok" and r.images_per_second for r in runs):
        return "ok"
    if any(r.status == "error" for r in runs) or any(
        e.framework == framework and e.model == model and e.device in (None, device)
        for e in result.errors
    ):
        return "failed"
    if any(r.status == "skipped" for r in runs):
        return "skipped"
    return "not run"


def chart_series(result: VerifyResult) -> list[tuple[str, str]]:
    """The (framework, device) pairs that ran or failed, GPUs first: one bar each per model."""
    keys = {(r.framework, r.device) for r in result.runs if r.role == "main"}
    keys |= {(e.framework, e.device) for e in result.errors if e.device}
    return sorted(keys, key=lambda s: (s[1] == "cpu", s))


def coverage_line(result: VerifyResult, verdict: Verdict | None = None) -> str:
    """What was and was not run, in one line: under the chart and above the text's verdict."""
    line = summary_line(result, chart_series(result))
    if verdict is not None and any(r.code == "no_gpu_found" for r in verdict.reasons):
        line += "; no GPU found: the CPU only"
    return line


def summary_line(result: VerifyResult, series: list[tuple[str, str]]) -> str:
    """What was and was not run, in one line under the chart."""
    counts: dict[str, int] = {}
    for model in result.settings.models:
        for fw, device in series:
            status = slot_status(result, model, fw, device)
            counts[status] = counts.get(status, 0) + 1
    total = sum(counts.values())
    if not total:
        return "no model was run"
    parts = [f"timed {counts.get('ok', 0)} of {total} model run{'' if total == 1 else 's'}"]
    if counts.get("skipped"):
        parts.append(f"{counts['skipped']} skipped (over the time budget)")
    if counts.get("failed"):
        parts.append(f"{counts['failed']} failed")
    if counts.get("not run"):
        parts.append(f"{counts['not run']} not run")
    return "; ".join(parts)


_VERDICT_COLORS = {"pass": "#1a7f37", "warn": "#b35900", "fail": "#c62828"}


def render_png(result: VerifyResult, verdict: Verdict | None = None, *, title: str = "") -> bytes:
    """A PNG of the main runs: one group per model, a bar per framework and device."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.hardware is not None and not result.runs:
        from gpudoctor.verify.hwplot import draw_hardware

        fig = draw_hardware(result.hardware, verdict.overall if verdict else None)
    else:
        fig = draw_chart(result, verdict, title=title)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()


def cpu_threads_text(runs: list[Run], lead: str) -> str:
    """``lead`` + the threads the CPU bars ran with (``2 threads``); empty where none is known."""
    threads = sorted({r.threads for r in runs if r.device == "cpu" and r.threads})
    if not threads:
        return ""
    counts = " or ".join(str(t) for t in threads)
    return f"{lead}{counts} thread{'' if threads == [1] else 's'}"


def draw_chart(result: VerifyResult, verdict: Verdict | None = None, *, title: str = "") -> Figure:
    """The chart as a matplotlib figure (the caller closes it).

    Every bar carries its images/s (and a GPU bar its speedup over the CPU); a model that was
    skipped, failed or not run on a device is marked in its slot, never left as a gap; the
    title gives the verdict, and a line under the axis counts what was and was not run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mains = [r for r in result.runs if r.role == "main"]
    runs = [r for r in figures.ok_runs(result) if r.role == "main"]
    models = list(result.settings.models)
    series = chart_series(result)
    speed = {(s.model, s.framework, s.device): s for s in figures.speedups(result)}
    values = [r.images_per_second for r in runs if r.images_per_second]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * max(len(models), 1) + 2), 5.0), dpi=100)
    try:
        width = 0.8 / max(len(series), 1)
        if values:
            ax.set_yscale("log")
            low, high = log_limits(values)
            ax.set_ylim(low, high)
            mark_y = low * 1.4
        else:
            ax.set_ylim(0, 1)
            mark_y = 0.03
        many = len(series) > 2
        for i, (fw, device) in enumerate(series):
            xs, ys, labels = [], [], []
            for j, model in enumerate(models):
                x = j + (i - (len(series) - 1) / 2) * width
                run = next(
                    (r for r in runs if (r.model, r.framework, r.device) == (model, fw, device)),
                    None,
                )
                if run is None or not run.images_per_second:
                    status = slot_status(result, model, fw, device)
                    ax.text(
                        x,
                        mark_y,
                        status,
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        color="#c62828" if status == "failed" else "#555555",
                    )
                    continue
                xs.append(x)
                ys.append(run.images_per_second)
                s = speed.get((model, fw, device))
                text = value_text(run.images_per_second)
                # bars of one model may be at different batches (a CPU halved to fit the
                # budget, a GPU's larger default): without it two bars read as like for like
                batch = f"\nbatch {run.batch_size}"
                if s is None:
                    labels.append(text + batch)
                elif many:  # vertical labels: a third line would run into the next bar's
                    labels.append(f"{text} ({s.ratio:.1f}x){batch}")
                else:  # measured at the batch the CPU ran, not the bar's
                    labels.append(f"{text}{batch}\n{s.ratio:.1f}x at batch {s.batch_size}")
            kind = "cpu" if device == "cpu" else "gpu"
            layouts = sorted(
                {r.layout for r in mains if (r.framework, r.device) == (fw, device) and r.layout}
            )
            shown = f" ({', '.join(x.replace('_', '-') for x in layouts)})" if layouts else ""
            bars = ax.bar(
                xs,
                ys,
                width * 0.95,
                label=f"{fw} {device}{shown}",
                color=_COLORS[kind],
                alpha=1.0 if fw == "torch" else 0.6,
                edgecolor="black",
                linewidth=0.4,
            )
            ax.bar_label(bars, labels=labels, fontsize=7, padding=2, rotation=90 if many else 0)
        ax.set_xticks(range(len(models)), models, rotation=20)
        ax.set_xlim(-0.6, max(len(models), 1) - 0.4)
        ax.set_ylabel("images/s (log scale)" if values else "images/s")
        ax.set_xlabel(coverage_line(result, verdict), fontsize=8)
        if series and values:
            ax.legend(fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
        asked = result.settings
        head = "gpudoctor verify" + (f": {verdict.overall.upper()}" if verdict else "")
        text = (
            title or f"{head} ({asked.mode}, {asked.precision}{', quick' if asked.quick else ''})"
        )
        if not title and any(device != "cpu" for _, device in series):
            text += "\nbars: images/s; GPU bars also their speedup over the CPU at a common batch"
            text += cpu_threads_text(runs, "; CPU ")
        elif not title:
            text += "\nbars: images/s on the CPU"
            if asked.precision != "fp32":
                # the title names the GPUs' precision; no GPU ran, and the CPU runs fp32
                text += f" (fp32: {asked.precision} is for GPUs)"
            text += cpu_threads_text(runs, ", ")
        color = _VERDICT_COLORS.get(verdict.overall, "black") if verdict and not title else None
        _fit_title(fig, text, color=color)
    except BaseException:
        plt.close(fig)
        raise
    return fig
