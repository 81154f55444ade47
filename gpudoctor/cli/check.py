"""`gpudoctor check`: probe the host (or replay a report), diagnose, render, exit by severity."""

from __future__ import annotations

import contextlib
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from gpudoctor.cli.files import check_output, emit, is_stdout
from gpudoctor.cli.formats import CHECK, HEALTH
from gpudoctor.cli.keep import history_dir_option, keep_check, keeping, no_history_option
from gpudoctor.cli.options import (
    STDIN_IS_A_TERMINAL,
    FilePath,
    FiniteFloatRange,
    PlainIntRange,
    dash_aware_path,
    debug_option,
    defaulted,
    force_option,
    format_option,
    output_option,
    refuse_force_without_output,
    use_color,
)
from gpudoctor.errors import BadInputError, ExitCode, SlurmUnavailableError
from gpudoctor.fleet.defaults import IMMEDIATE_S, REMOTE_TIMEOUT_S
from gpudoctor.model.findings import Diagnosis, Severity

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gpudoctor.fleet.gate import GateDecision
    from gpudoctor.fleet.slurm import ComputeNode
    from gpudoctor.model.findings import Finding
    from gpudoctor.model.report import Report, SlurmCluster

T = TypeVar("T")


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
    CHECK.formats,
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
    type=FilePath(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Inspect the frameworks of another interpreter (a conda env, a venv).",
)
@click.option(
    "--from-report",
    "from_report",
    type=FilePath(dir_okay=False),
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
    type=FiniteFloatRange(min=1.0, max=600.0),
    default=60.0,
    show_default=True,
    help="Seconds any one probe may take before it is stopped and reported.",
)
@click.option(
    "--health-check",
    is_flag=True,
    help="The fast gate for SLURM's HealthCheckProgram or a Prolog: the kernel driver and NVML "
    "only (no CUDA, no framework); one line; exit 1 on an error finding.",
)
@click.option(
    "--drain",
    is_flag=True,
    help="With --health-check: drain this node through scontrol on an error finding, and "
    "resume it once clean if gpudoctor drained it (never a node someone else drained).",
)
@click.option(
    "--node",
    "node_name",
    default=None,
    help="The SLURM node name for --drain. Default: $SLURMD_NODENAME, else the short hostname.",
)
@click.option(
    "--partition",
    "-p",
    "partition",
    default=None,
    help="From a login node: run the check on one idle compute node of this SLURM partition "
    "(through srun --immediate, with --gres=gpu:1 where the partition has GPUs).",
)
@click.option(
    "--nodelist",
    "-w",
    "nodelist",
    default=None,
    help="From a login node: run the check on one of these nodes (a SLURM hostlist, n[1-4]); "
    "may be combined with --partition.",
)
@click.option(
    "--remote-timeout",
    "remote_timeout_s",
    type=FiniteFloatRange(min=5.0, max=3600.0),
    default=REMOTE_TIMEOUT_S,
    show_default=True,
    help="With --partition/--nodelist: seconds the whole srun may take before it is stopped.",
)
@click.option(
    "--immediate",
    "immediate_s",
    type=PlainIntRange(min=1, max=600),
    default=IMMEDIATE_S,
    show_default=True,
    help="With --partition/--nodelist: seconds srun waits for the allocation (busy: exit 1).",
)
@click.option(
    "--command",
    "node_command",
    default=None,
    help="With --partition/--nodelist: how to start gpudoctor on the node. Default: this "
    "interpreter with -m gpudoctor (a venv on the shared file system).",
)
@click.option(
    "--since-last-good",
    is_flag=True,
    help="When something is wrong now (an error finding), add what changed since the last "
    "good report in the history (as `gpudoctor diff` shows it) under the verdict.",
)
@no_history_option
@history_dir_option
@click.option(
    "--since",
    "since",
    default=None,
    help="How far back to read the kernel log for Xid errors: a duration (72h, 3d) or a date "
    "(2026-12-01, UTC). Default: 72h.",
)
@click.option(
    "--ib-rate",
    "ib_rate",
    type=FiniteFloatRange(min=1.0, max=10000.0),
    default=None,
    help="The rate in Gb/s every InfiniBand/RoCE port of this node should run at (e.g. 400); "
    "a port that is down or slower is a finding.",
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
    health_check: bool,
    drain: bool,
    node_name: str | None,
    partition: str | None,
    nodelist: str | None,
    remote_timeout_s: float,
    immediate_s: int,
    node_command: str | None,
    since_last_good: bool,
    no_history: bool,
    history_dir: Path | None,
    since: str | None,
    ib_rate: float | None,
) -> int:
    """Diagnose the NVIDIA driver, NVML, CUDA, cuDNN and the installed frameworks.

    Prints one line per area of the stack, each problem with its cause and a fix, and exits
    0 when nothing is broken, 1 when something is (warnings too with --strict), 2 on bad
    input and 3 when gpudoctor itself failed.
    """
    if not health_check:  # the gate notes it instead: exit 2 from a Prolog drains the node
        refuse_force_without_output(force)  # the history is no file of the user's to replace
    if is_stdout(output):
        output = None
    fmt = (HEALTH if health_check else CHECK).resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)  # before the probes: a bad --output fails at once
    if from_report is not None and python_exe is not None:
        raise BadInputError("--from-report and --python cannot be combined")
    if from_report is not None and no_frameworks:
        raise BadInputError(
            "--from-report and --no-frameworks cannot be combined (a saved report is replayed "
            "as it was recorded)"
        )
    if (drain or node_name is not None) and not health_check:
        raise BadInputError("--drain and --node go with --health-check")
    if node_name is not None:
        from gpudoctor.fleet.hostlist import check_node_name

        # An unset $NODE in a Prolog gives --node '': that must not mean "this node".
        check_node_name(node_name, "--node")
    remote = partition is not None or nodelist is not None
    if since_last_good and (from_report is not None or remote or health_check):
        raise BadInputError(
            "--since-last-good compares this machine now with its own history: not with "
            "--from-report, --partition/--nodelist or --health-check"
        )
    if not health_check and not defaulted("history_dir"):  # the gate notes it instead
        _refuse_unread_history_dir(from_report is not None or remote, no_history, since_last_good)
    if remote:
        _check_remote_flags(partition, nodelist, from_report=from_report, health_check=health_check)
    else:
        # srun's options: a local check would drop them without a word
        for param, flag in _REMOTE_ONLY:
            if not defaulted(param):
                raise BadInputError(f"{flag} goes with --partition or --nodelist")
    if from_report is not None and since is not None:
        raise BadInputError(
            "--from-report and --since cannot be combined (a saved report is replayed with the "
            "kernel-log window it was recorded with)"
        )
    if from_report is not None and not defaulted("timeout_s"):
        raise BadInputError(
            "--from-report and --timeout cannot be combined (a saved report is replayed: "
            "nothing is probed)"
        )
    if health_check:
        _note_unused_in_gate(drain=drain)
    window_s = _window(since)
    asked: Future[ComputeNode | SlurmUnavailableError | None] | None = None
    if from_report is not None:
        report = _replayed_report(from_report)
    elif remote:
        report = _remote_report(
            partition,
            nodelist,
            _node_argv(
                node_command,
                python_exe,
                timeout_s=timeout_s,
                frameworks=not no_frameworks,
                since=since,
            ),
            timeout_s=remote_timeout_s,
            immediate_s=immediate_s,
        )
    elif health_check:
        if drain:  # SLURM is asked while the probes run: its answer can take up to 5 s
            node_name = node_name if node_name is not None else _this_node()
            asked = _start_slurm_query(node_name)
        report = _probed_report(
            None, timeout_s=timeout_s, frameworks=False, cuda=False, window_s=window_s
        )
    else:
        report = _probed_report(
            python_exe,
            timeout_s=timeout_s,
            frameworks=not no_frameworks,
            window_s=window_s,
            fmt=fmt,
        )
    if ib_rate is not None:
        report = _with_ib_rate(report, ib_rate)
    if health_check:
        return _health_gate(
            report, fmt, output, force, drain=drain, node_name=node_name, asked=asked
        )

    from gpudoctor import kb
    from gpudoctor.model.redact import redact
    from gpudoctor.rules import diagnose

    if not no_redact and (fmt != "text" or output is not None):
        # Before diagnosing: evidence and fixes quote UUIDs and paths, and must be redacted too.
        # The node it ran on stays: the person chose it, and a caller must see where.
        ran_on = report.site.remote if report.site is not None else None
        report = redact(report, user_names=_current_user())
        if ran_on is not None:
            from gpudoctor.fleet.remote import with_remote

            report = with_remote(report, ran_on)
    diagnosis = diagnose(report, kb.load())
    color = fmt == "text" and use_color(to_file=output is not None)
    text = CHECK.render(fmt, report, diagnosis, verbose=verbose, color=color)
    if since_last_good and diagnosis.worst >= Severity.ERROR:
        from gpudoctor.cli.changes import since_last_good_text

        text = since_last_good_text(text, fmt, report, diagnosis, history_dir)
    emit(text, output, force=force)
    # Only this machine's own checks are its history: not a replayed or a remote report.
    if from_report is None and not remote and keeping(no_history):
        keep_check(report, diagnosis, history_dir)
    return int(exit_code_for(diagnosis, strict=strict))


_GATE_UNUSED = (
    ("python_exe", "--python"),
    ("verbose", "--verbose"),
    ("strict", "--strict"),
    ("history_dir", "--history-dir"),
)
"""The full check's options that change nothing in --health-check (which probes no framework,
judges errors only, prints one line and keeps nothing)."""


def _note_unused_in_gate(*, drain: bool) -> None:
    """Name on standard error what the gate takes but does nothing with: not refused (a Prolog
    that exits 2 drains its node), but not dropped without a word either."""
    unused = [flag for param, flag in _GATE_UNUSED if not defaulted(param)]
    if not drain and not defaulted("node_name"):
        unused.append("--node without --drain")
    if not defaulted("force") and defaulted("output"):
        unused.append("--force without --output")
    if unused:
        click.echo(
            "gpudoctor health: note: not used by --health-check (the driver and NVML only, "
            f"errors only, nothing kept): {', '.join(unused)}",
            err=True,
        )


def _refuse_unread_history_dir(elsewhere: bool, no_history: bool, since_last_good: bool) -> None:
    """--history-dir where nothing is kept there or read from it: 'check --from-report R
    --history-dir D' exited 0, and D was never looked at."""
    if elsewhere:
        raise BadInputError(
            "--history-dir goes with a check of this machine: a replayed (--from-report) or "
            "remote (--partition/--nodelist) report is not kept"
        )
    if no_history and not since_last_good:
        raise BadInputError(
            "--history-dir and --no-history: nothing is kept there, and nothing read from it "
            "without --since-last-good"
        )


_REMOTE_ONLY = (
    ("remote_timeout_s", "--remote-timeout"),
    ("immediate_s", "--immediate"),
    ("node_command", "--command"),
)


def _check_remote_flags(
    partition: str | None, nodelist: str | None, *, from_report: Path | None, health_check: bool
) -> None:
    """Refuse what a check on a compute node cannot mean, and names SLURM would misread."""
    from gpudoctor.fleet.hostlist import expand
    from gpudoctor.fleet.remote import check_partition_name

    if from_report is not None:
        raise BadInputError("--partition/--nodelist run a new check: not with --from-report")
    if health_check:
        raise BadInputError(
            "--partition/--nodelist run the full check on a compute node: not with "
            "--health-check (the gate runs on the node itself)"
        )
    if partition is not None:
        check_partition_name(partition)
    if nodelist is not None:
        expand(nodelist, "--nodelist")  # capped: a bad or huge hostlist fails here, not in sinfo


def _window(since: str | None) -> float:
    """The kernel-log look-back window in seconds (``--since``, default 72 h)."""
    import time

    from gpudoctor.cli.options import parse_since
    from gpudoctor.probe.kernel_log import DEFAULT_WINDOW_S

    return DEFAULT_WINDOW_S if since is None else parse_since(since, time.time())


def _with_ib_rate(report: Report, rate: float) -> Report:
    """The report with the administrator's expected InfiniBand rate recorded (it replays)."""
    import dataclasses

    from gpudoctor.model.report import HardwareInfo

    hardware = report.hardware or HardwareInfo()
    return dataclasses.replace(
        report, hardware=dataclasses.replace(hardware, ib_expected_rate_gbps=rate)
    )


def _node_argv(
    node_command: str | None,
    python_exe: Path | None,
    *,
    timeout_s: float,
    frameworks: bool,
    since: str | None = None,
) -> list[str]:
    """The check the node runs: JSON, unredacted (redaction happens here), the same limits."""
    import shlex

    try:
        base = (
            shlex.split(node_command)
            if node_command is not None
            else [sys.executable, "-m", "gpudoctor"]
        )
    except ValueError as exc:
        raise BadInputError(f"--command {node_command!r}: {exc}") from None
    if not base:
        raise BadInputError("--command is empty")
    argv = [*base, "check", "--format", "json", "--no-redact", "--timeout", f"{timeout_s:g}"]
    if not frameworks:
        argv.append("--no-frameworks")
    if since is not None:
        argv += ["--since", since]
    if python_exe is not None:
        argv += ["--python", str(python_exe.absolute())]
    return argv


def _remote_report(
    partition: str | None,
    nodelist: str | None,
    argv: list[str],
    *,
    timeout_s: float,
    immediate_s: int,
) -> Report:
    """The report of one compute node, checked through srun; where it ran said on stderr."""
    from gpudoctor.fleet.remote import Where, find_nodes, run_check_on_one_of
    from gpudoctor.model.inert import inert

    # Node names, states and srun's words come from sinfo and srun: shown inert, as errors are
    def busy(where: Where, why: str) -> None:
        said = inert(why.split(" (try again", 1)[0], one_line=True)
        click.echo(f"gpudoctor check: {said}; trying another node", err=True)

    def announce(where: Where) -> None:
        gpus = (
            "the job asks for one GPU (--gres=gpu:1)"
            if where.gpu
            else "no GPU GRES there: the job gets no GPU"
        )
        part = f"partition {where.partition}" if where.partition else "no partition"
        said = inert(f"{where.node} ({part}, {where.state}; {gpus})", one_line=True)
        click.echo(
            f"gpudoctor check: running on node {said} through srun, at most {timeout_s:g} s",
            err=True,
        )

    wheres = find_nodes(partition=partition, nodelist=nodelist)
    return run_check_on_one_of(
        wheres, argv, announce=announce, on_busy=busy, timeout_s=timeout_s, immediate_s=immediate_s
    )


def _replayed_report(path: Path) -> Report:
    """The saved report at ``path``, or on standard input for ``-``."""
    from gpudoctor.userfiles.read import load_report

    if str(path) != "-":  # standard input by name; /dev/stdin is read_capped's to spot
        return load_report(path)
    if sys.stdin.isatty():
        raise BadInputError(STDIN_IS_A_TERMINAL)
    return load_report(path)  # standard input, read up to the same size limit


def _health_gate(
    report: Report,
    fmt: str,
    output: Path | None,
    force: bool,
    *,
    drain: bool,
    node_name: str | None,
    asked: Future[ComputeNode | SlurmUnavailableError | None] | None = None,
) -> int:
    """One line for the scheduler's log; exit 1 on an error in the driver, NVML or a GPU.

    A Prolog treats a non-zero exit as the signal (and must not call scontrol); a
    HealthCheckProgram is run with --drain and acts itself. ``asked``: SLURM's answer about
    the node, asked while the probes ran (:func:`_start_slurm_query`); else asked now.
    """
    from gpudoctor import kb
    from gpudoctor.fleet.gate import gate_findings
    from gpudoctor.model.health import HealthResult
    from gpudoctor.model.inert import inert
    from gpudoctor.rules import diagnose

    if not drain:  # a Prolog must not call SLURM's commands: no GRES to compare with
        errors = gate_findings(diagnose(report, kb.load()).findings)
        result = HealthResult(errors=errors, created_at=report.created_at)
        emit(HEALTH.render(fmt, result), output, force=force, note=None)
        return int(ExitCode.PROBLEMS if errors else ExitCode.OK)
    name = node_name if node_name is not None else _this_node()
    answer = asked.result() if asked is not None else _ask_slurm(name)
    if answer is not None and not isinstance(answer, SlurmUnavailableError):
        report = _with_node_gres(report, answer)
    errors = gate_findings(diagnose(report, kb.load()).findings)
    action = _act(errors, name, answer)
    click.echo(f"gpudoctor health: {inert(action.message, one_line=True)}", err=True)
    result = HealthResult(
        errors=errors,
        created_at=report.created_at,
        action=action.action,
        drain_reason=action.reason or None,
        node=name,
        slurm=action.slurm,
        message=action.message,
    )
    emit(HEALTH.render(fmt, result), output, force=force, note=None)
    return int(ExitCode.PROBLEMS if errors else ExitCode.OK)


def _ask_slurm(name: str) -> ComputeNode | SlurmUnavailableError | None:
    """The node's state, reason and GRES in one bounded sinfo (None: SLURM does not know it),
    or why SLURM could not answer."""
    from gpudoctor.fleet import slurm

    try:
        return slurm.node_gres_state(name, timeout_s=slurm.GATE_QUERY_TIMEOUT_S)
    except SlurmUnavailableError as exc:
        return exc


def _in_thread(name: str, call: Callable[[], T]) -> Future[T]:
    """``call()`` in a daemon thread, so that a bounded SLURM query runs beside the probes
    instead of after them (a daemon: an executor would hold the exit until it answered); an
    exception it raises is raised by ``result()``, where the caller waits for it."""
    import threading

    future: Future[T] = Future()

    def work() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future


def _start_slurm_query(name: str) -> Future[ComputeNode | SlurmUnavailableError | None]:
    """:func:`_ask_slurm` beside the gate's probes (its sinfo is bounded at 5 s)."""
    return _in_thread("gpudoctor-gate-sinfo", lambda: _ask_slurm(name))


def _with_node_gres(report: Report, node: ComputeNode) -> Report:
    """The report with SLURM's answer for this node in its site section (the live answer
    replaces one a replayed report recorded: the gate judges the node as it is now)."""
    import dataclasses

    from gpudoctor.fleet.slurm import node_gres_command
    from gpudoctor.model.report import SiteInfo, SlurmNodeGres

    answer = SlurmNodeGres(
        name=node.node.name,
        state=node.node.state,
        gres=node.gres,
        command=node_gres_command(node.node.name),
    )
    site = report.site if report.site is not None else SiteInfo()
    return dataclasses.replace(report, site=dataclasses.replace(site, slurm_node=answer))


def _act(
    errors: Sequence[Finding], name: str, asked: ComputeNode | SlurmUnavailableError | None
) -> GateDecision:
    """Drain or resume the node SLURM described; what was done (or why not).

    SLURM that cannot answer is no bad input here: the exit status stays the node's health,
    and the decision says why nothing was done. Each sinfo or scontrol gets a few seconds, so
    that the gate ends well within SLURM's limit for a HealthCheckProgram.
    """
    from gpudoctor.fleet import slurm
    from gpudoctor.fleet.gate import decide, unreachable

    if isinstance(asked, SlurmUnavailableError):
        return unreachable(name, asked)
    decision = decide(errors, asked.node if asked is not None else None, name)
    try:
        if decision.action == "drain":
            slurm.drain(name, decision.reason, timeout_s=slurm.GATE_QUERY_TIMEOUT_S)
        elif decision.action == "resume":
            slurm.resume(name, timeout_s=slurm.GATE_QUERY_TIMEOUT_S)
    except slurm.SlurmUnavailableError as exc:
        return unreachable(name, exc, decision.action)
    return decision


def _this_node() -> str:
    """The SLURM node name: slurmd sets SLURMD_NODENAME for health checks and prologs."""
    import os
    import socket

    from gpudoctor.fleet.hostlist import check_node_name

    name = os.environ.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]
    return check_node_name(name, "this node's name ($SLURMD_NODENAME or the host name)")


def _probed_report(
    python_exe: Path | None,
    *,
    timeout_s: float,
    frameworks: bool,
    cuda: bool = True,
    window_s: float | None = None,
    fmt: str | None = None,
) -> Report:
    """Probe this machine (the frameworks of ``python_exe``), showing progress on a terminal;
    ``fmt``: the format the report will be rendered in, whose renderer loads meanwhile."""
    import dataclasses

    from gpudoctor.cli.probe_progress import make_probe_progress
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.collect import planned_probes, result_of, settle, start_collect

    # Absolute, not resolved: a name without a slash ("./python" is given as "python")
    # would be looked up on PATH, and resolving a venv's symlink would leave the venv.
    interpreter = str(python_exe.absolute()) if python_exe else sys.executable
    if python_exe is not None:
        from gpudoctor.probe.interpreter import check_interpreter

        problem = check_interpreter(interpreter, timeout_s=min(timeout_s, 20.0))
        if problem is not None:
            raise BadInputError(f"--python {python_exe}: {problem}")
    progress = make_probe_progress(
        planned_probes(frameworks=frameworks, cuda=cuda), sys.stderr, timeout_s=timeout_s
    )
    try:
        # Start the probe children first; the imports below overlap with them.
        ctx = ProbeContext(python=interpreter, timeout_s=timeout_s)
        if window_s is not None:
            ctx = dataclasses.replace(ctx, log_window_s=window_s)
        pending = start_collect(
            ctx,
            frameworks=frameworks,
            on_done=progress.done if progress is not None else None,
            cuda=cuda,
        )
        try:
            cluster = _start_cluster_query() if cuda else None
            _load_while_probing(fmt)
            report = result_of(pending)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: the probes' clean-up first
            settle(pending)
            raise
        return _with_cluster(report, result_of(cluster) if cluster is not None else None)
    finally:
        if progress is not None:  # also on Ctrl-C: the line is erased and the cursor shown
            progress.close()


def _load_while_probing(fmt: str | None) -> None:
    """Load what the diagnosis and the output need while the probe children run, where this
    process only waits: the rules, the knowledge base (about 30 ms of TOML) and the renderer of
    ``fmt`` (rich, for text). Nothing changes but when it is loaded: a knowledge base that does
    not load raises again at the diagnosis, as it always did."""
    import gpudoctor.render
    import gpudoctor.rules
    from gpudoctor import kb

    with contextlib.suppress(Exception):  # raised again, and said, where it is used
        kb.load()
        if fmt is not None:
            gpudoctor.render.preload(fmt)


def _start_cluster_query() -> Future[SlurmCluster | None] | None:
    """Ask SLURM for its partitions alongside the probes, where a login node would."""
    from gpudoctor.fleet.slurm import asks_as_login_node, query_cluster
    from gpudoctor.model.report import SlurmCluster

    if not asks_as_login_node():
        return None

    def ask() -> SlurmCluster | None:
        try:
            return query_cluster()
        except Exception as exc:  # a bug here must not cost the report
            return SlurmCluster(reachable=False, message=f"{type(exc).__name__}: {exc}")

    return _in_thread("gpudoctor-sinfo", ask)


def _with_cluster(report: Report, cluster: SlurmCluster | None) -> Report:
    """The report with the cluster's answer attached to its site section."""
    if cluster is None or report.site is None:
        return report
    import dataclasses

    return dataclasses.replace(report, site=dataclasses.replace(report.site, slurm=cluster))
