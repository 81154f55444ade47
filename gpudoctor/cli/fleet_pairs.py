"""`gpudoctor fleet pairs`: two-node all-reduces through srun -N2, bad node versus bad link."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpudoctor import __version__
from gpudoctor.cli.files import check_output, emit, is_stdout, write_output
from gpudoctor.cli.formats import PAIRS
from gpudoctor.cli.options import (
    FiniteFloatRange,
    PlainIntRange,
    debug_option,
    fleet_dir,
    fleet_dir_option,
    fleet_force_option,
    output_option,
)
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.model.times import utc_stamp

if TYPE_CHECKING:
    from gpudoctor.fleet.runner import Selection
    from gpudoctor.model.hardware import PairOutcome


def _pair_partitions(
    selection: Selection, partition: str | None, srun_args: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """Each usable node -> the partitions sinfo lists it in; none (one group for all) where
    --partition or an --srun-arg names the partition (srun then asks that one)."""
    named = partition is not None or any(
        a == "-p" or a.startswith(("--partition", "-p")) for a in srun_args
    )
    return {n.name: () if named else tuple(n.partitions) for n in selection.nodes if n.runnable}


def _save(path: Path, text: str) -> None:
    """Each pair's file and pairs.json: written as they come, replacing an old run's."""
    write_output(path, text, force=True)


# --- fleet pairs ----------------------------------------------------------------------------


@click.command("pairs")
@click.option("--partition", "-p", default=None, help="Pair the nodes of this partition.")
@click.option("--nodelist", "-w", default=None, help="Pair these nodes (hostlist: gpu-[01-08]).")
@click.option("--exclude", "-x", default=None, help="Leave these nodes out (hostlist).")
@fleet_dir_option("Where each pair's result goes (pairs/<a>+<b>.json and pairs/pairs.json).")
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
    type=PlainIntRange(min=1, max=3600),
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
@fleet_force_option("the results of the pairs chosen")
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

    Nodes are paired within the partitions they share (a pair is one srun): each node with
    the next and the one after next of the largest partition it is in (sorted by name), so
    that every node is in two pairs or more once there are three. Each pair runs one
    torch.distributed all-reduce (one task per node, NCCL or gloo) over a size sweep, with
    its sums checked, bounded by --pair-timeout. A node slow or failing with every partner is
    a bad node; a slow pair of nodes fine elsewhere is a bad link. Exit 0 when neither shows,
    every pair ran and every node selected was paired (a node alone in its partition is
    listed, not counted), 1 otherwise, 2 on bad input.
    """
    from gpudoctor.fleet import pairrun, pairs, runner, slurm
    from gpudoctor.model.hardware import PairsReport
    from gpudoctor.model.inert import inert
    from gpudoctor.model.serialize import to_dict

    output = None if is_stdout(output) else output
    fmt = PAIRS.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    if node_python is not None and not node_python.strip():  # `--python "$PY"`, PY unset
        raise BadInputError("--python is empty: give the interpreter on the nodes")
    selection = runner.select(partition, nodelist, exclude)
    stray = selection.stray_warning(partition, nodelist)
    if stray is not None:
        click.echo(f"fleet: warning: {stray}", err=True)
    usable = [n.name for n in selection.nodes if n.runnable]
    left_out = [(u.node, f"{u.state}: {u.reason}") for u in selection.unknown]
    left_out += [
        (n.name, f"{n.state}: {n.reason or 'not usable'}")
        for n in selection.nodes
        if not n.runnable
    ]
    chosen, alone = pairs.pairs_by_partition(_pair_partitions(selection, partition, srun_args))
    if len(usable) >= 2 and not chosen:
        raise BadInputError(
            "fleet pairs needs two usable nodes in one partition (a pair is one srun); "
            + ", ".join(f"{inert(node)} ({inert(p) or 'no partition'})" for node, p in alone[:5])
            + (f", {len(alone) - 5} more" if len(alone) > 5 else "")
            + " share none: give --partition, or --srun-arg=--partition=P for one they share"
        )
    if not chosen:
        shown = [f"{inert(node)} ({inert(why)})" for node, why in left_out[:5]]
        if len(left_out) > len(shown):
            shown.append(f"{len(left_out) - len(shown)} more")
        raise BadInputError(
            f"fleet pairs needs two usable nodes; found {len(usable)}"
            + (f" ({', '.join(usable)})" if usable else "")
            + (f"; not usable: {', '.join(shown)}" if shown else "")
        )
    left_out += [
        (node, f"alone: no other node selected in partition {p}, and a pair runs in one")
        for node, p in alone
    ]
    paired = [n for n in usable if n not in dict(alone)]
    out_dir = fleet_dir(output_dir)
    pair_dir = pairrun.prepare_dir(out_dir, chosen, force=force)
    job = pairrun.PairJob(
        python=node_python or sys.executable,
        device=device,
        init_timeout_s=init_timeout,
        pair_timeout_s=pair_timeout,
        immediate_s=immediate,
        srun_args=srun_args,
    )
    click.echo(
        f"fleet: {len(chosen)} pair(s) of {len(paired)} node(s), one at a time, within "
        f"{time_limit:.0f} s; results go to {pair_dir}/",
        err=True,
    )

    def done(outcome: PairOutcome, i: int, total: int) -> None:
        save = json.dumps(to_dict(outcome), indent=2, sort_keys=True) + "\n"
        _save(pair_dir / f"{outcome.nodes[0]}+{outcome.nodes[1]}.json", save)
        bw = outcome.busbw_gbps
        what = f"{bw:.2f} GB/s bus bandwidth" if bw is not None else outcome.message
        step = f"[{i}/{total}]" if total else "[again]"
        click.echo(
            f"fleet: {step} {inert('+'.join(outcome.nodes))}: {outcome.status}: {inert(what)}",
            err=True,
        )

    outcomes = pairrun.measure(
        chosen,
        job,
        time_limit_s=time_limit,
        addresses=slurm.node_addresses(paired),
        slow_factor=slow_factor,
        partitions={n.name: n.partitions for n in selection.nodes},
        on_done=done,
    )
    base, slow, bad, links = pairs.analyse(outcomes, slow_factor)
    report = PairsReport(
        created_at=utc_stamp(datetime.now(timezone.utc)),
        gpudoctor_version=__version__,
        nodes=tuple(paired),
        pairs=tuple(outcomes),
        baseline_gbps=base,
        slow_factor=slow_factor,
        slow_pairs=slow,
        bad_nodes=bad,
        bad_links=links,
        not_reached=tuple(left_out),
        alone=tuple(node for node, _ in alone),
    )
    _save(pair_dir / "pairs.json", PAIRS.render("json", report))
    emit(PAIRS.render(fmt, report), output, force=force)
    return int(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)
