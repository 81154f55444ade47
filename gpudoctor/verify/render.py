"""Verify's result as text (a table), Markdown (for tickets) and the versioned JSON document."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

from gpudoctor import __version__
from gpudoctor.model.serialize import finite_json, to_dict
from gpudoctor.verify import figures, hwrender
from gpudoctor.verify.model import SCHEMA_VERSION, Run, VerifyResult
from gpudoctor.verify.plot import chart_series, coverage_line, slot_status
from gpudoctor.verify.verdict import SKIPPED_SUMMARY, Level, Reason, Verdict

HEADERS = (
    "model",
    "framework",
    "device",
    "batch",
    "images/s",
    "spread",
    "of peak",
    "GPU/CPU",
    "verdict",
)
_MARK = {Level.FAIL: "✗", Level.WARN: "!", Level.NOTE: "·"}
_TRAILING_PAD = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def _ips(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def row(result: VerifyResult, verdict: Verdict, run: Run) -> tuple[str, ...]:
    """The table cells of one run."""
    device = run.device if run.device == "cpu" else f"{run.device} {run.device_name}".strip()
    if run.status != "ok":
        status = "skipped" if run.status == "skipped" else "error"
        return (run.model, run.framework, device, "–", status, "–", "–", "–", verdict.for_run(run))
    batch = str(run.batch_size)
    if run.oom_batch_sizes:
        batch += f" (oom {run.oom_batch_sizes[0]})"
    frac = figures.fraction_of_peak(result, run)
    speed = figures.speedup_for(result, run)
    return (
        run.model,
        run.framework,
        device,
        batch,
        _ips(run.images_per_second),
        f"{run.spread:.0%}" if run.spread is not None else "–",
        f"{frac:.1%}" if frac is not None else "–",
        f"{speed.ratio:.1f}x" if speed is not None else "–",
        verdict.for_run(run),
    )


def _rows(result: VerifyResult, verdict: Verdict) -> list[tuple[str, ...]]:
    order = {m: i for i, m in enumerate(result.settings.models)}
    fw_order = {f: i for i, f in enumerate(result.settings.frameworks)}

    def key(model: str, framework: str, device: str, main: bool) -> tuple[int, int, bool, bool]:
        return (order.get(model, 99), fw_order.get(framework, 9), device == "cpu", not main)

    keyed = [
        (key(r.model, r.framework, r.device, r.role == "main"), row(result, verdict, r))
        for r in result.runs
    ]
    keyed += [(key(m, fw, dev, True), cells) for m, fw, dev, cells in _missing_rows(result)]
    return [cells for _, cells in sorted(keyed, key=lambda kc: kc[0])]


def _missing_rows(result: VerifyResult) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """A row for each model a framework and device that ran others never timed: a child that
    crashed or was killed half-way, a model whose build failed.

    The table listed only the runs it had, so after a torch child died at AlexNet its rows
    stopped at LeNet-5 while Keras's went on to ResNet-152; the chart marked those slots
    ``not run`` and ``failed``, the table left them out.
    """
    have = {(r.model, r.framework, r.device) for r in result.runs if r.role == "main"}
    missing: list[tuple[str, str, str, tuple[str, ...]]] = []
    for model in result.settings.models:
        for fw, device in chart_series(result):
            if (model, fw, device) in have:
                continue
            status = slot_status(result, model, fw, device)
            judged = "fail" if status == "failed" else "–"  # its error is a fail reason
            cells: tuple[str, ...] = (model, fw, device, "–", status, "–", "–", "–", judged)
            missing.append((model, fw, device, cells))
    return missing


def _table(result: VerifyResult, verdict: Verdict) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The headers and rows of the runs' table; no GPU/CPU column where no run was on a GPU.

    `--device cpu` (or a machine without a GPU) has no speedup to show: the column was a dash
    on every row.
    """
    rows = _rows(result, verdict)
    if any(r.device != "cpu" for r in result.runs):
        return HEADERS, rows
    keep = [i for i, h in enumerate(HEADERS) if h != "GPU/CPU"]
    return tuple(HEADERS[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]


def _ranked(verdict: Verdict) -> list[Reason]:
    """The reasons a person reads, worst first: the CPU runs the budget skipped as their one
    summary note, where the verdict has one (JSON keeps each run's own)."""
    summarised = any(r.code == SKIPPED_SUMMARY for r in verdict.reasons)
    shown = [
        r for r in verdict.reasons if not (summarised and r.code == "skipped" and r.device == "cpu")
    ]
    return sorted(shown, key=lambda r: -r.level.rank)


def _reason_lines(verdict: Verdict) -> list[str]:
    return [f"{_MARK[r.level]} {r.level.value}: {r.message}" for r in _ranked(verdict)]


def _environment(result: VerifyResult) -> list[str]:
    lines = []
    for env in result.frameworks:
        if not env.installed:
            lines.append(f"{env.framework}: not installed")
            continue
        if env.version is None and env.error is not None:
            # The child failed (an import error, a crash) before it said what it is: a
            # "CPU-only build" with "no GPU" would be the defaults, not anything measured.
            lines.append(
                f"{env.framework}: failed before it reported its version, build and devices "
                "(the reason is above)"
            )
            continue
        gpus = ", ".join(f"{g.device} {g.name}" for g in env.gpus) or "no GPU"
        cuda = f"CUDA {env.cuda_version}" if env.cuda_build else "CPU-only build"
        cudnn = f", cuDNN {env.cudnn_version}" if env.cudnn_version else ""
        threads = f"; {env.cpu_threads} CPU threads" if env.cpu_threads else ""
        lines.append(f"{env.framework} {env.version or '?'} ({cuda}{cudnn}): {gpus}{threads}")
    compared = compared_line(result)
    if compared:
        lines.append(compared)
    for p in result.peaks:
        unit = (p.flops / 1e12, "TFLOP/s") if p.flops >= 1e12 else (p.flops / 1e9, "GFLOP/s")
        lines.append(f"matmul peak {p.framework} {p.device} {p.precision}: {unit[0]:.1f} {unit[1]}")
    if len({(p.device, p.precision) for p in result.peaks}) < len(result.peaks):
        lines.append("of peak: over the best matmul rate any framework's probe reached there")
    for d in result.datasheet_peaks:
        best = max(
            (p.flops for p in result.peaks if (p.device, p.precision) == (d.device, d.precision)),
            default=0.0,
        )
        share = f"; the best probe reached {best / d.flops:.0%} of it" if best else ""
        mark = "" if d.verified else " (unverified)"
        lines.append(
            f"datasheet peak {d.gpu} {d.precision}: {d.flops / 1e12:.1f} TFLOP/s{mark}{share}"
        )
    lines += published_lines(result)
    layouts = sorted({(r.framework, r.device, r.layout) for r in result.runs if r.layout})
    if layouts:
        lines.append(
            "layout: "
            + ", ".join(f"{fw} {dev} {lay.replace('_', '-')}" for fw, dev, lay in layouts)
        )
    return lines


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def compared_line(result: VerifyResult) -> str | None:
    """Which outputs were compared, the largest difference, and what was not compared and why.

    GPU against CPU is verify's proof that the GPU computes right; where no model ran on a GPU
    it compared nothing, and the line must say so rather than leave it out (it read 'outputs
    compared: torch vs Keras 3', a count that read as Keras's version, and under
    ``--framework torch`` it was missing altogether). None where no model ran at all.
    """
    if not result.comparisons and not any(r.status == "ok" for r in result.runs):
        return None
    done: list[str] = []
    missing: list[str] = []
    gpu = [c for c in result.comparisons if c.kind == "gpu_vs_cpu"]
    if gpu:
        devices = len({c.candidate.split()[-1] for c in gpu})
        on = f" ({devices} GPUs)" if devices > 1 else ""
        done.append(f"GPU vs CPU on {_counted(len({c.model for c in gpu}), 'model')}{on}")
    elif not any(r.device != "cpu" for r in result.runs):
        missing.append("GPU vs CPU (no model ran on a GPU)")
    else:
        missing.append("GPU vs CPU")
    keras = {c.model for c in result.comparisons if c.kind == "torch_vs_keras"}
    if keras:
        done.append(f"torch vs Keras on {_counted(len(keras), 'model')}")
    if len(result.settings.frameworks) > 1:
        # Keras compares with the model torch built; where torch built none (it skipped the
        # model on the CPU alone, or its child died first) Keras timed it uncompared
        timed = {r.model for r in result.runs if r.framework == "tensorflow" and r.status == "ok"}
        alone = [m for m in result.settings.models if m in timed and m not in keras]
        no_torch = any(e.framework == "torch" and not e.installed for e in result.frameworks)
        if alone and no_torch:
            missing.append("torch vs Keras (torch is not installed)")
        elif alone:
            them = "it" if len(alone) == 1 else "them"
            missing.append(f"torch vs Keras on {', '.join(alone)} (torch did not build {them})")
        elif not keras:
            missing.append("torch vs Keras")
    if not done:
        if len(result.settings.frameworks) == 1:
            missing.append(f"torch vs Keras (only {result.settings.frameworks[0]} was asked for)")
        return "outputs compared: none; not compared: " + ", ".join(missing)
    worst = max(result.comparisons, key=lambda c: c.rel_error)
    line = (
        f"outputs compared: {', '.join(done)}; largest difference {worst.rel_error:.1e} of the "
        f"logit scale ({worst.model}: {worst.candidate} vs {worst.reference})"
    )
    return line + (f"; not compared: {', '.join(missing)}" if missing else "")


def published_lines(result: VerifyResult) -> list[str]:
    """NVIDIA's published figure beside each run that has one: information, never a verdict."""
    lines = []
    for run in result.runs:
        p, share = figures.published_for(result, run), figures.fraction_of_published(result, run)
        if p is None or share is None:
            continue
        gpus = "1 GPU" if p.gpus == 1 else f"{p.gpus} GPUs' total over {p.gpus}"
        layout = f", {run.layout.replace('_', '-')}" if run.layout else ""
        lines.append(
            f"NVIDIA publishes {p.images_per_second:,.0f} images/s per GPU for {p.model} "
            f"{p.mode} under {p.precision} in {p.framework} on {p.gpu} ({gpus}, batch "
            f"{p.batch_size}; {p.source}); this run ({run.device}, {run.precision}, batch "
            f"{run.batch_size}{layout}): {_ips(run.images_per_second)} ({share:.2f} of it). "
            f"For information, not judged: NVIDIA's run had {p.conditions}"
        )
    return lines


def _settings_line(result: VerifyResult) -> str:
    s = result.settings
    if result.hardware is not None:
        hw = hwrender.summary(result.hardware)
        if not s.models:
            return hw
        return f"{_models_line(result)}; {hw}"
    return _models_line(result)


def _models_line(result: VerifyResult) -> str:
    s = result.settings
    batch = f"batch {s.batch_size}" if s.batch_size else "default batches"
    quick = ", quick" if s.quick else ""
    budget = f"{s.time_budget_s:,g} s per model and device"
    # the CPU alone ran (no GPU here): '4 s per model and GPU' named a budget nothing used
    cpu_alone = result.runs and all(r.device == "cpu" for r in result.runs)
    if not s.wants_gpu or (cpu_alone and s.wants_cpu):
        budget = f"{s.cpu_budget_s:,g} s per model"
    elif s.cpu_budget_s != s.time_budget_s and s.wants_cpu:
        budget = f"{s.time_budget_s:,g} s per model and GPU, {s.cpu_budget_s:,g} s on the CPU"
    return f"{s.mode}, {s.precision}, {batch}, {budget}{quick}; took {result.duration_s:,.0f} s"


def render_text(
    result: VerifyResult, verdict: Verdict, *, color: bool = False, width: int = 120
) -> str:
    """The table, the reasons, the environment and the verdict, for a terminal or a file."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
    )
    styles = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim", "–": "dim"}
    if result.runs:  # no empty header: the coverage line says no model was run
        table = Table(show_edge=False, pad_edge=False, box=None)
        headers, rows = _table(result, verdict)
        for h in headers:
            table.add_column(h, justify="right" if h in HEADERS[3:8] else "left", no_wrap=True)
        for cells in rows:
            table.add_row(*cells[:-1], f"[{styles[cells[-1]]}]{cells[-1]}[/]")
        console.print(table)
        console.print()
    if result.hardware is not None:
        hw_rows = hwrender.rows(result.hardware)
        if hw_rows:
            table = Table(show_edge=False, pad_edge=False, box=None)
            for h in hwrender.HEADERS:
                right = h in hwrender.HEADERS[2:6]
                table.add_column(h, justify="right" if right else "left", no_wrap=True)
            for cells in hw_rows:
                table.add_row(*cells)
            console.print(table, markup=False)
        for line in _hardware_lines(result):
            console.print(line, markup=False, soft_wrap=True)
        console.print()
    for line in _reason_lines(verdict):
        console.print(line, markup=False, soft_wrap=True)
    if verdict.reasons:
        console.print()
    for line in _environment(result):
        console.print(line, markup=False, soft_wrap=True)
    if result.settings.models:
        console.print(coverage_line(result, verdict), markup=False, soft_wrap=True)
    console.print(_settings_line(result), markup=False, soft_wrap=True)
    console.print(f"verdict: [{styles[verdict.overall]}]{verdict.overall.upper()}[/]")
    # rich pads every cell to its column's width, the last one too; drop that padding, even
    # where a colour code ends the line after it.
    return _TRAILING_PAD.sub(r"\1", buf.getvalue())


def render_markdown(result: VerifyResult, verdict: Verdict) -> str:
    """A Markdown section to paste into a ticket."""
    out = [f"## gpudoctor verify: {verdict.overall.upper()}", "", f"_{_settings_line(result)}_", ""]
    if result.settings.models:
        out += [f"_{coverage_line(result, verdict)}_", ""]
    if result.runs:  # no empty header: the coverage line says no model was run
        headers, rows = _table(result, verdict)
        out += _md_table(headers, HEADERS[3:8], rows)
    if result.hardware is not None:
        out += ["### Hardware", ""] if not result.runs else ["", "### Hardware", ""]
        hw_rows = hwrender.rows(result.hardware)
        if hw_rows:
            out += _md_table(hwrender.HEADERS, hwrender.HEADERS[2:6], hw_rows)
            out.append("")
        out += [f"- {line}" for line in _hardware_lines(result)]
    if verdict.reasons:
        out += ["", "### Reasons", ""]
        out += [f"- **{r.level.value}** {r.message}" for r in _ranked(verdict)]
    environment = _environment(result)
    if environment:  # --hardware or --burn alone ran no framework: no empty section
        out += ["", "### Environment", ""]
        out += [f"- {line}" for line in environment]
    return "\n".join(out) + "\n"


def _md_table(
    headers: tuple[str, ...], right: tuple[str, ...], cells: list[tuple[str, ...]]
) -> list[str]:
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join("---:" if h in right else "---" for h in headers) + "|")
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return out


def _hardware_lines(result: VerifyResult) -> list[str]:
    hw = result.hardware
    if hw is None:
        return []
    lines = [hwrender.burn_line(b) for b in hw.burn]
    lines += [f"note: {n}" for n in hw.notes]
    if hw.bandwidths or hw.allreduce is not None:
        lines.append(
            "GB/s = 10^9 bytes/s; memory: bytes read + written; all-reduce: algbw = S/t, "
            "busbw = algbw x 2(n-1)/n (nccl-tests); floor? = unverified"
        )
    return lines


def _finite(obj: Any) -> Any:
    """JSON has no NaN or infinity: such figures become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def to_document(result: VerifyResult, verdict: Verdict) -> dict[str, Any]:
    """The versioned JSON document (docs/verify.md describes every field)."""
    runs = []
    for run in result.runs:
        speed = figures.speedup_for(result, run)
        runs.append(
            dict(
                to_dict(run),
                fraction_of_peak=figures.fraction_of_peak(result, run),
                fraction_of_datasheet_peak=figures.fraction_of_datasheet(result, run),
                fraction_of_published=figures.fraction_of_published(result, run),
                achieved_flops=figures.achieved_flops(run),
                speedup_vs_cpu=speed.ratio if speed is not None else None,
                verdict=verdict.for_run(run),
            )
        )
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": "gpudoctor verify",
        "gpudoctor_version": __version__,
        "verdict": verdict.overall,
        "models": [{"model": m, "verdict": v} for m, v in verdict.models],
        "reasons": [to_dict(r) for r in verdict.reasons],
        "settings": dict(to_dict(result.settings), frameworks=list(result.settings.frameworks)),
        "frameworks": to_dict(result.frameworks),
        "peaks": to_dict(result.peaks),
        "datasheet_peaks": to_dict(result.datasheet_peaks),
        "published_figures": to_dict(result.published_figures),
        "runs": runs,
        "speedups": [dict(to_dict(s), ratio=s.ratio) for s in figures.speedups(result)],
        "comparisons": to_dict(result.comparisons),
        "errors": to_dict(result.errors),
        "cpu_count": result.cpu_count,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "hardware": to_dict(result.hardware) if result.hardware is not None else None,
    }
    return _finite(doc)  # type: ignore[no-any-return]


def render_json(result: VerifyResult, verdict: Verdict) -> str:
    """The JSON document as text."""
    # A GPU that computes garbage gives NaN; JSON has no NaN, so it is written as null.
    return (
        json.dumps(
            finite_json(to_document(result, verdict)), indent=2, sort_keys=True, allow_nan=False
        )
        + "\n"
    )


def _json(result: VerifyResult, verdict: Verdict, *, color: bool = False) -> str:
    return render_json(result, verdict)  # JSON never carries colour


def _markdown(result: VerifyResult, verdict: Verdict, *, color: bool = False) -> str:
    return render_markdown(result, verdict)


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "json": _json,
    "markdown": _markdown,
}
"""Every format `verify --format` accepts: (result, verdict, *, color) -> text."""


def render(fmt: str, result: VerifyResult, verdict: Verdict, *, color: bool = False) -> str:
    """Dispatch on ``--format``; a format verify has not is refused."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        msg = f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})"
        raise ValueError(msg)
    return renderer(result, verdict, color=color)
