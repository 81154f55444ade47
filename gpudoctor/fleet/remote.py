"""check on one compute node from a login node: pick a node that can start a job now, run
gpudoctor there through ``srun --immediate``, and read back its report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gpudoctor.errors import BadInputError, ExitCode, GpudoctorError
from gpudoctor.fleet import slurm
from gpudoctor.fleet.defaults import IMMEDIATE_S, REMOTE_TIMEOUT_S
from gpudoctor.fleet.partitions import is_gpu_gres
from gpudoctor.model import serialize
from gpudoctor.model.report import RemoteRun, Report, SiteInfo
from gpudoctor.model.slurm import FLAG_CHARS
from gpudoctor.probe.runcmd import CmdResult

PREFERRED_STATES = ("idle", "mixed")
"""States a node is chosen in, the idle first: a node that is fully allocated, completing or
drained would make srun wait (or give up after --immediate)."""


class NodeUnavailableError(GpudoctorError):
    """No compute node could run the check now (busy, drained, refused, no answer): exit 1,
    a fact about the cluster at this moment, not bad input."""

    exit_code = ExitCode.PROBLEMS


class NodeBusyError(NodeUnavailableError):
    """srun could not get the node's resources within --immediate (its GPUs are taken): another
    node of the partition may have them free."""


class NodeLaunchError(NodeBusyError):
    """SLURM gave the job a node that could not start its task (``Task launch for StepId=...
    failed on node n1: Communication connection failure``: a slurmd that stopped, which the
    controller marks down only after SlurmdTimeout): another node may start it."""


LAUNCH_REMEDY = " (try again later, or name another node with --nodelist)"
"""What a launch failure on every node tried leaves to do (not --immediate: no wait helps)."""

MAX_TRIES = 3
"""Nodes tried in turn when srun finds one busy: each costs up to --immediate seconds."""


@dataclass(frozen=True, kw_only=True)
class Where:
    """The node chosen, its partition and whether the job asks for a GPU."""

    node: str
    state: str
    partition: str | None
    gpu: bool


def choose_nodes(nodes: Sequence[slurm.ComputeNode], partition: str | None) -> list[Where]:
    """The idle nodes, then the mixed ones, that are runnable and not drained."""
    found = []
    for wanted in PREFERRED_STATES:
        for cn in nodes:
            n = cn.node
            if n.runnable and not n.drained and n.state.rstrip(FLAG_CHARS) == wanted:
                part = partition or (n.partitions[0] if n.partitions else None)
                gpu = any(is_gpu_gres(g) for g in cn.gres)
                found.append(Where(node=n.name, state=n.state, partition=part, gpu=gpu))
    return found


def choose_node(nodes: Sequence[slurm.ComputeNode], partition: str | None) -> Where | None:
    """An idle node (else a mixed one) that is runnable and not drained; None when none is."""
    found = choose_nodes(nodes, partition)
    return found[0] if found else None


def _states(nodes: Sequence[slurm.ComputeNode]) -> str:
    """``n1 allocated, n2 drained (maintenance)``, at most 8 nodes named."""
    shown = [
        f"{cn.node.name} {cn.node.state}" + (f" ({cn.node.reason})" if cn.node.reason else "")
        for cn in nodes[:8]
    ]
    more = f", +{len(nodes) - 8} more" if len(nodes) > 8 else ""
    return ", ".join(shown) + more


def _scope(partition: str | None, nodelist: str | None) -> str:
    parts = [f"partition {partition}"] if partition else []
    parts += [f"nodes {nodelist}"] if nodelist else []
    return " ".join(parts)


def check_partition_name(partition: str) -> str:
    """``partition`` when it can name one partition (what sinfo -p and srun -p would take)."""
    from gpudoctor.model.slurm import NODE_NAME

    if not NODE_NAME.fullmatch(partition):
        raise BadInputError(
            f"--partition {partition!r}: a partition name has letters, digits, '.', '_' and '-'"
        )
    return partition


def find_node(
    *,
    partition: str | None,
    nodelist: str | None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = slurm.QUERY_TIMEOUT_S,
) -> Where:
    """The node to check; bad input for an unknown partition or an empty selection, exit 1
    when every node is busy, drained or down."""
    return find_nodes(partition=partition, nodelist=nodelist, env=env, timeout_s=timeout_s)[0]


def find_nodes(
    *,
    partition: str | None,
    nodelist: str | None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = slurm.QUERY_TIMEOUT_S,
) -> list[Where]:
    """The nodes to try, best first (see :func:`find_node`); never empty."""
    nodes = slurm.list_compute_nodes(
        partition=partition, nodelist=nodelist, env=env, timeout_s=timeout_s
    )
    if not nodes:
        known = slurm.partition_names(env, timeout_s)
        if partition and partition not in known:
            raise BadInputError(
                f"--partition {partition}: no such partition (this cluster has: "
                f"{', '.join(known) or 'none'})"
            )
        if nodelist:
            within = f" in partition {partition}" if partition else ""
            raise BadInputError(f"--nodelist {nodelist}: sinfo lists none of these nodes{within}")
        raise BadInputError(f"--partition {partition} has no nodes")
    found = choose_nodes(nodes, partition)
    if not found:
        raise NodeUnavailableError(
            f"{_scope(partition, nodelist)}: no node is idle or mixed now ({_states(nodes)}); "
            "try again later, or name another with --partition/--nodelist"
        )
    return found


def srun_argv(where: Where) -> list[str]:
    """The options for srun beyond those srun_on sets: the partition and one GPU."""
    argv = []
    if where.partition:
        argv.append(f"--partition={where.partition}")
    if where.gpu:
        argv.append("--gres=gpu:1")
    return argv


def run_check(
    where: Where,
    command: Sequence[str],
    *,
    timeout_s: float = REMOTE_TIMEOUT_S,
    immediate_s: int = IMMEDIATE_S,
    env: Mapping[str, str] | None = None,
) -> Report:
    """Run ``command`` (a ``check --format json``) on the node; its report with ``remote`` set."""
    args = srun_argv(where)
    result = slurm.srun_on(
        where.node,
        command,
        timeout_s=timeout_s,
        immediate_s=immediate_s,
        srun_args=args,
        env=env,
        max_output_bytes=serialize.MAX_REPORT_BYTES,
    )
    report = _report(where, result, timeout_s)
    shown = slurm.srun_shown(where.node, command, immediate_s=immediate_s, srun_args=args)
    remote = RemoteRun(
        node=where.node,
        partition=where.partition,
        gres="gpu:1" if where.gpu else None,
        command=shown,
        duration_s=round(result.duration_s, 3),
    )
    return with_remote(report, remote)


def run_check_on_one_of(
    wheres: Sequence[Where],
    command: Sequence[str],
    *,
    announce: Callable[[Where], None],
    on_busy: Callable[[Where, str], None] | None = None,
    timeout_s: float = REMOTE_TIMEOUT_S,
    immediate_s: int = IMMEDIATE_S,
    env: Mapping[str, str] | None = None,
) -> Report:
    """:func:`run_check` on the first node of ``wheres`` that is not busy, trying at most
    :data:`MAX_TRIES`: a mixed node whose GPUs are all taken is refused after --immediate,
    while the next may have one free (sinfo's state does not say which)."""
    tried: list[str] = []
    for where in wheres[:MAX_TRIES]:
        announce(where)
        try:
            return run_check(where, command, timeout_s=timeout_s, immediate_s=immediate_s, env=env)
        except NodeBusyError as exc:
            tried.append(where.node)
            last = exc
            if on_busy is not None and len(tried) < min(len(wheres), MAX_TRIES):
                on_busy(where, str(exc))
    more = f" (nodes tried: {', '.join(tried)})" if len(tried) > 1 else ""
    raise NodeBusyError(f"{last}{more}")


def with_remote(report: Report, remote: RemoteRun | None) -> Report:
    """``report`` with ``site.remote`` set (a site section made when the node wrote none)."""
    import dataclasses

    site = report.site if report.site is not None else SiteInfo()
    return dataclasses.replace(report, site=dataclasses.replace(site, remote=remote))


def _report(where: Where, result: CmdResult, timeout_s: float) -> Report:
    """The node's report, or one line saying why there is none."""
    on = f"node {where.node}" + (f" (partition {where.partition})" if where.partition else "")
    if result.start_error:
        raise NodeUnavailableError(f"srun could not start: {result.start_error}")
    if result.overflowed:
        limit = serialize.MAX_REPORT_BYTES >> 20
        raise NodeUnavailableError(
            f"{on}: the output is larger than {limit} MiB, the most a report may be"
        )
    if result.timed_out:
        raise NodeUnavailableError(
            f"{on}: no report within {timeout_s:.0f} s (--remote-timeout); srun was stopped"
        )
    complaint = slurm.srun_error(result)
    text = result.stdout.strip()
    if complaint is not None and not text:
        if slurm.refused_by_policy(complaint):
            # waiting does not help, nor does another node of the partition
            raise NodeUnavailableError(
                f"{on}: srun refused the job: {complaint} (SLURM does not let this job run "
                f"there: see the partition's AllowAccounts, AllowQos and limits with `scontrol "
                f"show partition {where.partition or ''}`, and your accounts and QOS with "
                "`sacctmgr show assoc user=$USER`; srun reads SLURM_ACCOUNT and SLURM_QOS)"
            )
        if complaint.startswith("Task launch for "):
            # the node failed, not the queue: --immediate's longer wait never helped, and the
            # next idle node of the partition was not tried
            raise NodeLaunchError(
                f"{on}: the job could not start there: {complaint}{LAUNCH_REMEDY}"
            )
        error = NodeBusyError if "busy" in complaint.lower() else NodeUnavailableError
        raise error(
            f"{on}: srun refused the job: {complaint} (try again later, or wait longer with "
            "--immediate)"
        )
    if result.returncode not in (0, 1) or not text:
        raise NodeUnavailableError(f"{on}: the check failed there: {slurm.task_words(result)}")
    try:
        return serialize.report_from_bytes(text.encode(), f"the output from {where.node}")
    except (ValueError, BadInputError, RecursionError) as exc:
        raise NodeUnavailableError(f"{on}: the output is not a report: {exc}") from None
