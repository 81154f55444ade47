"""`gpudoctor make-env`: write an environment (conda, uv, pixi, pip) that works on a machine."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpudoctor.cli.files import emit, is_stdout, wrote
from gpudoctor.cli.formats import MAKE_ENV
from gpudoctor.cli.options import (
    STDIN_IS_A_TERMINAL,
    FilePath,
    FiniteFloatRange,
    NonEmptyPath,
    dash_aware_path,
    debug_option,
    defaulted,
    force_option,
)
from gpudoctor.envplan.cluster import (
    NodeTarget,
    cuda_modules,
    fleet_target,
    for_nodes,
    modules_to_unload,
    no_driver_on_node,
)
from gpudoctor.envplan.forms import DEFAULT_FILES
from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.target import ARCHES, OSES, Target, target_from_args, target_from_report
from gpudoctor.envplan.types import PIP_ONLY, SOLVE_TIMEOUT_S, check_typed, choice
from gpudoctor.errors import BadInputError, ExitCode
from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.model.report import Report

if TYPE_CHECKING:
    from gpudoctor.fleet.remote import NodeUnavailableError


def _create_path(output: Path | None, to_stdout: bool, fmt: str) -> str:
    """The file for the create line (``conda env create -f``): as typed, or the default name."""
    if to_stdout or output is None or is_stdout(output):
        return DEFAULT_FILES.get(fmt, "plan.json")
    return str(output)


def _target(
    kb: KnowledgeBase,
    *,
    from_report: Path | None,
    from_fleet: Path | None,
    partition: str | None,
    driver: str | None,
    cc: str | None,
    os: str | None,
    arch: str | None,
    wsl: bool,
    glibc: str | None,
    cpu: bool,
) -> Target:
    """The machine to plan for: a report, a saved fleet, the command line, a partition's
    compute node, or this machine (on a login node: its only GPU partition)."""
    named = [
        flag
        for flag, value in (
            ("--driver", driver is not None),
            ("--cc", cc is not None),
            ("--os", os is not None),
            ("--arch", arch is not None),
            ("--wsl", wsl),
            ("--glibc", glibc is not None),
        )
        if value
    ]
    given = bool(named)
    if from_report is not None and from_fleet is not None:
        raise BadInputError("--from-report and --from-fleet exclude each other")
    saved = "--from-report" if from_report is not None else "--from-fleet" if from_fleet else None
    if saved and given:
        # the options given: '--from-report R --wsl' was told of five others, and not of --wsl
        what = (
            "the report describes the machine" if from_report else "its reports describe the nodes"
        )
        raise BadInputError(f"{saved} cannot be combined with {', '.join(named)} ({what})")
    if from_report is not None:
        if partition is not None:
            raise BadInputError("--from-report describes one machine: not with --partition")
        return _report_target(from_report)
    if partition is not None:
        from gpudoctor.fleet.remote import check_partition_name

        check_partition_name(partition)
    if from_fleet is not None:
        return _fleet_target(from_fleet, partition)
    if given:
        target = target_from_args(
            kb,
            driver=driver,
            cc=cc,
            os=None if os is None else choice("--os", os, OSES, aliases=True),
            arch=None if arch is None else choice("--arch", arch, ARCHES, aliases=True),
            wsl=wsl,
            glibc=glibc,
        )
        if target.platform_note is not None:
            click.echo(f"make-env: {target.platform_note}", err=True)
        return _named_nodes(target, partition, cpu=cpu) if partition is not None else target
    if partition is not None:
        return _partition_target(partition, cpu=cpu)
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.collect import collect_report

    target = target_from_report(collect_report(ProbeContext(), frameworks=False), "this machine")
    if cpu or target.driver is not None or target.driverless_gpus or target.unread_driver:
        return target
    # No GPU here: on a SLURM login node the GPUs are on the compute nodes, never this host.
    only = _only_gpu_partition()
    if only is None:
        return target
    click.echo(
        f"make-env: this is a SLURM login node; planning for partition {only}, its only GPU "
        "partition (--cpu plans for this machine)",
        err=True,
    )
    return _partition_target(only, cpu=cpu)


def _report_target(from_report: Path) -> Target:
    from gpudoctor.userfiles.read import load_report

    if str(from_report) == "-":  # the report comes on standard input
        if sys.stdin.isatty():
            raise BadInputError(STDIN_IS_A_TERMINAL)
        report = load_report(from_report)  # standard input, up to the size limit
        return target_from_report(report, "the report on standard input")
    return target_from_report(load_report(from_report), f"report {from_report.name}")


def _only_gpu_partition() -> str | None:
    """The one GPU partition of the cluster this is a login node of; None when this is no
    login node (no sinfo, inside a job) or no partition has GPUs; refused (exit 2) when sinfo
    is here but did not answer."""
    from gpudoctor.fleet.slurm import asks_as_login_node, query_cluster
    from gpudoctor.model.derived import slurm_not_configured
    from gpudoctor.model.slurm import gpu_partitions

    cluster = query_cluster() if asks_as_login_node() else None
    if cluster is None:
        return None
    if slurm_not_configured(cluster):
        return None  # SLURM's commands without a configuration: no cluster to plan for
    if not cluster.reachable:
        # a login node whose sinfo hung or failed once got a CPU-only environment.yml, with
        # a warning, for what may be a GPU cluster (onboard refuses the same way)
        raise BadInputError(
            "this machine has no GPU and SLURM's commands are here, but sinfo did not answer "
            f"({cluster.message or 'no answer'}): make-env cannot tell where the GPUs are; try "
            "again when `sinfo` answers, or name the target with --partition P, --driver/--cc, "
            "--from-fleet DIR, or --cpu for this machine"
        )
    found = list(dict.fromkeys(p.name for p in gpu_partitions(cluster)))
    if len(found) > 1:
        raise BadInputError(
            f"this is a SLURM login node with several GPU partitions ({', '.join(found)}): "
            "choose one with --partition, or give --driver/--cc, --from-fleet DIR, or --cpu"
        )
    return found[0] if found else None


def _partition_nodes(partition: str, *, cpu: bool = True) -> tuple[str, str | None, dict[str, str]]:
    """The partition's nodes as a hostlist, their GPU type from GRES (``h100``), and each GPU
    node's model(s) (``""``: untyped GRES), from one sinfo; without ``cpu``, a partition none
    of whose nodes has a GPU GRES is refused."""
    from gpudoctor.fleet.hostlist import compress
    from gpudoctor.fleet.slurm import list_compute_nodes
    from gpudoctor.model.slurm import gpu_gres

    nodes = list_compute_nodes(partition=partition)
    if not nodes:
        from gpudoctor.fleet.remote import find_node

        find_node(partition=partition, nodelist=None)  # says why: unknown, or no nodes
    if not cpu and not any(gpu_gres(g) for cn in nodes for g in cn.gres):
        raise _no_gpu_gres(partition)
    kinds = [k for cn in nodes for g in cn.gres if (p := gpu_gres(g)) and (k := p[0])]
    per_node = {}
    for cn in nodes:
        found = [p[0] or "" for g in cn.gres if (p := gpu_gres(g))]
        if found:
            per_node[cn.node.name] = ",".join(sorted(set(found)))
    hostlist = compress(cn.node.name for cn in nodes)
    return hostlist, ", ".join(dict.fromkeys(kinds)) or None, per_node


def _no_gpu_gres(partition: str) -> BadInputError:
    return BadInputError(
        f"--partition {partition} has no GPU GRES: its nodes offer no GPU to plan for; "
        "choose a GPU partition, or add --cpu for a CPU-only environment"
    )


def _named_nodes(target: Target, partition: str, *, cpu: bool) -> Target:
    """A command-line target marked as the nodes of ``partition`` (sinfo names them). A GPU
    plan for a partition without GPU GRES is refused, as with a node check: no job there
    gets a GPU (onboard refuses it too)."""
    hostlist, kind, _ = _partition_nodes(partition, cpu=cpu or target.driver is None)
    return for_nodes(target, partition=partition, nodes=hostlist, gpu=kind, unload=_loaded_here())


def _loaded_here() -> tuple[str, ...]:
    """The CUDA modules loaded in this shell, which srun and sbatch pass on to the jobs (a
    node's check sees them so; with --driver/--cc no node is checked, and the header named
    none: the job then ran with cuda/12.4 first on LD_LIBRARY_PATH)."""
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.modules import probe_modules

    ctx = ProbeContext()
    modules, _ = probe_modules(ctx)
    return cuda_modules(modules, ctx.env.get("LD_LIBRARY_PATH", ""))


CHECK_REMEDIES = (
    "; try again later, or name another with --partition/--nodelist",
    " (try again later, or wait longer with --immediate)",
    " (try again later, or name another node with --nodelist)",
    " (--remote-timeout)",
)
"""The ways on that check's --partition errors name: options of check, not of make-env."""


def _no_node_now(partition: str, exc: Exception) -> NodeUnavailableError:
    """A node check that could not run now, with make-env's ways on instead of check's."""
    from gpudoctor.fleet.remote import NodeUnavailableError

    text = str(exc)
    for remedy in CHECK_REMEDIES:
        text = text.replace(remedy, "")
    # SLURM's policy (an account the partition does not allow) does not pass with time
    later = "" if "SLURM does not let this job run there" in text else "try again later, or "
    return NodeUnavailableError(
        f"{text}; {later}plan without a job on the nodes: --partition {partition} "
        "--driver VERSION --cc X.Y (as `nvidia-smi` prints on a node), or --partition "
        f"{partition} --from-fleet DIR"
    )


def _partition_target(partition: str, *, cpu: bool) -> Target:
    """The target a check run on one idle node of ``partition`` (through srun) describes."""
    from gpudoctor.fleet.remote import NodeUnavailableError, Where, find_nodes

    try:
        wheres = find_nodes(partition=partition, nodelist=None)
    except NodeUnavailableError as exc:  # said with check's options, --nodelist
        raise _no_node_now(partition, exc) from None
    if not wheres[0].gpu and not cpu:
        raise _no_gpu_gres(partition)

    def busy(where: Where, why: str) -> None:
        click.echo(f"make-env: {why.split(' (try again', 1)[0]}; trying another node", err=True)

    def announce(where: Where) -> None:
        click.echo(
            f"make-env: checking node {where.node} of partition {partition} through srun "
            "for its driver and GPUs",
            err=True,
        )

    argv = [sys.executable, "-m", "gpudoctor", "check", "--format", "json", "--no-redact"]
    from gpudoctor.fleet.remote import run_check_on_one_of

    def check_one_of(group: list[Where]) -> NodeTarget:
        try:
            report = run_check_on_one_of(
                group, [*argv, "--no-frameworks"], announce=announce, on_busy=busy
            )
        except NodeUnavailableError as exc:  # said with check's options, --immediate
            raise _no_node_now(partition, exc) from None
        ran = report.site.remote if report.site is not None else None
        node = ran.node if ran is not None else group[0].node  # run_check always sets it
        target = target_from_report(report, f"node {node} of partition {partition}")
        unknown = target.driverless_gpus or target.unread_driver  # the planner says what it saw
        if target.driver is None and not cpu and not unknown:
            raise no_driver_on_node(node, partition)
        return NodeTarget(
            node=node, partitions=(partition,), target=target, unload=modules_to_unload(report)
        )

    hostlist, kind, kinds = _partition_nodes(partition)
    by_kind: dict[str, list[Where]] = {}
    for where in wheres:
        by_kind.setdefault(kinds.get(where.node, ""), []).append(where)
    if len(set(kinds.values())) <= 1:
        one = check_one_of(wheres)
        return for_nodes(
            one.target, partition=partition, nodes=hostlist, gpu=kind, unload=one.unload
        )
    # Nodes of several GPU models: one node's check planned for its GPU alone, and the header
    # said the plan was for them all (an H100 node's CUDA 13 build, which a P100 cannot run)
    checked = [check_one_of(group) for group in by_kind.values()]
    target, _ = fleet_target(checked, partition=partition, where=f"partition {partition}")
    unchecked = sorted(set(kinds.values()) - set(by_kind))
    target = dataclasses.replace(
        target,
        origin=f"nodes {', '.join(n.node for n in checked)} of partition {partition}",
        left_out=(*target.left_out, *(_unchecked(partition, k, kinds) for k in unchecked)),
    )
    return for_nodes(
        target, partition=partition, nodes=hostlist, gpu=kind, unload=target.unload_modules
    )


def _unchecked(partition: str, kind: str, kinds: dict[str, str]) -> str:
    """The warning for a GPU model none of whose nodes could run the check now."""
    from gpudoctor.fleet.hostlist import compress

    nodes = compress(n for n, k in kinds.items() if k == kind)
    return (
        f"node(s) {nodes} of partition {partition} ({kind or 'untyped GPU GRES'}) were not "
        "checked (none idle or mixed now): this environment may not run there; plan for them "
        "too with --driver VERSION --cc X.Y, or from a saved fleet report (--from-fleet DIR)"
    )


def _fleet_target(folder: Path, partition: str | None) -> Target:
    """The majority driver and lowest compute capability of a saved fleet's nodes."""
    from gpudoctor.fleet.hostlist import compress
    from gpudoctor.fleet.sources import read_node_reports

    if not folder.is_dir():
        raise BadInputError(f"--from-fleet {folder}: not a folder (fleet run's --output-dir)")

    def cut(report: Report) -> tuple[Target | None, tuple[str, ...]]:
        try:
            return target_from_report(report, "fleet"), modules_to_unload(report)
        except BadInputError:  # a report from another OS: not a node to plan for
            return None, ()

    nodes = [
        NodeTarget(node=node, partitions=parts, target=t, unload=unload)
        for node, parts, (t, unload) in read_node_reports([folder], cut)
        if t is not None
    ]
    if not nodes:
        raise BadInputError(f"--from-fleet {folder}: no node reports (check/<node>.json) in it")
    target, covered = fleet_target(nodes, partition=partition, where=str(folder))
    return for_nodes(
        target, partition=partition, nodes=compress(covered), gpu=None, unload=target.unload_modules
    )


def _summary(plan: Plan, where: str) -> str:
    builds = ", ".join(
        f"{fw.name} {fw.version} ({fw.variant if fw.cuda else 'CPU'}, {fw.source})"
        for fw in plan.frameworks
    )
    return f"{where}: {builds}, Python {plan.python} for {plan.target_text}"


@click.command("make-env")
@click.option(
    "--from-report",
    "from_report",
    type=FilePath(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Plan for the machine a saved `check --format json` report describes (- reads stdin).",
)
@click.option(
    "--from-fleet",
    "from_fleet",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Plan for a cluster's nodes from a saved fleet folder (fleet run's --output-dir): "
    "their majority driver and lowest compute capability (of --partition's nodes if given).",
)
@click.option(
    "--partition",
    "-p",
    "partition",
    default=None,
    help="Plan for this SLURM partition's GPUs: from a check run on one of its idle nodes "
    "through srun (from a login node), or with --driver/--cc or --from-fleet.",
)
@click.option(
    "--driver", default=None, help="Plan for another machine: its driver, e.g. 535.104.05."
)
@click.option("--cc", default=None, help="With --driver: the lowest compute capability, e.g. 8.6.")
@click.option(
    "--os",
    "os_name",
    default=None,
    help="The other machine's OS: linux (default) or windows; without --driver, one with no GPU.",
)
@click.option("--arch", default=None, help="The other machine's CPU: x86_64 (default) or aarch64.")
@click.option(
    "--wsl", is_flag=True, help="The other machine is WSL2 (Linux packages, Windows driver)."
)
@click.option(
    "--glibc",
    default=None,
    help="The other machine's glibc (`ldd --version`), e.g. 2.17: releases whose wheels need "
    "a newer one are not planned.",
)
@click.option(
    "--framework",
    default="torch",
    show_default=True,
    help="torch, tensorflow, or both (in one environment when their CUDA stacks agree; "
    "all, as verify spells it, pytorch and tf are accepted too).",
)
@click.option("--python", "python", default=None, help="Python X.Y (default: newest that fits).")
@click.option("--torch", "torch_version", default=None, help="PyTorch version, e.g. 2.9 or 2.9.1.")
@click.option("--tensorflow", "tf_version", default=None, help="TensorFlow version, e.g. 2.20.")
@click.option(
    "--source",
    default="pip",
    show_default=True,
    help="pip (official wheels; Python from conda-forge) or conda-forge (conda packages).",
)
@click.option("--cpu", is_flag=True, help="CPU-only builds.")
@click.option("--name", default=None, help="The environment name (default: from the builds).")
@click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Write to FILE, - for standard output (default: environment.yml, pyproject.toml, "
    "pixi.toml or requirements.txt by --format; json: stdout).",
)
@force_option
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing a file.")
@click.option(
    "--format",
    "fmt",
    default=None,
    help="conda (environment.yml), uv (pyproject.toml), pixi (pixi.toml), requirements "
    "(requirements.txt for venv + pip) or json (the plan). Default: from --output's name, "
    "else conda.",
)
@click.option(
    "--torch-index-url",
    "torch_index_url",
    default=None,
    metavar="URL",
    help="A mirror of the PyTorch wheel index to use in every form ({variant} becomes cu126, "
    "cpu, ...).",
)
@click.option(
    "--solve",
    is_flag=True,
    help="Solve the conda part for the target's __cuda/__cuda_arch first (needs py-rattler).",
)
@click.option(
    "--solve-channel",
    "solve_channels",
    multiple=True,
    help="With --solve: a channel URL or folder to solve against instead of conda-forge.",
)
@click.option(
    "--solve-timeout",
    "solve_timeout_s",
    type=FiniteFloatRange(min=1, max=3600),
    default=SOLVE_TIMEOUT_S,
    show_default=True,
    help="With --solve: seconds for reading the channels and solving, together.",
)
@debug_option
def command(
    from_report: Path | None,
    from_fleet: Path | None,
    partition: str | None,
    driver: str | None,
    cc: str | None,
    os_name: str | None,
    arch: str | None,
    wsl: bool,
    glibc: str | None,
    framework: str,
    python: str | None,
    torch_version: str | None,
    tf_version: str | None,
    source: str,
    cpu: bool,
    name: str | None,
    output: Path | None,
    force: bool,
    to_stdout: bool,
    fmt: str | None,
    torch_index_url: str | None,
    solve: bool,
    solve_channels: tuple[str, ...],
    solve_timeout_s: float,
) -> int:
    """Write an environment whose PyTorch/TensorFlow build fits a machine.

    The form is a conda environment.yml, a uv project, a pixi manifest or a requirements.txt
    (--format); every form holds the same plan.

    With no target options the machine is this one. The build chosen is the newest release
    whose CUDA the driver runs (fully, else through minor-version compatibility, with a
    warning), whose arch list covers the GPU, and which supports the Python and the platform.
    Exit 1 when nothing fits, naming the nearest working combination.
    """
    check_typed(
        [
            ("--driver", driver),
            ("--cc", cc),
            ("--os", os_name),
            ("--arch", arch),
            ("--glibc", glibc),
            ("--format", fmt),
            ("--partition", partition),
            ("--output", None if output is None else str(output)),
            ("--from-report", None if from_report is None else str(from_report)),
            ("--from-fleet", None if from_fleet is None else str(from_fleet)),
            *(("--solve-channel", c) for c in solve_channels),
        ]
    )
    fmt = MAKE_ENV.resolve(fmt, output)
    request = Request.from_options(
        framework=framework,
        source=source,
        fmt=fmt,
        python=python,
        torch=torch_version,
        tensorflow=tf_version,
        cpu=cpu,
        name=name,
        torch_index_url=torch_index_url,
    )
    if to_stdout and output is not None:
        raise BadInputError("--stdout and --output exclude each other")
    # nothing is written (the plan is printed): --force would be dropped without a word
    if force and to_stdout:
        raise BadInputError(
            "--stdout and --force exclude each other (--stdout writes no file to replace)"
        )
    if force and output is None and fmt == "json":
        raise BadInputError(
            "--force goes with --output FILE: --format json prints the plan, writing no file"
        )
    if solve and fmt in PIP_ONLY:
        # it solved the plan's conda part, which such a file does not hold, and said "solvable"
        raise BadInputError(
            f"--solve solves the conda packages of the file: --format {fmt} installs wheels "
            "only (use --format conda or pixi)"
        )
    if solve_channels and not solve:
        raise BadInputError("--solve-channel needs --solve")
    if not solve and not defaulted("solve_timeout_s"):
        raise BadInputError("--solve-timeout needs --solve")
    kb = load()
    target = _target(
        kb,
        from_report=from_report,
        from_fleet=from_fleet,
        partition=partition,
        driver=driver,
        cc=cc,
        os=os_name,
        arch=arch,
        wsl=wsl,
        glibc=glibc,
        cpu=cpu,
    )
    plan = make_plan(kb, target, request)
    if solve:
        from gpudoctor.envplan.solve import solve_plan

        # one line as it starts, like make-env's other notes (terminal or log alike): reading
        # conda-forge can take up to --solve-timeout, which passed with no output at all
        result = solve_plan(
            kb,
            plan,
            solve_channels,
            timeout_s=solve_timeout_s,
            starting=lambda line: click.echo(f"make-env: {line}", err=True),
        )
        click.echo(
            f"--solve: solvable with {', '.join(result.virtual_packages)}: "
            + ", ".join(result.records),
            err=True,
        )
    text = MAKE_ENV.render(fmt, plan, _create_path(output, to_stdout, fmt))
    printed = output is None and (to_stdout or fmt == "json")
    # on stderr, like check and verify: stdout stays free for the file itself (-o -)
    emit(
        text,
        None if printed else output or Path(DEFAULT_FILES[fmt]),
        force=force,
        note=lambda path: "\n".join(
            [_summary(plan, wrote(path)), *(f"warning: {w}" for w in plan.warnings)]
        ),
    )
    return int(ExitCode.OK)
