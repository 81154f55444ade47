"""The ``--plot`` chart: images/s per model, GPU beside CPU, log scale, the speedup marked."""

from __future__ import annotations

import io

from gpudoctor.errors import BadInputError
from gpudoctor.verify import figures
from gpudoctor.verify.model import VerifyResult

_COLORS = {"cpu": "#8c8c8c", "gpu": "#2b7bb9"}


def require_matplotlib() -> None:
    """Fail early, before minutes of timing, when the plot extra is missing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise BadInputError("--plot needs matplotlib: pip install 'gpudoctor[plot]'")


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
            bars = ax.bar(
                xs,
                ys,
                width * 0.95,
                label=f"{fw} {device}",
                color=_COLORS[kind],
                alpha=1.0 if fw == "torch" else 0.6,
                edgecolor="black",
                linewidth=0.4,
            )
            if kind == "gpu":
                ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        if runs:
            ax.set_yscale("log")
        ax.set_xticks(range(len(models)), models, rotation=20)
        ax.set_ylabel("images/s (log scale)")
        ax.set_title(
            title
            or f"gpudoctor verify: {result.settings.mode}, "
            f"{result.settings.precision} (GPU labels: speedup over CPU)"
        )
        if series:
            ax.legend(fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()
