"""`gpudoctor verify`: run the reference CNNs on GPU and CPU, judge, render, exit by verdict."""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpudoctor.cli.files import check_output, emit, is_stdout, shown, write_output, wrote
from gpudoctor.cli.formats import VERIFY
from gpudoctor.cli.keep import history_dir_option, keep_verify, keeping, no_history_option
from gpudoctor.cli.options import (
    FilePath,
    FiniteFloatRange,
    PlainIntRange,
    debug_option,
    defaulted,
    force_option,
    format_option,
    output_option,
    refuse_force_without_output,
    use_color,
)
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.verify.plan import MAX_BUDGET_S, MAX_RANKS

MAX_BURN_S = 24 * 3600
"""The longest --burn accepted: a day."""

if TYPE_CHECKING:
    from gpudoctor.verify.model import HardwareResult, HardwareSettings, VerifyResult
    from gpudoctor.verify.references import References
    from gpudoctor.verify.verdict import Verdict


def exit_code_for(verdict: str) -> ExitCode:
    """0 for pass and warn, 1 for fail."""
    return ExitCode.PROBLEMS if verdict == "fail" else ExitCode.OK


def _require_png(path: Path | None) -> None:
    # The chart is always a PNG: a .txt or .pdf name would hold PNG bytes under a false name.
    if path is not None and path.suffix.lower() != ".png":
        raise BadInputError(
            f"--plot writes a PNG chart: give it a .png file name, not {path.name!r}"
        )


def _refuse_same_file(output: Path | None, plot_path: Path | None) -> None:
    # One file cannot hold both: the second write would overwrite the first, or (without
    # --force) be refused after the whole run, losing its results.
    if output is None or plot_path is None:
        return
    try:
        same = output.resolve() == plot_path.resolve()
    except (RuntimeError, OSError):  # a link loop: _refuse_existing names it as bad input
        return
    if not same and output.exists() and plot_path.exists():
        same = output.samefile(plot_path)  # hard links: two names, one file
    if same:
        raise BadInputError(
            f"--output and --plot both name {plot_path}: give the chart a file of its own"
        )


_MODEL_OPTIONS = (
    ("mode", "--mode"),
    ("precision", "--precision"),
    ("layout", "--layout"),
    ("batch_size", "--batch-size"),
    ("time_budget", "--time-budget"),
)
"""Options that only the reference models read (--quick stays: scripts pass it throughout)."""


def _ranks_noted(hw: HardwareResult) -> HardwareResult:
    """With ``--device all`` the all-reduce ran on the GPUs, one rank per GPU: a --ranks given
    was not used, and the result says so rather than read as measured with it."""
    allreduce = hw.allreduce
    if defaulted("ranks") or allreduce is None or allreduce.device == "cpu":
        return hw
    note = f"--ranks {hw.settings.ranks}: not used, the all-reduce ran one rank per GPU"
    return replace(hw, notes=(*hw.notes, note))


def _refuse_ignored(hardware_only: bool, items: tuple[str, ...]) -> None:
    """An option given where nothing reads it is bad input, not silently dropped: a user who
    asked for --ranks 8 or --precision amp-fp16 would read the result as measured with it."""
    if not defaulted("ranks") and "allreduce" not in items:
        raise BadInputError(
            "--ranks sets the processes of the all-reduce: give it with --hardware (all, or a "
            "list with allreduce)"
        )
    if hardware_only:
        given = [flag for param, flag in _MODEL_OPTIONS if not defaulted(param)]
        if given:
            raise BadInputError(
                f"{', '.join(given)}: only the reference models read "
                f"{'it' if len(given) == 1 else 'them'}, and with --hardware or --burn alone "
                "none runs (add --models)"
            )


def _refuse_gpu_only_on_cpu(items: tuple[str, ...], device: str) -> None:
    """--hardware of GPU-only measurements alone with --device cpu measures nothing: before, it
    said 'nothing on cpu' and passed (exit 0), which a script reads as a measured host."""
    from gpudoctor.verify.model import GPU_ONLY

    if device == "cpu" and items and all(i in GPU_ONLY for i in items):
        raise BadInputError(
            f"--hardware {','.join(items)}: measured between a GPU and the host or another GPU, "
            "so --device cpu leaves nothing of it (on the CPU: memory, allreduce)"
        )


def _refuse_existing(path: Path | None, force: bool) -> None:
    # Checked before minutes of timing, not after: an existing file, a missing folder.
    if path is not None:
        check_output(path, force=force)


@click.command("verify")
@click.option(
    "--models",
    "models_text",
    default="all",
    show_default=True,
    metavar="NAMES",
    help="Comma-separated reference models (see `gpudoctor models`).",
)
@click.option(
    "--framework",
    type=click.Choice(["torch", "tensorflow", "all"]),
    default="all",
    show_default=True,
    help="Which framework(s) to verify.",
)
@click.option(
    "--device",
    "device_text",
    default="all",
    show_default=True,
    metavar="cpu|cuda|cuda:N|all",
    help="cuda = every GPU; all = the CPU and every GPU.",
)
@click.option(
    "--mode",
    type=click.Choice(["inference", "training"]),
    default="inference",
    show_default=True,
    help="training = forward, backward and an SGD step.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "tf32", "amp-fp16", "amp-bf16"]),
    default="fp32",
    show_default=True,
    help="GPU precision; CPU runs are always fp32 (they are the reference).",
)
@click.option(
    "--layout",
    type=click.Choice(["auto", "nchw", "channels-last"]),
    default="auto",
    show_default=True,
    help="PyTorch's memory layout. auto: channels-last for AMP on tensor-core GPUs and on the "
    "CPU (measured faster there), NCHW otherwise. Keras is always channels-last (NHWC).",
)
@click.option(
    "--batch-size",
    type=PlainIntRange(min=1, max=65536),
    default=None,
    help="One batch for every model and device (default: per model).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A short budget for onboarding (4 s per model on a GPU, 1.5 s on the CPU); without "
    "--device, a machine with no GPU verifies its CPU.",
)
@click.option(
    "--time-budget",
    "time_budget",
    type=FiniteFloatRange(min=0.5, max=MAX_BUDGET_S),
    default=None,
    metavar="SECONDS",
    help="Timing budget per model and device; given, it holds for the CPU too [default: 15; "
    "with --quick 4 on a GPU and 1.5 on the CPU].",
)
@click.option(
    "--hardware",
    "hardware_text",
    default=None,
    is_flag=False,
    flag_value="all",
    metavar="[ITEMS]",
    help="Also measure the hardware: all (alone, --hardware means all), or some of "
    "memory,h2d,d2h,p2p,allreduce (device "
    "memory, pinned host<->device, GPU pairs, all-reduce across every GPU; on the CPU: host "
    "memory and a gloo all-reduce between local processes). Without --models, only these.",
)
@click.option(
    "--burn",
    "burn_s",
    type=FiniteFloatRange(min=1, max=MAX_BURN_S),
    default=None,
    metavar="SECONDS",
    help="Sustained matrix products on every device for SECONDS, every product compared "
    "with the first (silent data corruption) while NVML samples clocks, "
    "temperature, power and throttling. Without --models, only this (and --hardware).",
)
@click.option(
    "--ranks",
    type=PlainIntRange(min=2),
    default=2,
    show_default=True,
    help="Local processes of the CPU all-reduce, at most one per usable CPU and "
    f"{MAX_RANKS} (on GPUs: one per GPU).",
)
@format_option(
    "text for people, json for machines, markdown for tickets.", VERIFY.formats, from_suffix=True
)
@output_option
@force_option
@click.option(
    "--plot",
    "plot_path",
    type=FilePath(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE.png",
    help="Also write a chart (needs matplotlib: gpudoctor[plot]).",
)
@no_history_option
@history_dir_option
@debug_option
def command(
    models_text: str,
    framework: str,
    device_text: str,
    mode: str,
    precision: str,
    layout: str,
    batch_size: int | None,
    quick: bool,
    time_budget: float | None,
    hardware_text: str | None,
    burn_s: float | None,
    ranks: int,
    fmt: str | None,
    output: Path | None,
    force: bool,
    plot_path: Path | None,
    no_history: bool,
    history_dir: Path | None,
) -> int:
    """Prove the install: run LeNet-5 to ResNet-152 on the GPU and the CPU, in PyTorch and Keras.

    Each framework runs in its own process. Every model is checked for the same output on GPU
    and CPU (and in torch and Keras), timed, and judged: exit 0 on pass or warn, 1 on fail,
    2 on bad input, 3 when gpudoctor itself failed. --hardware and --burn measure the
    hardware instead (or as well, with --models), each measurement in a bounded child.
    """
    from gpudoctor.refmodels import parse_model_list
    from gpudoctor.verify import plan
    from gpudoctor.verify.figures import with_datasheet_peaks, with_published_figures
    from gpudoctor.verify.hardware import parse_items
    from gpudoctor.verify.harness import run_verify
    from gpudoctor.verify.model import HardwareSettings, Settings, VerifyResult
    from gpudoctor.verify.progress import make_progress
    from gpudoctor.verify.references import load_references
    from gpudoctor.verify.verdict import judge

    refuse_force_without_output(force, also=(("plot_path", "--plot"),))
    if no_history and not defaulted("history_dir"):  # it was dropped without a word
        raise BadInputError("--history-dir and --no-history: nothing is kept there")
    if is_stdout(output):
        output = None
    fmt = VERIFY.resolve(fmt, output)
    items = parse_items(hardware_text) if hardware_text is not None else ()
    hardware_only = (hardware_text is not None or burn_s is not None) and defaulted("models_text")
    models = () if hardware_only else tuple(s.name for s in parse_model_list(models_text))
    _refuse_ignored(hardware_only, items)
    device = plan.parse_device(device_text)
    _refuse_gpu_only_on_cpu(items, device)
    if not defaulted("ranks"):
        if device.startswith("cuda"):
            raise BadInputError(
                "--ranks sets the local processes of the all-reduce on the CPU (--device cpu); "
                "on GPUs it runs one rank per GPU"
            )
        plan.check_ranks(ranks)
    _require_png(plot_path)
    _refuse_same_file(output, plot_path)
    _refuse_existing(output, force)
    _refuse_existing(plot_path, force)
    if plot_path is not None:
        from gpudoctor.verify.plot import require_matplotlib

        require_matplotlib()
    refs = load_references()
    settings = Settings(
        models=models,
        framework=framework,
        device=device,
        mode=mode,
        precision=precision,
        layout=layout,
        batch_size=batch_size,
        quick=quick,
        time_budget_s=plan.budget_for(quick, time_budget),
        cpu_time_budget_s=plan.QUICK_CPU_BUDGET_S if quick and time_budget is None else None,
        # quick is for onboarding: without --device, a machine with no GPU verifies its CPU;
        # --device cpu asks for no GPU at all (its JSON said gpu_required: true)
        gpu_required=device != "cpu" and not (quick and defaulted("device_text")),
    )
    if models:
        progress = make_progress(settings, sys.stderr)
        try:
            result = run_verify(settings, progress)
        finally:
            progress.close()
    else:
        result = VerifyResult(settings=settings, started_at=_now())
    if hardware_text is not None or burn_s is not None:
        hw = HardwareSettings(items=items, burn_s=burn_s, device=device, ranks=ranks)
        measured = _ranks_noted(_measure_hardware(hw, refs))
        # the result's wall time is the whole verify's: it read 0.0 s after --hardware alone
        took = round(result.duration_s + measured.duration_s, 2)
        result = replace(result, hardware=measured, duration_s=took)
    result = with_published_figures(with_datasheet_peaks(result, refs), refs)
    verdict = judge(result, refs)
    from gpudoctor.cli.verify_where import with_slurm_reason

    # the srun line it suggests runs this verify again: sys.argv is not ours to read (python
    # -m, a test runner), so the options that choose what is verified are spelled out
    again = [*_gpudoctor_command(), "verify", *(["--quick"] if quick else [])]
    again += [] if framework == "all" else ["--framework", framework]
    again += _given_again(
        models=models_text,
        device=device_text,
        mode=mode,
        precision=precision,
        layout=layout,
        batch_size=batch_size,
        time_budget=time_budget,
        hardware=hardware_text,
        burn=burn_s,
        ranks=ranks,
    )
    verdict = with_slurm_reason(verdict, again)
    color = fmt == "text" and use_color(to_file=output is not None)
    # The results first: minutes of measurements must not be lost to a failing chart.
    emit(VERIFY.render(fmt, result, verdict, color=color), output, force=force)
    if plot_path is not None:
        _write_plot(result, verdict, plot_path, force=force)
    if keeping(no_history):
        keep_verify(VERIFY.render("json", result, verdict), verdict.overall, history_dir)
    return int(exit_code_for(verdict.overall))


_AGAIN = (
    ("models", "--models"),
    ("device", "--device"),
    ("mode", "--mode"),
    ("precision", "--precision"),
    ("layout", "--layout"),
    ("batch_size", "--batch-size"),
    ("time_budget", "--time-budget"),
    ("hardware", "--hardware"),
    ("burn", "--burn"),
    ("ranks", "--ranks"),
)
"""The options that choose what verify measures, as the srun line gives them again: it said
``srun ... gpudoctor verify --quick`` for ``verify --quick --models lenet5 --mode training``,
which on the node ran every model, for inference."""
_PARAMS = {
    "models": "models_text",
    "device": "device_text",
    "hardware": "hardware_text",
    "burn": "burn_s",
}


def _given_again(**values: object) -> list[str]:
    """The options of ``_AGAIN`` the user gave (not their defaults), each ``--name value``;
    --output, --plot, --format and the history's are where this run writes, not what it
    measures."""
    words: list[str] = []
    for key, flag in _AGAIN:
        value = values[key]
        if value is None or defaulted(_PARAMS.get(key, key)):
            continue
        text = str(value)
        if isinstance(value, float):  # 2.5, not 2.5000; but 1234.5678 whole, not 1234.57
            text = f"{value:g}" if float(f"{value:g}") == value else repr(value)
        words += [f"{flag}={text}"] if key == "hardware" else [flag, text]
    return words


def _gpudoctor_command() -> list[str]:
    """How a pasted line starts this gpudoctor: ``gpudoctor`` where that is on PATH (srun
    passes PATH on to the job), else this interpreter with ``-m gpudoctor``: run as
    ``python -m gpudoctor`` with no gpudoctor on PATH, the suggested ``srun ... gpudoctor
    verify`` failed on the node with 'execve(): gpudoctor: No such file or directory'."""
    from gpudoctor.probe.host import gpudoctor_command

    return list(gpudoctor_command(os.environ))


def _now() -> str:
    from gpudoctor.model.times import utc_stamp

    return utc_stamp(dt.datetime.now(dt.timezone.utc))


def _measure_hardware(hw: HardwareSettings, refs: References) -> HardwareResult:
    """Run the hardware children, saying on stderr what runs (each may take a while)."""
    from gpudoctor.verify.hardware import run_hardware, with_floors

    what = ", ".join(hw.items) + (f"; burn {hw.burn_s:,g} s" if hw.burn_s else "")
    click.echo(f"verify: measuring the hardware ({what.strip('; ')}) ...", err=True)
    return with_floors(
        run_hardware(hw, say=lambda line: click.echo(f"verify: {line}", err=True)), refs
    )


def _write_plot(result: VerifyResult, verdict: Verdict, path: Path, *, force: bool) -> None:
    """Write the chart, or say in one line on stderr why not; the verdict keeps the exit status."""
    try:
        from gpudoctor.verify.plot import render_png

        write_output(path, render_png(result, verdict), force=force)
    except Exception as exc:  # the pre-check passed, yet the chart failed: never lose the run
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        if isinstance(exc, BadInputError):
            what = reason  # our own one-line messages (file exists, cannot write there)
        if click.get_current_context().find_root().meta.get("gpudoctor.debug"):
            traceback.print_exc()
        click.echo(f"gpudoctor: warning: --plot: {shown(path)} not written ({what})", err=True)
        return
    click.echo(wrote(path), err=True)
