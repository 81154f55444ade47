"""`gpudoctor fleet run` and `fleet report`: many nodes through SLURM, or reports from anywhere."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, is_stdout, write_output
from gpudoctor.cli.options import debug_option, force_option, output_option
from gpudoctor.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from gpudoctor.fleet.run import NodeOutcome
    from gpudoctor.model.findings import Diagnosis
    from gpudoctor.model.fleet import FleetReport, NotReached, Unreadable

FLEET_FORMATS = ("text", "json", "markdown", "html", "prometheus")
FLEET_SUFFIXES = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".prom": "prometheus",
}


@click.group("fleet")
def command() -> None:
    """Check every node of a SLURM cluster, or compare node reports gathered by any means.

    `fleet run` runs `gpudoctor check` on each node through srun and saves one JSON report per
    node; `fleet report DIR...` compares saved reports: verdicts, findings across nodes, drift
    and throughput outliers. Both exit 0 when no node has an error, 1 when a node has an error
    finding or a failed verify, was not reached or its report is unreadable, and 2 on bad input.
    """


def _fleet_format_option(fn: Any) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FLEET_FORMATS, case_sensitive=False),
        default=None,
        help="text (default), json, markdown, html (one self-contained page) or prometheus "
        "(for node_exporter's textfile collector). Default: from --output's suffix "
        "(.json .md .html .prom), else text.",
    )(fn)


def _resolve_format(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt.lower()
    if output is not None and not is_stdout(output):
        return FLEET_SUFFIXES.get(output.suffix.lower(), "text")
    return "text"


# --- fleet report ---------------------------------------------------------------------------


@command.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_fleet_format_option
@output_option
@force_option
@debug_option
def report_command(
    paths: tuple[Path, ...], fmt: str | None, output: Path | None, force: bool
) -> int:
    """Aggregate node reports (from fleet run, Ansible, pdsh, a Kubernetes job...).

    Each PATH is a folder or one file. A folder holds `<node>.json` reports (`gpudoctor check
    --format json`) and `<node>.verify.json` verify results, or fleet run's `check/<node>.json`
    and `verify/<node>.json`; each file is known by its content, and JSON that is no gpudoctor
    report is listed as skipped. A verify result's fail is an error of its node. Every report
    is diagnosed again with today's rules, as `check --from-report` does.
    """
    fmt = _resolve_format(fmt, output)
    if output is not None and not is_stdout(output):
        check_output(output, force=force)
    report = build_fleet_report(paths)
    _emit(fmt, report, output, force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _emit(fmt: str, report: FleetReport, output: Path | None, force: bool) -> None:
    from gpudoctor.render.fleet import render_fleet

    text = render_fleet(fmt, report)
    if output is not None and not is_stdout(output):
        write_output(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def build_fleet_report(
    paths: Sequence[Path],
    *,
    extra_not_reached: Sequence[NotReached] = (),
    partitions: dict[str, tuple[str, ...]] | None = None,
) -> FleetReport:
    """Read, re-diagnose (today's rules) and aggregate every node report under ``paths``."""
    from gpudoctor import kb
    from gpudoctor.fleet.sources import build_fleet_report as build
    from gpudoctor.model.report import Report
    from gpudoctor.rules import diagnose
    from gpudoctor.rules.registry import REGISTRY

    knowledge = kb.load()

    def diagnosed(report: Report) -> Diagnosis:
        return diagnose(report, knowledge)

    return build(
        paths,
        diagnose=diagnosed,
        names={rule.id: rule.title for rule in REGISTRY},
        gpudoctor_version=__version__,
        created_at=_now(),
        extra_not_reached=extra_not_reached,
        partitions=partitions,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- fleet run ------------------------------------------------------------------------------


def _default_output_dir() -> Path:
    return Path(f"gpudoctor-fleet-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")


@command.command("run")
@click.option("--partition", "-p", default=None, help="Check the nodes of this partition.")
@click.option("--nodelist", "-w", default=None, help="Check these nodes (hostlist: gpu-[01-08]).")
@click.option("--exclude", "-x", default=None, help="Leave these nodes out (hostlist).")
@click.option(
    "--output-dir",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the node reports go (check/<node>.json, verify/<node>.json, fleet-run.json). "
    "Default: ./gpudoctor-fleet-<UTC time>.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=1, max=7 * 24 * 3600),
    default=900.0,
    show_default=True,
    help="Seconds for the whole run; nodes not done by then are listed as not reached.",
)
@click.option(
    "--node-timeout",
    type=click.FloatRange(min=1, max=24 * 3600),
    default=180.0,
    show_default=True,
    help="Seconds one node's check may take, srun's start included.",
)
@click.option(
    "--immediate",
    type=click.IntRange(min=1, max=3600),
    default=10,
    show_default=True,
    help="Seconds srun may wait for a node's resources before the node counts as busy.",
)
@click.option(
    "--concurrency",
    "-j",
    type=click.IntRange(min=1, max=1024),
    default=32,
    show_default=True,
    help="Nodes checked at the same time.",
)
@click.option("--verify", "with_verify", is_flag=True, help="Also run `verify --quick` there.")
@click.option(
    "--command",
    "node_command",
    default=None,
    help="How to start gpudoctor on the nodes. Default: this interpreter with -m gpudoctor "
    "(a venv on the shared file system).",
)
@click.option(
    "--check-args",
    default="",
    help="Extra arguments for check on the nodes, e.g. '--no-frameworks'.",
)
@click.option("--verify-args", default="", help="Extra arguments for verify on the nodes.")
@click.option(
    "--srun-arg",
    "srun_args",
    multiple=True,
    help="Passed to srun as it is; repeat it (--srun-arg=--account=lab --srun-arg=--qos=high).",
)
@_fleet_format_option
@output_option
@force_option
@debug_option
def run_command(
    partition: str | None,
    nodelist: str | None,
    exclude: str | None,
    output_dir: Path | None,
    time_limit: float,
    node_timeout: float,
    immediate: int,
    concurrency: int,
    with_verify: bool,
    node_command: str | None,
    check_args: str,
    verify_args: str,
    srun_args: tuple[str, ...],
    fmt: str | None,
    output: Path | None,
    force: bool,
) -> int:
    """Run `gpudoctor check` once on each selected node through srun, then report.

    One `srun --nodes=1 --nodelist=NODE --immediate` per node, at most --concurrency at once.
    Drained, down and unresponsive nodes are not waited on: they are listed as not reached with
    their SLURM state and reason, and so are nodes that could not start the job in --immediate
    seconds or did not answer in time. Ctrl-C keeps every report already gathered. It changes
    nothing on any node.
    """
    from gpudoctor.fleet import slurm
    from gpudoctor.fleet.hostlist import expand
    from gpudoctor.fleet.manifest import CHECK_DIR, VERIFY_DIR, node_file
    from gpudoctor.fleet.run import NodeJob, gather
    from gpudoctor.fleet.selection import UNKNOWN_REASON, select_nodes

    fmt = _resolve_format(fmt, output)
    if output is not None and not is_stdout(output):
        check_output(output, force=force)
    base = (
        _split(node_command, "--command") if node_command else [sys.executable, "-m", "gpudoctor"]
    )
    job = NodeJob(
        check=(*base, "check", "--format", "json", *_split(check_args, "--check-args")),
        verify=(
            (*base, "verify", "--quick", "--format", "json", *_split(verify_args, "--verify-args"))
            if with_verify
            else None
        ),
        node_timeout_s=node_timeout,
        verify_timeout_s=max(node_timeout, 600.0),
        immediate_s=immediate,
        srun_args=srun_args,
    )
    # Both lists are expanded (and capped) before sinfo runs: a bad one starts nothing.
    wanted = expand(nodelist, "--nodelist") if nodelist else ()
    excluded = expand(exclude, "--exclude") if exclude else ()
    nodes, unknown_names = select_nodes(
        slurm.list_nodes(partition=partition, nodelist=nodelist), wanted, excluded
    )
    from gpudoctor.model.fleet import NotReached, Unreadable

    unknown = [
        NotReached(node=name, state="unknown", reason=UNKNOWN_REASON) for name in unknown_names
    ]
    if not nodes and not unknown:
        where = f"partition {partition}" if partition else "this cluster"
        raise BadInputError(
            f"no node to check in {where}" + (" after --exclude" if excluded else "")
        )
    out_dir = output_dir or _default_output_dir()
    _prepare_dir(out_dir, [n.name for n in nodes], force=force, with_verify=with_verify)

    outcomes: list[NodeOutcome] = []
    total = len(nodes)
    unreadable: list[Unreadable] = []

    def on_done(outcome: NodeOutcome) -> None:
        outcomes.append(outcome)
        if outcome.check_json is not None:
            _save(node_file(out_dir, CHECK_DIR, outcome.node), outcome.check_json)
        if outcome.verify_json is not None:
            _save(node_file(out_dir, VERIFY_DIR, outcome.node), outcome.verify_json)
        unreadable.extend(
            Unreadable(
                node=outcome.node,
                # run.py names the file as the flat layout would; the folder tells them apart
                path=str(
                    node_file(
                        out_dir,
                        VERIFY_DIR if name.endswith(".verify.json") else CHECK_DIR,
                        outcome.node,
                    )
                ),
                error=error,
            )
            for name, error in outcome.errors
        )
        _progress(outcome, len(outcomes), total)

    click.echo(
        f"fleet: checking {total} node(s), {min(concurrency, total) or 1} at a time, "
        f"within {time_limit:.0f} s; reports go to {out_dir}/",
        err=True,
    )
    cancel = threading.Event()
    interrupted = 0
    try:
        gather(
            nodes,
            job,
            time_limit_s=time_limit,
            concurrency=concurrency,
            on_done=on_done,
            cancel=cancel,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into one
        interrupted = 128 + int(getattr(exc, "signum", signal.SIGINT))
    not_reached = [*unknown]
    not_reached += [
        NotReached(node=o.node, state=o.not_reached[0], reason=o.not_reached[1])
        for o in outcomes
        if o.not_reached is not None
    ]
    _write_manifest(out_dir, nodes, not_reached, unreadable, job, force=True)
    report = build_fleet_report([out_dir])
    _emit(fmt, report, output, force)
    if interrupted:
        click.echo(f"gpudoctor: interrupted; the reports gathered are in {out_dir}/", err=True)
        return interrupted
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _split(text: str, option: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInputError(f"{option} {text!r}: {exc}") from None


def _save(path: Path, text: str) -> None:
    write_output(path, text, force=True)


def _prepare_dir(
    out_dir: Path, nodes: Sequence[str], *, force: bool, with_verify: bool = False
) -> None:
    """Create the folders; refuse (before any srun) to replace reports already in them."""
    from gpudoctor.fleet.manifest import CHECK_DIR, MANIFEST, VERIFY_DIR

    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--output-dir {out_dir}: exists and is not a directory")
    if out_dir.is_dir() and not force:
        names = {f"{n}.json" for n in nodes}
        wanted = [(out_dir / MANIFEST, MANIFEST)] + [
            (out_dir / sub / name, f"{sub}/{name}")
            for sub in (CHECK_DIR, VERIFY_DIR)
            for name in sorted(names)
        ]
        clash = [shown for path, shown in wanted if os.path.lexists(path)]
        if clash:
            shown = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
            raise BadInputError(
                f"--output-dir {out_dir} already holds {shown}; use --force to replace them "
                "or choose another folder"
            )
    for folder in [out_dir, out_dir / CHECK_DIR] + ([out_dir / VERIFY_DIR] if with_verify else []):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"--output-dir: cannot create {folder} ({exc.strerror})") from None


def _progress(outcome: NodeOutcome, done: int, total: int) -> None:
    from gpudoctor.render.fleet import inert

    if outcome.not_reached is not None:
        state, reason = outcome.not_reached
        what = f"not reached ({state}: {reason})"
    elif outcome.errors and outcome.check_json is None:
        what = f"unreadable: {outcome.errors[0][1]}"
    else:
        what = "report saved" + (" with verify" if outcome.verify_json else "")
        if outcome.errors:
            what += f"; {outcome.errors[0][1]}"
    took = f" in {outcome.duration_s:.1f} s" if outcome.duration_s else ""
    click.echo(f"fleet: [{done}/{total}] {inert(outcome.node)}: {inert(what)}{took}", err=True)


def _write_manifest(
    out_dir: Path,
    nodes: Sequence[Any],
    not_reached: Sequence[NotReached],
    unreadable: Sequence[Unreadable],
    job: Any,
    *,
    force: bool,
) -> None:
    from gpudoctor.fleet.manifest import MANIFEST, Manifest, to_document

    manifest = Manifest(
        gpudoctor_version=__version__,
        created_at=_now(),
        command=tuple(job.check),
        partitions={n.name: tuple(n.partitions) for n in nodes},
        not_reached=tuple(not_reached),
        unreadable=tuple(unreadable),
    )
    write_output(
        out_dir / MANIFEST, json.dumps(to_document(manifest), indent=2) + "\n", force=force
    )
