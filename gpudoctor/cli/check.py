"""`gpudoctor check`: probe the host (or replay a report), diagnose, render, exit by severity."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gpudoctor.cli.files import check_output, is_stdout, write_output
from gpudoctor.cli.options import (
    STDIN_IS_A_TERMINAL,
    dash_aware_path,
    debug_option,
    force_option,
    format_option,
    output_option,
    resolve_format,
    use_color,
)
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.model.findings import Diagnosis, Severity
from gpudoctor.model.report import Report


def exit_code_for(diagnosis: Diagnosis, *, strict: bool) -> ExitCode:
    """0 without error findings, 1 with at least one (with ``strict``, warnings count too)."""
    threshold = Severity.WARNING if strict else Severity.ERROR
    return ExitCode.PROBLEMS if diagnosis.worst >= threshold else ExitCode.OK


def _current_user() -> tuple[str, ...]:
    """The name of the user running gpudoctor, to redact wherever it appears in a path."""
    import getpass

    try:
        return (getpass.getuser(),)
    except (KeyError, OSError):  # no passwd entry and no USER variable (some containers)
        return ()


@click.command("check")
@format_option(
    "text for people, json for machines (the versioned report), markdown for tickets.",
    from_suffix=True,
)
@output_option
@force_option
@click.option("--verbose", "-v", is_flag=True, help="Show every fact, not only the problems.")
@click.option(
    "--no-frameworks", is_flag=True, help="Skip the PyTorch and TensorFlow probes (fast)."
)
@click.option(
    "--python",
    "python_exe",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Inspect the frameworks of another interpreter (a conda env, a venv).",
)
@click.option(
    "--from-report",
    "from_report",
    type=click.Path(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Re-diagnose a saved JSON report instead of probing this machine (- reads stdin).",
)
@click.option(
    "--no-redact",
    is_flag=True,
    help="Keep GPU UUIDs, serials, hostname and user names in JSON/Markdown and saved output.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1.0, max=600.0),
    default=60.0,
    show_default=True,
    help="Seconds any one probe may take before it is stopped and reported.",
)
@debug_option
def command(
    fmt: str | None,
    output: Path | None,
    force: bool,
    verbose: bool,
    no_frameworks: bool,
    python_exe: Path | None,
    from_report: Path | None,
    no_redact: bool,
    strict: bool,
    timeout_s: float,
) -> int:
    """Diagnose the NVIDIA driver, NVML, CUDA, cuDNN and the installed frameworks.

    Prints one line per area of the stack, each problem with its cause and a fix, and exits
    0 when nothing is broken, 1 when something is (warnings too with --strict), 2 on bad
    input and 3 when gpudoctor itself failed.
    """
    if is_stdout(output):
        output = None
    fmt = resolve_format(fmt, output)
    if output is not None:
        check_output(output, force=force)  # before the probes: a bad --output fails at once
    if from_report is not None and python_exe is not None:
        raise BadInputError("--from-report and --python cannot be combined")
    if from_report is not None and no_frameworks:
        raise BadInputError(
            "--from-report and --no-frameworks cannot be combined (a saved report is replayed "
            "as it was recorded)"
        )
    if from_report is not None:
        report = _replayed_report(from_report)
    else:
        report = _probed_report(python_exe, timeout_s=timeout_s, frameworks=not no_frameworks)

    from gpudoctor import kb
    from gpudoctor.model.redact import redact
    from gpudoctor.render import render_report
    from gpudoctor.rules import diagnose

    if not no_redact and (fmt != "text" or output is not None):
        # Before diagnosing: evidence and fixes quote UUIDs and paths, and must be redacted too.
        report = redact(report, user_names=_current_user())
    diagnosis = diagnose(report, kb.load())
    text = render_report(
        fmt,
        report,
        diagnosis,
        verbose=verbose,
        color=fmt == "text" and use_color(to_file=output is not None),
    )
    if output is not None:
        write_output(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    return int(exit_code_for(diagnosis, strict=strict))


def _replayed_report(path: Path) -> Report:
    """The saved report at ``path``, or on standard input for ``-``."""
    from gpudoctor.model.serialize import load_report, report_from_bytes

    if not is_stdout(path):
        return load_report(path)
    if sys.stdin.isatty():
        raise BadInputError(STDIN_IS_A_TERMINAL)
    return report_from_bytes(sys.stdin.buffer.read(), "standard input")


def _probed_report(python_exe: Path | None, *, timeout_s: float, frameworks: bool) -> Report:
    """Probe this machine (the frameworks of ``python_exe``), showing progress on a terminal."""
    from gpudoctor.cli.probe_progress import make_probe_progress
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.collect import planned_probes, start_collect

    # Absolute, not resolved: a name without a slash ("./python" is given as "python")
    # would be looked up on PATH, and resolving a venv's symlink would leave the venv.
    interpreter = str(python_exe.absolute()) if python_exe else sys.executable
    if python_exe is not None:
        from gpudoctor.probe.interpreter import check_interpreter

        problem = check_interpreter(interpreter, timeout_s=min(timeout_s, 20.0))
        if problem is not None:
            raise BadInputError(f"--python {python_exe}: {problem}")
    progress = make_probe_progress(
        planned_probes(frameworks=frameworks), sys.stderr, timeout_s=timeout_s
    )
    try:
        # Start the probe children first; the imports below overlap with them.
        ctx = ProbeContext(python=interpreter, timeout_s=timeout_s)
        pending = start_collect(
            ctx, frameworks=frameworks, on_done=progress.done if progress is not None else None
        )
        import gpudoctor.render
        import gpudoctor.rules  # noqa: F401 - loaded while the children run

        return pending.result()
    finally:
        if progress is not None:  # also on Ctrl-C: the line is erased and the cursor shown
            progress.close()
