"""The ``--plot`` chart: images/s per model, GPU beside CPU, log scale, the speedup marked."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from gpudoctor.errors import BadInputError
from gpudoctor.verify import figures
from gpudoctor.verify.model import VerifyResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def _fit_title(fig: Figure, text: str) -> None:
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
        artist = fig.suptitle("\n".join(lines), fontsize=size)
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


def render_png(result: VerifyResult, *, title: str = "") -> bytes:
    """A PNG of the main runs: one group per model, a bar per framework and device."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in figures.ok_runs(result) if r.role == "main"]
    models = [m for m in result.settings.models if any(r.model == m for r in runs)]
    series = sorted({(r.framework, r.device) for r in runs}, key=lambda s: (s[1] == "cpu", s))
    speed = {(s.model, s.framework, s.device): s for s in figures.speedups(result)}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * max(len(models), 1) + 2), 4.5), dpi=100)
    try:
        width = 0.8 / max(len(series), 1)
        for i, (fw, device) in enumerate(series):
            xs, ys, labels = [], [], []
            for j, model in enumerate(models):
                run = next(
                    (r for r in runs if (r.model, r.framework, r.device) == (model, fw, device)),
                    None,
                )
                if run is None or not run.images_per_second:
                    continue
                xs.append(j + (i - (len(series) - 1) / 2) * width)
                ys.append(run.images_per_second)
                s = speed.get((model, fw, device))
                labels.append(f"{s.ratio:.1f}x" if s is not None else "")
            kind = "cpu" if device == "cpu" else "gpu"
            layouts = sorted(
                {r.layout for r in runs if (r.framework, r.device) == (fw, device) and r.layout}
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
            if kind == "gpu":
                ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        values = [r.images_per_second for r in runs if r.images_per_second]
        if values:
            ax.set_yscale("log")
            ax.set_ylim(*log_limits(values))
        ax.set_xticks(range(len(models)), models, rotation=20)
        ax.set_ylabel("images/s (log scale)")
        if series:
            ax.legend(fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
        text = title or f"gpudoctor verify: {result.settings.mode}, {result.settings.precision}"
        if not title and any(device != "cpu" for _, device in series):
            text += "\nGPU bars labelled with their speedup over the CPU at a common batch size"
        _fit_title(fig, text)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()
