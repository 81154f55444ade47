"""`gpudoctor fleet run` and `fleet report`: many nodes through SLURM, or reports from anywhere."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, emit, is_stdout, shown, write_output
from gpudoctor.cli.fleet_pairs import pairs_command
from gpudoctor.cli.formats import FLEET
from gpudoctor.cli.options import (
    FilePath,
    FiniteFloatRange,
    NonEmptyPath,
    PlainIntRange,
    debug_option,
    fleet_dir,
    fleet_dir_option,
    fleet_force_option,
    force_option,
    output_option,
    refuse_force_without_output,
)
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.fleet.aggregate import STALE_AFTER_H
from gpudoctor.model.times import utc_stamp

if TYPE_CHECKING:
    from gpudoctor.fleet.baseline import Baseline
    from gpudoctor.fleet.run import NodeOutcome
    from gpudoctor.model.findings import Diagnosis
    from gpudoctor.model.fleet import FleetReport, NotReached, Unreadable


@click.group("fleet")
def command() -> None:
    """Check every node of a SLURM cluster, or compare node reports gathered by any means.

    `fleet run` runs `gpudoctor check` on each node through srun and saves one JSON report per
    node; `fleet report DIR...` compares saved reports: verdicts, findings across nodes, drift
    and throughput outliers. Both exit 0 when no node has an error, 1 when a node has an error
    finding or a failed verify, was not reached or its report is unreadable, and 2 on bad input.
    `fleet pairs` runs two-node all-reduces to tell a bad node from a bad link.
    """


command.add_command(pairs_command)


def _fleet_format_option(fn: Any) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FLEET.formats, case_sensitive=False),
        default=None,
        help="text (default), json, markdown, html (one self-contained page) or prometheus "
        "(for node_exporter's textfile collector). Default: from --output's suffix "
        "(.json .md .html .prom), else text.",
    )(fn)


# --- fleet report ---------------------------------------------------------------------------

MAX_STALE_AFTER_H = 366 * 24.0
"""A year: a threshold above it is a typo (minutes or seconds), not a policy."""


@command.command("report")
@click.argument("paths", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@click.option(
    "--baseline",
    "baseline_path",
    type=FilePath(dir_okay=False, path_type=Path),
    default=None,
    help="Judge every node against a golden node's report (JSON) or pinned facts (.toml), "
    "not only against the majority; drift names the reference it used.",
)
@click.option(
    "--stale-after",
    "stale_after_h",
    type=FiniteFloatRange(min=0, min_open=True, max=MAX_STALE_AFTER_H),
    default=STALE_AFTER_H,
    show_default=True,
    metavar="HOURS",
    help="A node report checked more than HOURS before the newest one is stale (listed, "
    "counted, and gpudoctor_fleet_stale_nodes in prometheus).",
)
@_fleet_format_option
@output_option
@force_option
@debug_option
def report_command(
    paths: tuple[Path, ...],
    baseline_path: Path | None,
    stale_after_h: float,
    fmt: str | None,
    output: Path | None,
    force: bool,
) -> int:
    """Aggregate node reports (from fleet run, Ansible, pdsh, a Kubernetes job...).

    Each PATH is a folder or one file. A folder holds `<node>.json` reports (`gpudoctor check
    --format json`) and `<node>.verify.json` verify results, or fleet run's `check/<node>.json`
    and `verify/<node>.json`; each file is known by its content, and JSON that is no gpudoctor
    report is listed as skipped. A verify result's fail is an error of its node. Every report
    is diagnosed again with today's rules, as `check --from-report` does.
    """
    refuse_force_without_output(force)
    output = None if is_stdout(output) else output
    fmt = FLEET.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    baseline = load_baseline(baseline_path) if baseline_path is not None else None
    report = build_fleet_report(paths, baseline=baseline, stale_after_h=stale_after_h)
    emit(FLEET.render(fmt, report), output, force=force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


MAX_PINS_BYTES = 64 * 1024
"""A file of pinned facts is a few lines; more is not one."""


def load_baseline(path: Path) -> Baseline:
    """A golden node's check report (JSON), or a TOML file of pinned facts (by its suffix)."""
    from gpudoctor.fleet import baseline
    from gpudoctor.userfiles.read import load_report, read_capped

    if path.suffix.lower() == ".toml":
        from gpudoctor.tomlcompat import tomllib

        raw = read_capped(path, limit=MAX_PINS_BYTES, what="baseline")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BadInputError(f"{path}: not a TOML file of pinned facts ({exc})") from None
        return baseline.from_pins(path.name, data)
    from gpudoctor.fleet.facts import node_facts
    from gpudoctor.model.findings import Diagnosis

    golden = node_facts(path.name, load_report(path), Diagnosis(findings=()))
    return baseline.from_node(path.name, golden)


def build_fleet_report(
    paths: Sequence[Path],
    *,
    extra_not_reached: Sequence[NotReached] = (),
    partitions: dict[str, tuple[str, ...]] | None = None,
    baseline: Baseline | None = None,
    stale_after_h: float = STALE_AFTER_H,
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
        baseline=baseline,
        stale_after_h=stale_after_h,
    )


def _now() -> str:
    return utc_stamp(datetime.now(timezone.utc))


# --- fleet run ------------------------------------------------------------------------------


@command.command("run")
@click.option("--partition", "-p", default=None, help="Check the nodes of this partition.")
@click.option("--nodelist", "-w", default=None, help="Check these nodes (hostlist: gpu-[01-08]).")
@click.option("--exclude", "-x", default=None, help="Leave these nodes out (hostlist).")
@fleet_dir_option(
    "Where the node reports go (check/<node>.json, verify/<node>.json, fleet-run.json; "
    "check/<node>.unusable.txt for output that is no report)."
)
@click.option(
    "--time-limit",
    type=FiniteFloatRange(min=1, max=7 * 24 * 3600),
    default=900.0,
    show_default=True,
    help="Seconds for the whole run; nodes not done by then are listed as not reached.",
)
@click.option(
    "--node-timeout",
    type=FiniteFloatRange(min=1, max=24 * 3600),
    default=180.0,
    show_default=True,
    help="Seconds one node's check may take, srun's start included.",
)
@click.option(
    "--immediate",
    type=PlainIntRange(min=1, max=3600),
    default=10,
    show_default=True,
    help="Seconds srun may wait for a node's resources before the node counts as busy.",
)
@click.option(
    "--concurrency",
    "-j",
    type=PlainIntRange(min=1, max=1024),
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
@fleet_force_option("the selected nodes' reports")
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
    from gpudoctor.fleet import runner
    from gpudoctor.fleet.manifest import MANIFEST

    output = None if is_stdout(output) else output
    fmt = FLEET.resolve(fmt, output)
    if verify_args and not with_verify:
        # dropped without a word, the fleet's verdicts would read as measured with them
        raise BadInputError("--verify-args goes with --verify: no verify runs without it")
    if output is not None:
        check_output(output, force=force)
    base = (
        runner.split_args(node_command, "--command")
        if node_command is not None
        else [sys.executable, "-m", "gpudoctor"]
    )
    if not base:  # `--command "$CMD"` with CMD unset: never the default in its place
        raise BadInputError("--command is empty")
    job = runner.node_job(
        base,
        check_args=check_args,
        verify_args=verify_args if with_verify else None,
        node_timeout_s=node_timeout,
        immediate_s=immediate,
        srun_args=srun_args,
    )
    selection = runner.select(partition, nodelist, exclude)
    stray = selection.stray_warning(partition, nodelist)
    if stray is not None:
        click.echo(f"fleet: warning: {stray}", err=True)
    out_dir = fleet_dir(output_dir)
    runner.prepare_dir(
        out_dir, [n.name for n in selection.nodes], force=force, with_verify=with_verify
    )
    earlier = runner.earlier_run(out_dir)  # there only with --force: prepare_dir refuses it
    if earlier.problem is not None:
        click.echo(
            f"fleet: warning: {shown(earlier.problem)}: the earlier run's manifest is "
            "replaced, and what it said of the nodes not checked now is not kept",
            err=True,
        )
    total = len(selection.nodes)
    click.echo(
        f"fleet: checking {total} node(s), {min(concurrency, total) or 1} at a time, "
        f"within {time_limit:.0f} s; reports go to {shown(out_dir)}/",
        err=True,
    )
    result = runner.run_fleet(
        selection,
        job,
        out_dir,
        time_limit_s=time_limit,
        concurrency=concurrency,
        save=_save,
        progress=functools.partial(_progress, manifest=out_dir / MANIFEST),
        gpudoctor_version=__version__,
        created_at=_now,
        earlier=earlier.manifest,
    )
    report = build_fleet_report([out_dir])
    emit(FLEET.render(fmt, report), output, force=force)
    if result.interrupted:
        click.echo(
            f"gpudoctor: interrupted; the reports gathered are in {shown(out_dir)}/", err=True
        )
        return result.interrupted
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _save(path: Path, text: str) -> None:
    """Each node's report and the manifest: written as they come, replacing an old run's."""
    write_output(path, text, force=True)


def _progress(
    outcome: NodeOutcome,
    done: int,
    total: int,
    problems: tuple[Unreadable, ...],
    *,
    manifest: Path,
) -> None:
    """One line per node; an unusable output names the file that keeps it (``manifest`` when
    nothing could be kept), so the admin watching knows where to look before the run ends."""
    from gpudoctor.render.fleet import inert

    said = problems[0].error if problems else (outcome.errors[0][1] if outcome.errors else "")
    if outcome.not_reached is not None:
        state, reason = outcome.not_reached
        what = f"not reached ({state}: {reason})"
    elif outcome.errors and outcome.check_json is None:
        what = f"unreadable: {said}"
    else:
        what = "report saved" + (" with verify" if outcome.verify_json else "")
        if outcome.errors:
            what += f"; {said}"
    took = f" in {outcome.duration_s:.1f} s" if outcome.duration_s else ""
    kept = "".join(
        f"; what it sent is in {shown(Path(u.path))}" for u in problems if Path(u.path) != manifest
    )
    click.echo(
        f"fleet: [{done}/{total}] {inert(outcome.node)}: {inert(what)}{took}{kept}", err=True
    )
