"""`gpudoctor fleet run` and `fleet report`: many nodes through SLURM, or reports from anywhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, emit, is_stdout, write_output
from gpudoctor.cli.formats import FLEET
from gpudoctor.cli.options import FiniteFloatRange, debug_option, force_option, output_option
from gpudoctor.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from gpudoctor.fleet.run import NodeOutcome
    from gpudoctor.model.findings import Diagnosis
    from gpudoctor.model.fleet import FleetReport, NotReached


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
        type=click.Choice(FLEET.formats, case_sensitive=False),
        default=None,
        help="text (default), json, markdown, html (one self-contained page) or prometheus "
        "(for node_exporter's textfile collector). Default: from --output's suffix "
        "(.json .md .html .prom), else text.",
    )(fn)


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
    output = None if is_stdout(output) else output
    fmt = FLEET.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    report = build_fleet_report(paths)
    emit(FLEET.render(fmt, report), output, force=force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


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
    from gpudoctor.fleet import runner

    output = None if is_stdout(output) else output
    fmt = FLEET.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    base = (
        runner.split_args(node_command, "--command")
        if node_command
        else [sys.executable, "-m", "gpudoctor"]
    )
    job = runner.node_job(
        base,
        check_args=check_args,
        verify_args=verify_args if with_verify else None,
        node_timeout_s=node_timeout,
        immediate_s=immediate,
        srun_args=srun_args,
    )
    selection = runner.select(partition, nodelist, exclude)
    out_dir = output_dir or _default_output_dir()
    runner.prepare_dir(
        out_dir, [n.name for n in selection.nodes], force=force, with_verify=with_verify
    )
    total = len(selection.nodes)
    click.echo(
        f"fleet: checking {total} node(s), {min(concurrency, total) or 1} at a time, "
        f"within {time_limit:.0f} s; reports go to {out_dir}/",
        err=True,
    )
    result = runner.run_fleet(
        selection,
        job,
        out_dir,
        time_limit_s=time_limit,
        concurrency=concurrency,
        save=_save,
        progress=_progress,
        gpudoctor_version=__version__,
        created_at=_now,
    )
    report = build_fleet_report([out_dir])
    emit(FLEET.render(fmt, report), output, force=force)
    if result.interrupted:
        click.echo(f"gpudoctor: interrupted; the reports gathered are in {out_dir}/", err=True)
        return result.interrupted
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


def _save(path: Path, text: str) -> None:
    """Each node's report and the manifest: written as they come, replacing an old run's."""
    write_output(path, text, force=True)


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


# --- fleet pairs ----------------------------------------------------------------------------


@command.command("pairs")
@click.option("--partition", "-p", default=None, help="Pair the nodes of this partition.")
@click.option("--nodelist", "-w", default=None, help="Pair these nodes (hostlist: gpu-[01-08]).")
@click.option("--exclude", "-x", default=None, help="Leave these nodes out (hostlist).")
@click.option(
    "--output-dir",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where each pair's result goes (pairs/<a>+<b>.json and pairs/pairs.json). Default: "
    "./gpudoctor-fleet-<UTC time>.",
)
@click.option(
    "--time-limit",
    type=FiniteFloatRange(min=1, max=7 * 24 * 3600),
    default=1800.0,
    show_default=True,
    help="Seconds for all pairs; pairs not run by then are listed as not run.",
)
@click.option(
    "--pair-timeout",
    type=FiniteFloatRange(min=5, max=24 * 3600),
    default=180.0,
    show_default=True,
    help="Seconds one pair may take, srun's start and the rendezvous included.",
)
@click.option(
    "--init-timeout",
    type=FiniteFloatRange(min=1, max=3600),
    default=30.0,
    show_default=True,
    help="Seconds a node waits for its partner to join the rendezvous.",
)
@click.option(
    "--immediate",
    type=click.IntRange(min=1, max=3600),
    default=10,
    show_default=True,
    help="Seconds srun may wait for the two nodes before the pair counts as refused.",
)
@click.option(
    "--slow-factor",
    type=FiniteFloatRange(min=0.05, max=1.0),
    default=0.8,
    show_default=True,
    help="A pair under this share of the baseline (the pairs' upper quartile) is slow.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: NCCL on nodes whose torch sees a GPU, gloo on CPU nodes.",
)
@click.option(
    "--python",
    "node_python",
    default=None,
    help="The interpreter on the nodes (with gpudoctor and torch). Default: this one (a venv "
    "on the shared file system).",
)
@click.option(
    "--srun-arg",
    "srun_args",
    multiple=True,
    help="Passed to srun as it is; repeat it (--srun-arg=--account=lab).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"], case_sensitive=False),
    default=None,
    help="text (default), json or markdown; default: from --output's suffix.",
)
@output_option
@force_option
@debug_option
def pairs_command(
    partition: str | None,
    nodelist: str | None,
    exclude: str | None,
    output_dir: Path | None,
    time_limit: float,
    pair_timeout: float,
    init_timeout: float,
    immediate: int,
    slow_factor: float,
    device: str,
    node_python: str | None,
    srun_args: tuple[str, ...],
    fmt: str | None,
    output: Path | None,
    force: bool,
) -> int:
    """Two-node all-reduces through `srun -N2`: tell a bad node from a bad link.

    Each node is paired with the next and the one after next (sorted by name), so that every
    node is in two pairs or more once there are three. Each pair runs one
    torch.distributed all-reduce (one task per node, NCCL or gloo) over a size sweep, with
    its sums checked, bounded by --pair-timeout. A node slow or failing with every partner is
    a bad node; a slow pair of nodes fine elsewhere is a bad link. Exit 0 when neither shows
    and every pair ran, 1 otherwise, 2 on bad input.
    """
    import json as _json

    from gpudoctor.cli.formats import PAIRS
    from gpudoctor.fleet import pairrun, pairs, runner, slurm
    from gpudoctor.model.hardware import PairsReport
    from gpudoctor.model.serialize import to_dict

    output = None if is_stdout(output) else output
    fmt = PAIRS.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    selection = runner.select(partition, nodelist, exclude)
    usable = [n.name for n in selection.nodes if n.runnable]
    left_out = [(u.node, f"{u.state}: {u.reason}") for u in selection.unknown]
    left_out += [
        (n.name, f"{n.state}: {n.reason or 'not usable'}")
        for n in selection.nodes
        if not n.runnable
    ]
    chosen = pairs.choose_pairs(usable)
    if not chosen:
        raise BadInputError(
            f"fleet pairs needs two usable nodes; found {len(usable)}"
            + (f" ({', '.join(usable)})" if usable else "")
        )
    out_dir = output_dir or _default_output_dir()
    pair_dir = out_dir / "pairs"
    names = [f"{a}+{b}.json" for a, b in chosen] + ["pairs.json"]
    if pair_dir.is_dir() and not force:
        clash = [n for n in names if (pair_dir / n).exists()]
        if clash:
            raise BadInputError(
                f"--output-dir {out_dir} already holds pairs/{clash[0]}; use --force to "
                "replace it or choose another folder"
            )
    try:
        pair_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--output-dir: cannot create {pair_dir} ({exc.strerror})") from None
    addresses = slurm.node_addresses(usable)
    job = pairrun.PairJob(
        python=node_python or sys.executable,
        device=device,
        init_timeout_s=init_timeout,
        pair_timeout_s=pair_timeout,
        immediate_s=immediate,
        srun_args=srun_args,
    )
    click.echo(
        f"fleet: {len(chosen)} pair(s) of {len(usable)} node(s), one at a time, within "
        f"{time_limit:.0f} s; results go to {pair_dir}/",
        err=True,
    )

    def done(outcome: Any, i: int, total: int) -> None:
        from gpudoctor.render.fleet import inert

        save = _json.dumps(to_dict(outcome), indent=2) + "\n"
        _save(pair_dir / f"{outcome.nodes[0]}+{outcome.nodes[1]}.json", save)
        bw = outcome.busbw_gbps
        what = f"{bw:.2f} GB/s bus bandwidth" if bw is not None else outcome.message
        step = f"[{i}/{total}]" if total else "[again]"
        click.echo(
            f"fleet: {step} {inert('+'.join(outcome.nodes))}: {outcome.status}: {inert(what)}",
            err=True,
        )

    deadline = time.monotonic() + time_limit
    outcomes = pairrun.run_pairs(
        chosen, job, time_limit_s=time_limit, addresses=addresses, on_done=done
    )
    # A pair slow once may have met another job's traffic: it is measured again, and keeps
    # the better of its two figures, before anything is called bad.
    _, slow, _, _ = pairs.analyse(outcomes, slow_factor)
    again = [o.nodes for o in outcomes if o.nodes in slow and o.status == "ok"]
    if again:
        click.echo(f"fleet: measuring {len(again)} slow pair(s) again", err=True)
        retried = pairrun.run_pairs(
            again,
            job,
            time_limit_s=max(0.0, deadline - time.monotonic()),
            addresses=addresses,
            on_done=None,
        )
        outcomes = pairrun.keep_better(outcomes, retried)
        for outcome in outcomes:
            if outcome.nodes in again:
                done(outcome, 0, 0)
    base, slow, bad, links = pairs.analyse(outcomes, slow_factor)
    report = PairsReport(
        created_at=_now(),
        gpudoctor_version=__version__,
        nodes=tuple(usable),
        pairs=tuple(outcomes),
        baseline_gbps=base,
        slow_factor=slow_factor,
        slow_pairs=slow,
        bad_nodes=bad,
        bad_links=links,
        not_reached=tuple(left_out),
    )
    _save(pair_dir / "pairs.json", PAIRS.render("json", report))
    emit(PAIRS.render(fmt, report), output, force=force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)
