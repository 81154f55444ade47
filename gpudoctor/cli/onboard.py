"""`gpudoctor onboard`: check here, plan, create the environment, verify it, write a summary."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, write_output
from gpudoctor.cli.options import (
    FilePath,
    FiniteFloatRange,
    NonEmptyPath,
    dash_aware_path,
    debug_option,
)
from gpudoctor.errors import BadInputError, ExitCode, GpudoctorError
from gpudoctor.model.times import utc_stamp
from gpudoctor.onboard.plan import (
    CREATE_TIMEOUT_S,
    INSTALL_TIMEOUT_S,
    LOG_DIR,
    MARKER,
    STEPS_AFTER_CHECK,
    TOOLS,
    VERIFY_TIMEOUT_S,
    Facts,
    Finished,
    Plan,
    Request,
    Step,
    check_step,
    make_plan,
)
from gpudoctor.onboard.run import (
    Heard,
    StepFailed,
    StepResult,
    execute,
    keep_log,
    log_text,
    run_step,
)
from gpudoctor.onboard.summary import StepLine, Summary, html, markdown

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from gpudoctor.model.findings import Finding
    from gpudoctor.model.report import Report

NOT_A_TERMINAL = (
    "onboard installs an environment: confirm on a terminal, or pass --yes "
    "(--dry-run shows every step first)"
)
MAX_STEP_TIMEOUT_S = 24 * 3600
"""The longest --create-timeout, --install-timeout and --verify-timeout taken: a day, as
fleet run's --node-timeout."""
NODE_QUERY_TIMEOUT_S = 5.0
"""The sinfo onboard asks itself: for --partition before the check, and the dry run's for the
partition's node states (check's sinfo answered just before)."""
DEFAULT_PREFIX = "gpudoctor-env"
"""The environment's folder, under the current directory (a project's own folder, or the
scratch space a cluster's documentation names: --prefix)."""


def _find_tool(tool: str | None) -> tuple[str, str | None]:
    """The tool asked for (else the first of uv, conda, pixi installed); its path or None."""

    def which(name: str) -> str | None:
        found = shutil.which(name)
        if found is None and name == "uv":  # uv installed beside this Python (pip install uv)
            beside = Path(sys.executable).with_name("uv")
            found = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
        return found

    if tool is not None:
        name = tool.lower()
        if name not in TOOLS:
            raise BadInputError(f"--tool {tool}: use {' or '.join(TOOLS)}")
        return name, which(name)
    for name in TOOLS:
        path = which(name)
        if path is not None:
            return name, path
    return "uv", None


def _pending_reason(job: str) -> str | None:
    """Why SLURM keeps ``job`` waiting (squeue, through fleet/slurm.py)."""
    from gpudoctor.fleet.slurm import pending_reason

    return pending_reason(job)


def _verify_job_step(
    partition: str, command: tuple[str, ...], *, time_limit: str
) -> tuple[str, ...]:
    """verify on one GPU of the partition, as a job step (the srun line fleet/slurm.py spells)."""
    from gpudoctor.fleet.slurm import job_step

    return job_step(partition, command, time_limit=time_limit, job_name="gpudoctor-verify")


def _partition_minutes(partition: str) -> int | None:
    """The partition's MaxTime in minutes, as sinfo says it (None: no limit, or no answer)."""
    from gpudoctor.fleet.slurm import partition_max_minutes

    return partition_max_minutes(partition)


def default_spec(direct_url: str | None = None) -> str:
    """Where this gpudoctor came from, as pip recorded it (a checkout, a wheel), so the new
    environment gets the same code; a release's name and version only when pip recorded none
    (a plain name would also fetch whatever an index holds under it)."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    if direct_url is None:
        try:
            direct_url = metadata.distribution("gpudoctor").read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            direct_url = None
    try:
        url = str(json.loads(direct_url)["url"]) if direct_url else ""
    except (ValueError, KeyError, TypeError):
        url = ""
    parsed = urlparse(url)
    if parsed.scheme == "file" and parsed.path:
        return unquote(parsed.path)
    return f"gpudoctor=={__version__}"


def _check_prefix(prefix: Path, force: bool) -> None:
    """Refuse a prefix that holds anything, unless --force (then onboard resumes in it), or
    that cannot be made: said now, not after the check and the plan."""
    if prefix.is_symlink() or (prefix.exists() and not prefix.is_dir()):
        raise BadInputError(f"--prefix {prefix}: not a folder")
    existing = next(p for p in (prefix, *prefix.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        what = "is not a folder" if not existing.is_dir() else "is not writable"
        raise BadInputError(f"--prefix {prefix}: cannot be created ({existing} {what})")
    # onboard's own logs alone (a run stopped at its check step) are no one else's files
    if prefix.is_dir() and any(p.name != LOG_DIR for p in prefix.iterdir()) and not force:
        raise BadInputError(
            f"--prefix {prefix} exists and is not empty; choose another, or --force to reuse it "
            "(onboard then resumes there)"
        )


def _check_plan_options(
    tool: str,
    framework: str,
    python: str | None,
    torch: str | None,
    tensorflow: str | None,
    torch_index_url: str | None,
    driver: str | None,
    cc: str | None,
) -> None:
    """The options onboard hands to make-env, checked as make-env checks them (one line, exit
    2), before check runs and before --dry-run prints a plan whose step 2 would refuse them."""
    from gpudoctor.envplan.plan import check_request
    from gpudoctor.envplan.target import CPU_COMMAND, target_from_args
    from gpudoctor.envplan.types import Request as PlanRequest
    from gpudoctor.kb import load

    request = PlanRequest.from_options(
        framework=framework,
        fmt=tool,  # the manifest's form is the tool's: uv, conda or pixi
        python=python,
        torch=torch,
        tensorflow=tensorflow,
        torch_index_url=torch_index_url,
    )
    kb = load()
    # onboard has no --cpu: its messages name the make-env command that has
    check_request(kb, dataclasses.replace(request, cpu_way=CPU_COMMAND))
    if driver is not None or cc is not None:
        target_from_args(kb, driver=driver, cc=cc, cpu_way=CPU_COMMAND)


def _facts(report: Report, findings: tuple[Finding, ...]) -> Facts:
    """What the plan needs to know of check's report."""
    from gpudoctor.envplan.cluster import modules_to_unload
    from gpudoctor.envplan.target import other_gpus_words
    from gpudoctor.model.derived import gpus, slurm_not_configured
    from gpudoctor.model.findings import Severity
    from gpudoctor.model.slurm import gpu_partitions

    site = report.site
    slurm = site.slurm if site is not None else None
    said = slurm.message if slurm is not None and not slurm.reachable else None
    down = slurm is not None and not slurm.reachable
    unconfigured = slurm_not_configured(slurm)
    parts = tuple(gpu_partitions(slurm))
    partitions = list(dict.fromkeys(p.name for p in parts))
    by_name: dict[str, list[int | None]] = {}
    for part in parts:
        by_name.setdefault(part.name, []).append(part.nodes_usable)
    unusable = tuple(name for name, counts in by_name.items() if all(c == 0 for c in counts))
    closed = {p.name: p.available for p in parts if p.available and p.available != "up"}
    problems = tuple(
        f"{f.id}: {f.title}" for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)
    )
    from gpudoctor.model.redact import REDACTED

    return Facts(
        # check's JSON is redacted: its "<redacted>" is no name to show the person
        hostname=None if report.host.hostname == REDACTED else report.host.hostname,
        has_gpu=bool(gpus(report)),
        in_job=site is not None and site.slurm_job is not None,
        gpu_partitions=tuple(partitions),
        idle_less_partitions=unusable,
        closed_partitions=tuple(closed.items()),
        # sinfo that names no configuration is no cluster, only its commands: no controller
        # will ever answer, so there is nothing to wait for (a workstation with slurm-client)
        slurm_unanswered=(said or "no answer") if down and not unconfigured else None,
        slurm_unconfigured=said if unconfigured else None,
        partitions=(
            tuple(dict.fromkeys(p.name for p in slurm.partitions))
            if slurm is not None and slurm.reachable
            else None
        ),
        # the modules make-env's header says to unload: those that put CUDA, cuDNN or NCCL on
        # LD_LIBRARY_PATH, where they would shadow the libraries the new environment brings
        shadowing_modules=modules_to_unload(report),
        problems=problems,
        other_gpus=other_gpus_words(report),
    )


def _diagnosed(report: Report) -> tuple[Finding, ...]:
    from gpudoctor import kb
    from gpudoctor.rules import diagnose

    return diagnose(report, kb.load()).findings


PLAN_WARNING = "warning: "
"""How make-env says a warning about the plan, one per line on stderr."""


def plan_warnings(result: StepResult) -> tuple[str, ...]:
    """The warnings make-env printed in the plan step (none for another step)."""
    if result.step.name != "plan":
        return ()
    return tuple(
        line.removeprefix(PLAN_WARNING).strip()
        for line in result.stderr.splitlines()
        if line.startswith(PLAN_WARNING)
    )


STILL_RUNNING_S = 30.0
"""How often a step still running says so off a terminal (pipes, logs, CI)."""


class _Lines:
    """Progress as plain lines on stderr (pipes, logs, CI)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[StepResult] = []
        self._ended = threading.Event()
        self._ticker: threading.Thread | None = None

    def started(self, index: int, total: int, step: Step) -> None:
        click.echo(f"onboard: [{index}/{total}] {step.title}: {step.command}", file=self.out)

    def running(self, index: int, total: int, step: Step, last: Callable[[], str]) -> None:
        """A line every STILL_RUNNING_S while the step runs, with the last line it printed.

        Only the start line was shown until the step ended: in a batch job's log or a CI log a
        10-minute uv download (or a hung one) showed nothing for all of it. One line per
        interval, its output cut to 200 characters, until the step ends (its time limit ends
        it at the latest).
        """
        self._end()
        ended = self._ended = threading.Event()
        start = time.monotonic()

        def tick() -> None:
            while not ended.wait(STILL_RUNNING_S):
                said = last()
                tail = f"last: {said}" if said else "nothing printed yet"
                click.echo(
                    f"onboard: step {index}/{total} {step.name} still running, "
                    f"{time.monotonic() - start:.0f} s; {tail}",
                    file=self.out,
                )

        self._ticker = threading.Thread(target=tick, name="onboard-still-running", daemon=True)
        self._ticker.start()

    def _end(self) -> None:
        """Stop the running step's ticker, and wait for it: no line after the step's own."""
        self._ended.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    def finished(self, index: int, total: int, result: StepResult) -> None:
        self._end()
        self.results.append(result)
        word = "done" if result.ok else "FAILED"
        click.echo(f"onboard: [{index}/{total}] {word} in {result.duration_s:.1f} s", file=self.out)
        for warning in plan_warnings(result):
            click.echo(f"onboard: warning: {warning}", file=self.out)

    def said(self, index: int, total: int, step: Step, line: str) -> None:
        """What srun says of the verify job: queued (and why), allocated."""
        click.echo(f"onboard: [{index}/{total}] {line}", file=self.out)

    def stopped(self, index: int, total: int, step: Step, log: str | None) -> None:
        """Which step Ctrl-C stopped, and where its log is."""
        self._end()
        where = f"; its log: {log}" if log else ""
        click.echo(
            f"onboard: step {index}/{total} {step.name} ({step.title}) stopped{where}",
            file=self.out,
        )

    def close(self) -> None:
        """Stop a step's ticker still going (an error between its start and end)."""
        self._end()


class _Live(_Lines):
    """Progress on a terminal: a spinner with the running step, a line for each one done.

    The spinner is up only while a step runs, and writes to the terminal itself. Started once
    for the whole run, rich's live display took stderr over: the plan's command lines came out
    cut at the terminal's width (a command copied from it broke), the prompt lost its "[y/N]"
    (read as markup) and "onboard: the environment is ready" was written on the spinner's line.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        from rich.console import Console

        self.console = Console(file=out)
        self.progress: Progress | None = None
        self.title = ""
        self.task: TaskID | None = None

    def started(self, index: int, total: int, step: Step) -> None:
        from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

        from gpudoctor.liveline import fitted_text

        self._stop()
        self.progress = Progress(
            SpinnerColumn(),
            fitted_text(self.console, reserve=12),  # the spinner and the elapsed time
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.title = f"[{index}/{total}] {step.title}"
        self.task = self.progress.add_task(self.title, total=None)
        self.progress.start()

    def running(self, index: int, total: int, step: Step, last: Callable[[], str]) -> None:
        """Nothing more: the spinner and its elapsed time show the step is still going."""

    def said(self, index: int, total: int, step: Step, line: str) -> None:
        """The line srun wrote, above the spinner as it is (not cut, no markup), and on the
        spinner: a job waiting in the queue is then seen waiting, not taken for a hung step."""
        if self.progress is None or self.task is None:
            return
        from rich.text import Text

        self.progress.console.print(Text(f"  {line}"), soft_wrap=True, highlight=False)
        self.progress.update(self.task, description=f"{self.title}: {line.removeprefix('srun: ')}")

    def stopped(self, index: int, total: int, step: Step, log: str | None) -> None:
        self._stop()
        super().stopped(index, total, step, log)

    def finished(self, index: int, total: int, result: StepResult) -> None:
        self._stop()
        self.results.append(result)
        mark = "✓" if result.ok else "✗"
        click.echo(
            f"{mark} [{index}/{total}] {result.step.title} ({result.duration_s:.1f} s)",
            file=self.out,
        )
        for warning in plan_warnings(result):
            click.echo(f"  warning: {warning}", file=self.out)

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _refuse_unknown_partition(partition: str) -> None:
    """A --partition sinfo does not list (or lists without GPUs), refused before the check:
    'onboard -p gpux' said 'no such partition' only after check's 5 to 6 s (the plan reads
    the partitions from check's report). sinfo is asked here for at most NODE_QUERY_TIMEOUT_S;
    where it does not answer, or is not here, or this runs inside a job, the plan decides as
    before (a saved report, --from-report, may come from another cluster: not asked)."""
    from gpudoctor.fleet import slurm
    from gpudoctor.model.slurm import gpu_partitions
    from gpudoctor.onboard.plan import refuse_partition

    if not slurm.asks_as_login_node():
        return
    cluster = slurm.query_cluster(timeout_s=NODE_QUERY_TIMEOUT_S)
    if cluster is None or not cluster.reachable:
        return
    names = tuple(dict.fromkeys(p.name for p in cluster.partitions))
    gpu = tuple(dict.fromkeys(p.name for p in gpu_partitions(cluster)))
    refuse_partition(partition, names, gpu)


def _no_node_free(plan: Plan, facts: Facts, from_report: str | None) -> str:
    """Why make-env's node check (step 2) would fail now in a partition whose nodes are all
    allocated ('' when one is idle or mixed, or the plan says so already). sinfo's %F in
    check's report counts an allocated node as usable: the dry run printed the plan without a
    word, and step 2's srun --immediate then failed at once. Asked only where this run's check
    found sinfo answering (a saved report may come from another machine)."""
    partition = plan.target.partition
    if (
        not plan.node_check
        or partition is None
        or from_report is not None
        or facts.partitions is None
        or plan.target.unchecked is not None
        or partition in facts.idle_less_partitions
        or partition in dict(facts.closed_partitions)
    ):
        return ""
    from gpudoctor.fleet.remote import NodeUnavailableError, find_nodes

    try:
        find_nodes(partition=partition, nodelist=None, timeout_s=NODE_QUERY_TIMEOUT_S)
    except NodeUnavailableError as exc:
        said = str(exc).split("; try again later", 1)[0]
        return (
            f"{said}: make-env's node check (step 2) fails until one is (--driver VERSION "
            "--cc X.Y plans without it)"
        )
    except GpudoctorError:  # sinfo's own trouble: step 2 says it, as before
        return ""
    return ""


def _srun_missing(plan: Plan) -> str:
    """What stops a plan for a partition on a login node without srun on PATH ('' if none)."""
    if plan.target.partition is None or shutil.which("srun") is not None:
        return ""
    uses = "make-env's node check and the verify step run" if plan.node_check else "verify runs"
    return (
        f"srun not found on PATH: {uses} on partition {plan.target.partition} through srun; "
        "put srun on PATH (SLURM's client commands; Debian's package slurm-client) and run "
        "onboard again"
    )


def _print_plan(plan: Plan, facts: Facts, check: Step | None, out: TextIO) -> None:
    """Every step and its command, in order."""
    steps = ((check,) if check else ()) + plan.steps
    click.echo(
        f"onboard: target {plan.target.text} ({plan.target.why}); tool {plan.tool}", file=out
    )
    for n, step in enumerate(steps, 1):
        click.echo(f"  {n}. {step.title}", file=out)
        for line in step.shown:
            click.echo(f"     {line}", file=out)
    click.echo(f"  then: {plan.activate}", file=out)
    if plan.target.unchecked is not None:
        # taken as given: a typo would otherwise surface only as a failed step minutes later
        click.echo(
            f"onboard: warning: partition {plan.target.partition} could not be checked "
            f"({plan.target.unchecked}): its name and GPUs are taken as given; a name SLURM "
            "does not know fails the first step that asks it (make-env's node check, or the "
            "verify job)",
            file=out,
        )
    closed = dict(facts.closed_partitions).get(plan.target.partition or "")
    if closed is not None:
        # srun queues the verify job in a down partition and refuses it in a drained or
        # inactive one: either way only after the environment was created, with no word why
        verify = next(s for s in plan.steps if s.name == "verify")
        after = (
            "the verify step waits in the queue until an admin sets it up again (it is "
            f"stopped after {verify.timeout_s:g} s, {verify.timeout_option}; Ctrl-C cancels "
            "the job)"
            if closed == "down"
            else "srun refuses the verify job (Required partition not available), after the "
            "environment is created"
        )
        word = {"drain": "drained", "inact": "inactive"}.get(closed, closed)
        click.echo(
            f"onboard: warning: partition {plan.target.partition} is {word} (sinfo's AVAIL "
            f"{closed}): SLURM starts no job there now; {_node_check_first(plan, 'it does')}"
            f"{after}",
            file=out,
        )
    elif plan.target.partition in facts.idle_less_partitions:
        # srun queues the verify job: it would wait, with the spinner, until a node is back
        click.echo(
            f"onboard: warning: no node of partition {plan.target.partition} can start a job "
            f"now (all drained, down or not responding): {_node_check_first(plan, 'one is back')}"
            "the verify step waits in the queue until one is back",
            file=out,
        )


def _node_check_first(plan: Plan, until: str) -> str:
    """What a partition that starts no job now does to step 2, when make-env checks a node:
    its srun --immediate fails at once, so a warning that spoke only of the verify step
    promised a wait (or a refusal after the environment was created) that never came."""
    if not plan.node_check:
        return ""
    return (
        f"make-env's node check (step 2) fails until {until} (--driver VERSION --cc X.Y plans "
        "without it), and then "
    )


def _summary(plan: Plan, facts: Facts, results: list[StepResult], check: Step | None) -> Summary:
    """The summary's content, from the plan and the steps that ran."""
    done = {r.step.name: r for r in results}
    steps = ((check,) if check else ()) + plan.steps
    lines = tuple(
        StepLine(
            title=s.title,
            # as run (the create step's CONDA_OVERRIDE_CUDA read from the manifest)
            command=done[s.name].step.command if s.name in done else s.command,
            status="passed" if s.name in done or s.name in ("summary",) else "not run",
            duration_s=done[s.name].duration_s if s.name in done else None,
        )
        for s in steps
        if s.name != "finish"
    )
    verify = done.get("verify")
    return Summary(
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        hostname=facts.hostname,
        target=plan.target.text,
        why_target=plan.target.why,
        problems=facts.problems,
        tool=plan.tool,
        prefix=plan.prefix,
        manifest=plan.manifest,
        env_dir=plan.env_dir,
        activate=plan.activate,
        steps=lines,
        verify_output=(verify.stdout.strip() if verify else ""),
        plan_warnings=tuple(w for r in results for w in plan_warnings(r)),
        job_script=plan.job_script,
        run_line=plan.run_line,
        logs=plan.log_dir,
    )


@click.command("onboard")
@click.option(
    "--partition", "-p", default=None, help="Make the environment for this SLURM partition."
)
@click.option(
    "--tool",
    default=None,
    help="uv, conda or pixi (default: uv where it is installed, else conda, else pixi).",
)
@click.option(
    "--prefix",
    type=NonEmptyPath(file_okay=False),
    default=DEFAULT_PREFIX,
    show_default=True,
    help="The folder for the environment, its manifest and logs; must be new or empty.",
)
@click.option(
    "--report-dir",
    "report_dir",
    type=NonEmptyPath(file_okay=False),
    default=".",
    show_default=True,
    help="Where gpudoctor-onboard.md and .html go.",
)
@click.option("--yes", "-y", is_flag=True, help="Do it without asking (needed off a terminal).")
@click.option("--dry-run", is_flag=True, help="Print every step and command; create nothing.")
@click.option(
    "--force", is_flag=True, help="Reuse a non-empty --prefix and overwrite the summary files."
)
@click.option(
    "--from-report",
    "from_report",
    type=FilePath(dir_okay=False, exists=True),
    default=None,
    callback=dash_aware_path,
    help="Use a saved `check --format json` report instead of running check.",
)
@click.option("--driver", default=None, help="Plan for another driver (the partition's nodes).")
@click.option("--cc", default=None, help="With --driver: the nodes' lowest compute capability.")
@click.option(
    "--framework",
    default="torch",
    show_default=True,
    help="torch, tensorflow or both (all, as verify spells it, pytorch and tf are accepted too).",
)
@click.option("--python", "python", default=None, help="Python X.Y (default: newest that fits).")
@click.option("--torch", "torch_version", default=None, help="PyTorch version, e.g. 2.9.")
@click.option("--tensorflow", "tf_version", default=None, help="TensorFlow version, e.g. 2.20.")
@click.option(
    "--torch-index-url",
    "torch_index_url",
    default=None,
    metavar="URL",
    help="A mirror of the PyTorch wheel index (as make-env takes it).",
)
@click.option(
    "--gpudoctor-spec",
    "gpudoctor_spec",
    default=None,
    metavar="SPEC",
    help="What to install into the environment so verify runs there (default: the checkout "
    f"or wheel this gpudoctor was installed from, else gpudoctor=={__version__}; a wheel or a "
    "folder works too).",
)
@click.option(
    "--create-timeout",
    "create_timeout_s",
    type=FiniteFloatRange(min=1, max=MAX_STEP_TIMEOUT_S),
    default=CREATE_TIMEOUT_S,
    show_default=True,
    help="Seconds the create step (uv, conda or pixi downloading the packages) may take.",
)
@click.option(
    "--install-timeout",
    "install_timeout_s",
    type=FiniteFloatRange(min=1, max=MAX_STEP_TIMEOUT_S),
    default=INSTALL_TIMEOUT_S,
    show_default=True,
    help="Seconds the install step (gpudoctor into the environment) may take.",
)
@click.option(
    "--verify-timeout",
    "verify_timeout_s",
    type=FiniteFloatRange(min=1, max=MAX_STEP_TIMEOUT_S),
    default=VERIFY_TIMEOUT_S,
    show_default=True,
    help="Seconds the verify step may take, a verify job's wait in SLURM's queue included.",
)
@debug_option
def command(
    partition: str | None,
    tool: str | None,
    prefix: str,
    report_dir: str,
    yes: bool,
    dry_run: bool,
    force: bool,
    from_report: Path | None,
    driver: str | None,
    cc: str | None,
    framework: str,
    python: str | None,
    torch_version: str | None,
    tf_version: str | None,
    torch_index_url: str | None,
    gpudoctor_spec: str | None,
    create_timeout_s: float,
    install_timeout_s: float,
    verify_timeout_s: float,
) -> int:
    """Set up deep learning for a new account: check, plan, create, verify, summarise.

    Checks this machine, chooses the target (this machine; on a login node its one GPU
    partition, or --partition), writes the environment's manifest with make-env, creates it
    (uv, conda or pixi), runs `verify --quick` inside it on the target, and writes a Markdown
    and an HTML summary with the activate line and a job script. Nothing is installed without
    a yes (a prompt on a terminal, else --yes). Exit 0 when every step passed, 1 when one
    failed (named, with its log), 2 on bad input.
    """
    for flag, value in (
        ("--partition", partition),
        ("--prefix", prefix),
        ("--driver", driver),
        ("--cc", cc),
        ("--gpudoctor-spec", gpudoctor_spec),
    ):
        if value is not None and (not value or not value.isprintable()):
            raise BadInputError(f"{flag} {value!r}: empty or control characters")
    if partition is not None:
        from gpudoctor.fleet.remote import check_partition_name

        # as check, make-env and fleet do: '-1' or 'a b' went into the plan's srun -p line
        check_partition_name(partition)
    from gpudoctor.envplan.types import FRAMEWORK_ALIASES

    # make-env's synonyms (all, pytorch, tf): onboard passes --framework on to it
    framework = FRAMEWORK_ALIASES.get(framework.lower(), framework.lower())
    if framework not in ("torch", "tensorflow", "both"):
        raise BadInputError(f"--framework {framework}: use torch, tensorflow or both")
    interactive = sys.stdin.isatty()
    if not dry_run and not yes and not interactive:
        raise BadInputError(NOT_A_TERMINAL)
    name, tool_exe = _find_tool(tool)
    missing = (
        f"{name} is not installed here: install it, or choose --tool "
        f"{' or '.join(t for t in TOOLS if t != name)}"
    )
    if tool_exe is None and not dry_run:
        raise BadInputError(missing)
    _check_plan_options(
        name, framework, python, torch_version, tf_version, torch_index_url, driver, cc
    )
    where = Path(prefix).expanduser().absolute()
    _check_prefix(where, force)
    summaries = Path(report_dir).expanduser().absolute()
    if not summaries.is_dir():
        raise BadInputError(f"--report-dir {report_dir}: no such folder")
    if not os.access(summaries, os.W_OK | os.X_OK):
        raise BadInputError(f"--report-dir {report_dir}: not writable")
    if partition is not None and from_report is None:
        _refuse_unknown_partition(partition)
    request = Request(
        gpudoctor=(sys.executable, "-m", "gpudoctor"),
        prefix=str(where),
        tool=name,
        tool_exe=tool_exe or name,
        framework=framework,
        python=python,
        torch=torch_version,
        tensorflow=tf_version,
        torch_index_url=torch_index_url,
        driver=driver,
        cc=cc,
        from_report=str(Path(from_report).absolute()) if from_report else None,
        gpudoctor_spec=gpudoctor_spec or default_spec(),
        report_dir=str(summaries),
        force=force,
        create_timeout_s=create_timeout_s,
        install_timeout_s=install_timeout_s,
        verify_timeout_s=verify_timeout_s,
        on_partition=_verify_job_step,
        partition_minutes=_partition_minutes,
    )
    for path in (summaries / n for n in ("gpudoctor-onboard.md", "gpudoctor-onboard.html")):
        check_output(path, force=force)
    err = sys.stderr
    from gpudoctor.liveline import live_terminal

    progress: _Lines = _Live(err) if live_terminal(err) and not dry_run else _Lines(err)
    try:
        return _onboard(
            request, partition, dry_run, yes, interactive, progress, missing if not tool_exe else ""
        )
    finally:
        progress.close()


def _write_log(path: Path, text: str) -> None:
    """A step's log, in its folder under the prefix (made here for a check that stopped before
    the plan made it), replacing an earlier run's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_output(path, text, force=True)


def _onboard(
    request: Request,
    partition: str | None,
    dry_run: bool,
    yes: bool,
    interactive: bool,
    progress: _Lines,
    missing_tool: str = "",
) -> int:
    check = None if request.from_report else check_step(request)
    check_json = ""
    if request.from_report is not None:
        from gpudoctor.userfiles.read import load_report

        report = load_report(Path(request.from_report))
    elif check is not None:
        # check only reads: it runs in --dry-run too, so that the plan printed is the real one
        total = 1 + STEPS_AFTER_CHECK
        progress.started(1, total, check)
        heard, start = Heard(), time.monotonic()
        progress.running(1, total, check, heard.last_line)
        # a check stopped or failed gets its log as every other step does (--dry-run makes
        # nothing, so none there): its stderr says which probe it was at
        log = None if dry_run else Path(request.prefix) / LOG_DIR / "1-check.log"
        # nor does a dry run's check keep its report in the history: that moved the last good
        # check, which `gpudoctor diff` compares against (the plan still shows the real step)
        from gpudoctor.history.store import ENV_OFF

        ran = dataclasses.replace(check, env=(*check.env, (ENV_OFF, "1"))) if dry_run else check
        try:
            result = run_step(ran, heard)
        except BaseException:
            text = heard.log(check, time.monotonic() - start)
            kept = keep_log(log, text, _write_log) if log else None
            progress.stopped(1, total, check, kept)
            raise
        progress.finished(1, total, result)
        if not result.ok:
            kept = keep_log(log, log_text(result), _write_log) if log else None
            where = f"; log: {kept}" if kept else ""
            raise StepFailed(f"step 1/{total} check ({check.title}) failed: {result.why}{where}")
        from gpudoctor.model.serialize import report_from_json

        check_json = result.stdout
        report = report_from_json(check_json)
    if report.host.os == "darwin" and partition is None:
        # the plan read as ready, and its make-env step then refused the Mac
        from gpudoctor.envplan.target import mac_refusal

        origin = "this machine" if check is not None else f"report {request.from_report}"
        raise BadInputError(mac_refusal(origin, "onboard"))
    facts = _facts(report, _diagnosed(report))
    if check is not None and facts.hostname is None:
        # the check ran here: this machine's own name, for the summary the person keeps
        facts = dataclasses.replace(facts, hostname=socket.gethostname() or None)
    plan = make_plan(request, facts, partition)
    first = 1 if check is None else 2
    total = len(plan.steps) + first - 1
    out = sys.stdout if dry_run else sys.stderr
    _print_plan(plan, facts, check, out)
    no_srun = _srun_missing(plan)
    if dry_run:
        busy = "" if no_srun else _no_node_free(plan, facts, request.from_report)
        for missing in (missing_tool, no_srun, busy):
            if missing:
                # the plan read as ready to run, and the run then stopped on this
                click.echo(f"onboard: warning: {missing}", file=out)
        return int(ExitCode.OK)
    if no_srun:
        # with --driver/--cc the environment was created (minutes) before the verify step's
        # srun failed; without them step 2's node check failed on it (exit 1, after the plan)
        raise BadInputError(no_srun)
    if (
        not yes
        and interactive
        and not click.confirm(f"Create the environment in {plan.prefix}?", default=False, err=True)
    ):
        click.echo("onboard: nothing created", err=True)
        return int(ExitCode.PROBLEMS)
    prefix, logs = Path(plan.prefix), Path(plan.log_dir)
    try:
        logs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the checks above passed, then the file system said no
        raise BadInputError(f"--prefix {prefix}: cannot create {logs} ({exc.strerror})") from None
    Path(plan.marker).unlink(missing_ok=True)  # a reused prefix is unfinished until the end
    if check is not None and check_json:
        write_output(Path(plan.check_report), check_json, force=True)
        write_output(logs / "1-check.log", log_text(progress.results[-1]), force=True)

    def in_process(step: Step) -> None:
        if step.name == "summary":
            summary = _summary(plan, facts, progress.results, check)
            md, page = plan.summary_files
            write_output(Path(md), markdown(summary), force=request.force)
            write_output(Path(page), html(summary), force=request.force)
        elif step.name == "finish":
            # a document as every other gpudoctor writes: `tool` names the writer (it named
            # uv, conda or pixi, now `env_tool`), with its version and time
            marker = Finished(
                created_at=utc_stamp(datetime.now(timezone.utc)),
                env_tool=plan.tool,
                activate=plan.activate,
            ).document(__version__)
            write_output(
                prefix / MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n", force=True
            )

    execute(
        plan.steps,
        first=first,
        total=total,
        log_dir=logs,
        write_log=_write_log,
        in_process=in_process,
        progress=progress,
        pending_reason=_pending_reason,
    )
    click.echo(f"onboard: the environment is ready: {plan.activate}", err=True)
    click.echo(f"onboard: summary in {' and '.join(plan.summary_files)}", err=True)
    return int(ExitCode.OK)
