"""The only code that runs SLURM commands (sinfo, srun, scontrol), each with a timeout."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gpudoctor.errors import SlurmUnavailableError
from gpudoctor.model.slurm import DRAIN_PREFIX, SlurmNode
from gpudoctor.probe.runcmd import CmdResult, run_cmd

if TYPE_CHECKING:
    from gpudoctor.model.report import SlurmCluster

# The node and the error live in the model and errors.py (the pure gate uses them without this
# adapter); they are re-exported, so that callers of the adapter find them here too.
__all__ = [
    "CLUSTER_TIMEOUT_S",
    "DRAIN_PREFIX",
    "FLEET_JOB_NAME",
    "GATE_QUERY_TIMEOUT_S",
    "QUERY_TIMEOUT_S",
    "SRUN_TERM_GRACE_S",
    "SlurmNode",
    "SlurmUnavailableError",
    "asks_as_login_node",
    "drain",
    "job_step",
    "list_nodes",
    "node_addresses",
    "node_gres_command",
    "node_gres_state",
    "node_state",
    "own_job_env",
    "parse_sinfo",
    "parse_time_limit",
    "partition_max_minutes",
    "query_cluster",
    "refused_by_policy",
    "resume",
    "srun_error",
    "srun_on",
    "srun_pair",
    "task_exit",
    "task_words",
]

QUERY_TIMEOUT_S = 30.0
"""sinfo and scontrol answer in milliseconds; a controller that takes this long is down."""
GATE_QUERY_TIMEOUT_S = 5.0
"""The health gate's limit per sinfo or scontrol: it runs inside SLURM's 60 s for a
HealthCheckProgram, after its probes. A stopped controller makes sinfo give up by itself in
about 4 s (measured: MessageTimeout=5), a missing configuration makes it retry for 60 s."""
SRUN_TERM_GRACE_S = 5.0
"""srun cancels its job step on SIGTERM; SIGKILL would leave the step to the controller."""

# What SLURM's commands print (22.05) when they cannot read a configuration, or reach slurmctld.
_CONFIG_WORDS = (
    "cannot stat file",
    "Unable to process configuration file",
    "Could not establish a configuration source",
)
_CONTROLLER_WORDS = ("Unable to contact slurm controller",)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        # check --partition, make-env --partition and onboard come here too: "fleet needs"
        # named a command the person had not run
        raise SlurmUnavailableError(
            f"{tool} not found on PATH: gpudoctor reaches the cluster through SLURM's client "
            "commands (sinfo, srun, scontrol; Debian's package slurm-client)",
            SlurmUnavailableError.NOT_INSTALLED,
        )
    return path


def _query(
    argv: Sequence[str], env: Mapping[str, str] | None, timeout_s: float = QUERY_TIMEOUT_S
) -> str:
    _check_config(env)
    tool = Path(argv[0]).name
    result = run_cmd(argv, timeout_s=timeout_s, env=env)
    said = _last_error(result) if result.stderr.strip() or result.start_error else ""
    cause = _cause(result.stderr)
    if result.timed_out:
        # sinfo retries a configuration it cannot read for 60 s: its first words say so.
        why = f": {said}" if said else ""
        raise SlurmUnavailableError(
            f"{tool} gave no answer in {timeout_s:.0f} s{why}",
            cause if cause != SlurmUnavailableError.FAILED else _UNREACHABLE,
        )
    if not result.ok:
        raise SlurmUnavailableError(f"{tool} failed: {_last_error(result)}", cause)
    return result.stdout


_UNREACHABLE = SlurmUnavailableError.CONTROLLER_UNREACHABLE


def _cause(stderr: str) -> str:
    if any(words in stderr for words in _CONFIG_WORDS):
        return SlurmUnavailableError.CONFIG_MISSING
    if any(words in stderr for words in _CONTROLLER_WORDS):
        return _UNREACHABLE
    return SlurmUnavailableError.FAILED


def _check_config(env: Mapping[str, str] | None) -> None:
    """A ``SLURM_CONF`` that names no file: said at once (sinfo would retry it for 60 s).

    Without ``SLURM_CONF`` the commands may find their configuration elsewhere (configless
    mode), so only sinfo can tell.
    """
    conf = (env if env is not None else os.environ).get("SLURM_CONF")
    if conf and not Path(conf).is_file():
        raise SlurmUnavailableError(
            f"SLURM_CONF={conf} names no file", SlurmUnavailableError.CONFIG_MISSING
        )


PENDING_REASON_TIMEOUT_S = 10.0


def pending_reason(job: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why SLURM keeps ``job`` waiting, as squeue says it (``Resources``, ``Priority``,
    ``ReqNodeNotAvail, ...``); None when squeue cannot tell (or the job is no longer pending)."""
    try:
        argv = [_require("squeue"), "-h", "-j", job, "-o", "%r"]
        said = _query(argv, env, PENDING_REASON_TIMEOUT_S).strip()
    except SlurmUnavailableError:
        return None
    return said if said and said != "None" else None


def partition_max_minutes(
    partition: str, env: Mapping[str, str] | None = None, timeout_s: float = GATE_QUERY_TIMEOUT_S
) -> int | None:
    """The longest job ``partition`` takes (sinfo's ``%l``, its MaxTime), in whole minutes;
    None for no limit or when sinfo cannot tell. A job asking for more waits in the queue for
    ever (squeue: ``PartitionTimeLimit``) unless the site sets EnforcePartLimits."""
    try:
        argv = [_require("sinfo"), "-h", "-p", partition, "-o", "%l"]
        said = _query(argv, env, timeout_s).split()
    except SlurmUnavailableError:
        return None
    return parse_time_limit(said[0]) if said else None


_TIME_LIMIT = re.compile(r"^(?:([0-9]{1,9})-)?([0-9]{1,9})(?::([0-9]{1,9}))?(?::([0-9]{1,9}))?$")
"""At most 9 digits a field: SLURM's limits are 32-bit minutes, and int() refuses more than
4,300 digits (a longer field is a form this does not know)."""


def parse_time_limit(text: str) -> int | None:
    """SLURM's time limit (``10:00``, ``1:00:00``, ``2-00:00:00``, ``2-12``, ``30``) in whole
    minutes, at least 1; None for ``infinite``, ``UNLIMITED`` or a form it does not know."""
    match = _TIME_LIMIT.match(text.strip())
    if match is None:
        return None
    days, first, second, third = match.groups()
    parts = [int(p) for p in (first, second, third) if p is not None]
    if days is not None:  # days-hours[:minutes[:seconds]]
        hours, minutes, _ = [*parts, 0, 0][:3]
    elif len(parts) == 3:  # hours:minutes:seconds
        hours, minutes, _ = parts
    else:  # minutes[:seconds]
        hours, minutes = 0, parts[0]
    total = (int(days or 0) * 24 + hours) * 60 + minutes
    return max(total, 1)


def list_nodes(
    *,
    partition: str | None = None,
    nodelist: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = QUERY_TIMEOUT_S,
) -> tuple[SlurmNode, ...]:
    """The nodes sinfo lists (of one partition and/or hostlist), with state, reason, partitions."""
    argv = [_require("sinfo"), "-h", "-N", "-o", "%N|%T|%P|%E"]
    if partition:
        argv += ["-p", partition]
    if nodelist:
        argv += ["-n", nodelist]
    return parse_sinfo(_query(argv, env, timeout_s))


def parse_sinfo(text: str) -> tuple[SlurmNode, ...]:
    """``sinfo -h -N -o '%N|%T|%P|%E'`` output -> nodes (one line per node and partition)."""
    nodes: dict[str, SlurmNode] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, state, partition, reason = ([*line.split("|", 3), "", "", ""])[:4]
        name, partition = name.strip(), partition.strip().rstrip("*")
        reason = "" if reason.strip() == "none" else reason.strip()
        old = nodes.get(name)
        parts = (*old.partitions, partition) if old else (partition,)
        nodes[name] = SlurmNode(
            name=name,
            state=state.strip(),
            reason=reason,
            partitions=tuple(p for p in dict.fromkeys(parts) if p),
        )
    return tuple(nodes.values())


def node_state(
    name: str, env: Mapping[str, str] | None = None, timeout_s: float = QUERY_TIMEOUT_S
) -> SlurmNode | None:
    """One node's state and reason now; None when sinfo answered without it.

    SLURM that cannot answer (no commands, no configuration, no controller) raises
    :class:`SlurmUnavailableError`: "unknown node" and "SLURM unreachable" are not the same.
    """
    found = list_nodes(nodelist=name, env=env, timeout_s=timeout_s)
    return next((n for n in found if n.name == name), None)


def node_gres_state(
    name: str, env: Mapping[str, str] | None = None, timeout_s: float = QUERY_TIMEOUT_S
) -> ComputeNode | None:
    """One node's state, reason and configured GRES in one ``sinfo``; None when sinfo answered
    without it. Raises :class:`SlurmUnavailableError` as :func:`node_state` does."""
    found = list_compute_nodes(nodelist=name, env=env, timeout_s=timeout_s)
    return next((n for n in found if n.node.name == name), None)


def node_gres_command(name: str) -> str:
    """The sinfo of :func:`node_gres_state`, as a person would type it (for the report)."""
    return shlex.join(["sinfo", "-h", "-N", "-o", NODE_GRES_FORMAT, "-n", name])


FLEET_JOB_NAME = "gpudoctor-fleet"
"""The name of the jobs fleet run and check --partition start on a node (SLURM_JOB_NAME there)."""


def _srun_argv(
    srun: str, node: str, command: Sequence[str], immediate_s: int, srun_args: Sequence[str]
) -> list[str]:
    """One task on ``node``, given up at once when it cannot start there."""
    return [
        srun,
        "--nodes=1",
        "--ntasks=1",
        f"--nodelist={node}",
        # Without it srun queues behind a busy or drained node for ever.
        f"--immediate={max(1, immediate_s)}",
        f"--job-name={FLEET_JOB_NAME}",
        *srun_args,
        *command,
    ]


NO_HISTORY_VARIABLE = "GPUDOCTOR_NO_HISTORY"
"""What turns history off in a gpudoctor started on a node (history/store.py reads it)."""


KEPT_IN_A_JOB = frozenset({"SLURM_CONF", "SLURM_ACCOUNT", "SLURM_QOS", "SLURM_CLUSTERS"})
"""SLURM_* variables passed on from inside a job: where the configuration is, and the
defaults a person sets in a profile (sbatch writes the job's own as SLURM_JOB_ACCOUNT, ...;
SLURM_CLUSTERS, srun's -M, names the cluster of a multi-cluster site; srun(1), INPUT
ENVIRONMENT VARIABLES)."""


def own_job_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an srun that must be a job of its own.

    Inside a job (an salloc shell, a nightly sbatch running ``fleet run``) srun reads
    SLURM_JOB_ID as --jobid and makes a step of that job, which cannot reach another node:
    every node was "Unable to create step for job 60: Requested node configuration is not
    available". The job's other SLURM_* variables (SLURM_CPUS_PER_TASK, SLURM_MEM_PER_NODE,
    SLURM_EXPORT_ENV, ...) are srun's input too, so all of them are left out but
    :data:`KEPT_IN_A_JOB`; outside a job the environment is passed on as it is.
    """
    source = os.environ if env is None else env
    if not (source.get("SLURM_JOB_ID") or source.get("SLURM_JOBID")):
        return dict(source)
    return {k: v for k, v in source.items() if not k.startswith("SLURM_") or k in KEPT_IN_A_JOB}


def srun_on(
    node: str,
    command: Sequence[str],
    *,
    timeout_s: float,
    immediate_s: int,
    srun_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    max_output_bytes: int | None = None,
) -> CmdResult:
    """Run ``command`` as one task on ``node``; give up at once if it cannot start there.

    With ``max_output_bytes``, output past it is dropped unread into memory and srun is
    stopped (the result is ``overflowed``). The task keeps no history (GPUDOCTOR_NO_HISTORY,
    which srun passes on with the rest of the environment): it answers a fleet's or a login
    node's question, and the home it would keep it in is usually shared by every node.
    """
    argv = _srun_argv(_require("srun"), node, command, immediate_s, srun_args)
    return _run_task(argv, timeout_s, env, cancel, max_output_bytes)


def _run_task(
    argv: list[str],
    timeout_s: float,
    env: Mapping[str, str] | None,
    cancel: threading.Event | None,
    max_output_bytes: int | None,
) -> CmdResult:
    """``argv`` (an srun) run as a job of its own whose tasks keep no history, bounded."""
    # An environment variable, not --no-history: --command may start an older gpudoctor.
    task_env = {**own_job_env(env), NO_HISTORY_VARIABLE: "1"}
    return run_cmd(
        argv,
        timeout_s=timeout_s,
        env=task_env,
        cancel=cancel,
        term_grace_s=SRUN_TERM_GRACE_S,
        max_output_bytes=max_output_bytes,
    )


def pair_argv(
    srun: str,
    nodes: Sequence[str],
    command: Sequence[str],
    immediate_s: int,
    srun_args: Sequence[str],
    wait_s: int | None = None,
) -> list[str]:
    """One task on each node of ``nodes`` (one job step), given up at once when it cannot start.

    ``wait_s``: srun's ``--wait``, how long the other task may run on once one has ended.
    Without it, rank 0 giving up on a partner hung before the rendezvous left srun waiting on
    that partner until the pair's timeout (180 s by default), and the pair read as a timeout,
    not as rank 0's error. (``--kill-on-bad-exit`` would end it at once, also when the partner
    fails first, before rank 0 has said that it never joined.)
    """
    return [
        srun,
        f"--nodes={len(nodes)}",
        f"--ntasks={len(nodes)}",
        "--ntasks-per-node=1",
        f"--nodelist={','.join(nodes)}",
        f"--immediate={max(1, immediate_s)}",
        *([f"--wait={max(1, wait_s)}"] if wait_s is not None else []),
        "--job-name=gpudoctor-pairs",
        *srun_args,
        *command,
    ]


def srun_pair(
    nodes: Sequence[str],
    command: Sequence[str],
    *,
    timeout_s: float,
    immediate_s: int,
    srun_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    max_output_bytes: int | None = None,
    wait_s: int | None = None,
) -> CmdResult:
    """Run ``command`` once on each of ``nodes`` in one job step (``srun -N2``), bounded;
    ``wait_s`` bounds how long one task outlives the other (:func:`pair_argv`)."""
    argv = pair_argv(_require("srun"), nodes, command, immediate_s, srun_args, wait_s)
    return _run_task(argv, timeout_s, env, cancel, max_output_bytes)


def node_addresses(
    names: Sequence[str], env: Mapping[str, str] | None = None, timeout_s: float = QUERY_TIMEOUT_S
) -> dict[str, str]:
    """Each node's NodeAddr (``sinfo -N -o '%N|%o'``): where its peers reach it.

    The rendezvous of a pair listens on its first node's address; a node name need not
    resolve (emulated nodes, or names only SLURM knows), the address slurmctld uses does.
    """
    if not names:
        return {}
    argv = [_require("sinfo"), "-h", "-N", "-n", ",".join(names), "-o", "%N|%o"]
    found: dict[str, str] = {}
    for line in _query(argv, env, timeout_s).splitlines():
        name, _, addr = line.partition("|")
        if name.strip() and addr.strip():
            found[name.strip()] = addr.strip()
    return found


def drain(
    node: str,
    reason: str,
    env: Mapping[str, str] | None = None,
    timeout_s: float = QUERY_TIMEOUT_S,
) -> None:
    """``scontrol update nodename=NODE state=drain reason=REASON``."""
    argv = [_require("scontrol"), "update", f"nodename={node}", "state=drain", f"reason={reason}"]
    _query(argv, env, timeout_s)


def resume(
    node: str, env: Mapping[str, str] | None = None, timeout_s: float = QUERY_TIMEOUT_S
) -> None:
    """``scontrol update nodename=NODE state=resume``."""
    _query([_require("scontrol"), "update", f"nodename={node}", "state=resume"], env, timeout_s)


def _last_error(result: CmdResult) -> str:
    """The last line a SLURM command printed on stderr (its error), or its exit status."""
    if result.start_error:
        return result.start_error
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


_TASK_EXIT = re.compile(r"\S+: tasks? [0-9][0-9,\-]*: ")
"""How srun reports a task that ran and ended: ``n1: task 0: Exited with exit code 2``,
``n1: task 0: Killed``. The node was reached: the command itself failed there."""


def _srun_errors(result: CmdResult) -> list[str]:
    return [
        ln.strip().removeprefix("srun: error:").strip()
        for ln in result.stderr.splitlines()
        if ln.strip().startswith("srun: error:")
    ]


def srun_error(result: CmdResult) -> str | None:
    """srun's own complaint (``Unable to allocate resources: ...``), None when it has none.

    A task's exit (``n1: task 0: Exited with exit code 2``) is not one: the job ran. Taken for
    one, a ``--check-args`` check refused, or a ``--command`` the node cannot run, read as
    the node not reached, and check's own words were lost.
    """
    errors = [e for e in _srun_errors(result) if not _TASK_EXIT.match(e)]
    if not errors:
        return None
    # The first error names the cause; later ones are its consequences (Job step aborted ...)
    held = _held_because(result)
    if held is not None and _GIVEN_UP.search(errors[0]):
        # --immediate gives up with "Requested nodes are busy" whatever held the job; the
        # reason srun printed first (an account the partition does not allow) was lost, and
        # idle nodes were reported busy, to be tried again later
        return held
    return errors[0]


_QUEUED = re.compile(r"srun: job [0-9]+ queued and waiting for resources")
_GIVEN_UP = re.compile(r"Requested nodes are busy|Nodes busy")


def _held_because(result: CmdResult) -> str | None:
    """Why a job was queued, in srun's words: the line it prints just before ``job N queued
    and waiting for resources`` (``Requested partition configuration not available now``);
    None when it gave none, or said the nodes were busy."""
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    for before, line in itertools.pairwise(lines):
        if _QUEUED.fullmatch(line) and before.startswith("srun: ") and not _QUEUED.match(before):
            reason = before.removeprefix("srun: ").removeprefix("error: ").strip()
            return None if _GIVEN_UP.search(reason) else reason
    return None


_POLICY = re.compile(
    r"account|qos|partition configuration|not permitted|permission denied|association|"
    r"violates|invalid partition",
    re.IGNORECASE,
)


def refused_by_policy(complaint: str) -> bool:
    """Whether srun's complaint is SLURM's policy (an account, a QOS, the partition's limits),
    which waiting does not change, rather than nodes that are busy now."""
    return _POLICY.search(complaint) is not None


def task_exit(result: CmdResult) -> str | None:
    """srun's line on a task that ran and ended (``n1: task 0: Exited with exit code 2``)."""
    return next((e for e in _srun_errors(result) if _TASK_EXIT.match(e)), None)


def task_words(result: CmdResult, limit: int = 300) -> str:
    """Why a job step's command failed, in its own words: the last line it (or slurmstepd)
    wrote on stderr, not srun's ``task 0: Exited with exit code 2`` after it; srun's line, or
    the exit status, when the command said nothing."""
    own = [
        ln.strip()
        for ln in result.stderr.splitlines()
        if ln.strip() and not ln.strip().startswith("srun: ")
    ]
    said = own[-1] if own else task_exit(result) or _last_error(result)
    return said if len(said) <= limit else said[: limit - 3] + "..."


# --- where am I: the cluster as `check` shows it on a login node ------------------------------

CLUSTER_TIMEOUT_S = 5.0
"""check's budget for sinfo: a controller that takes longer is reported as not answering."""


def asks_as_login_node(env: Mapping[str, str] | None = None) -> bool:
    """Whether to ask SLURM for its partitions: sinfo is installed and this is not inside a
    job (a job knows its partition; a workstation without sinfo pays nothing)."""
    env = env if env is not None else os.environ
    if env.get("SLURM_JOB_ID"):
        return False
    return shutil.which("sinfo", path=env.get("PATH")) is not None


def query_cluster(
    env: Mapping[str, str] | None = None, *, timeout_s: float = CLUSTER_TIMEOUT_S
) -> SlurmCluster | None:
    """The partitions with their nodes, GRES and features; None without ``sinfo`` on PATH.

    Never raises: a controller that does not answer is recorded as unreachable, since check
    must still report on this machine.
    """
    from gpudoctor.fleet.partitions import SINFO_PARTITIONS_FORMAT, parse_partitions
    from gpudoctor.model.report import SlurmCluster

    path = shutil.which("sinfo", path=(env or os.environ).get("PATH", ""))
    if path is None:
        return None
    argv = [path, "-h", "-o", SINFO_PARTITIONS_FORMAT]
    shown = f"sinfo -h -o '{SINFO_PARTITIONS_FORMAT}'"
    try:
        _check_config(env)  # sinfo would retry a SLURM_CONF that names nothing for 60 s
    except SlurmUnavailableError as exc:
        return SlurmCluster(reachable=False, command=shown, message=str(exc), duration_s=0.0)
    result = run_cmd(argv, timeout_s=timeout_s, env=env)
    took = round(result.duration_s, 3)
    if result.timed_out:
        message = f"sinfo gave no answer in {timeout_s:g} s"
    elif not result.ok:
        message = f"sinfo failed: {_last_error(result)}"
    else:
        return SlurmCluster(
            reachable=True,
            command=shown,
            partitions=parse_partitions(result.stdout)[:200],
            duration_s=took,
        )
    return SlurmCluster(reachable=False, command=shown, message=message, duration_s=took)


# --- check on a compute node: the nodes of a partition with their GRES -----------------------

NODE_GRES_FORMAT = "%N|%T|%P|%G|%E"
"""Node, long state, partition, GRES, reason (last: a reason may hold ``|``)."""


@dataclass(frozen=True, kw_only=True)
class ComputeNode:
    """A node as ``check --partition`` sees it: its state and the GRES it offers."""

    node: SlurmNode
    gres: tuple[str, ...] = ()
    """``gpu:h100:8(S:0-1)`` ...; empty for a node without generic resources."""


def list_compute_nodes(
    *,
    partition: str | None = None,
    nodelist: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = QUERY_TIMEOUT_S,
) -> tuple[ComputeNode, ...]:
    """The nodes of a partition and/or hostlist with state, partitions and GRES."""
    argv = [_require("sinfo"), "-h", "-N", "-o", NODE_GRES_FORMAT]
    if partition:
        argv += ["-p", partition]
    if nodelist:
        argv += ["-n", nodelist]
    return parse_sinfo_gres(_query(argv, env, timeout_s))


def parse_sinfo_gres(text: str) -> tuple[ComputeNode, ...]:
    """``sinfo -h -N -o '%N|%T|%P|%G|%E'`` output -> nodes with their GRES."""
    from gpudoctor.fleet.partitions import gres_list

    rows: list[str] = []
    gres: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, state, part, node_gres, reason = ([*line.split("|", 4), "", "", "", ""])[:5]
        rows.append(f"{name}|{state}|{part}|{reason}")
        gres.setdefault(name.strip(), gres_list(node_gres))
    return tuple(ComputeNode(node=n, gres=gres[n.name]) for n in parse_sinfo("\n".join(rows)))


def partition_names(
    env: Mapping[str, str] | None = None, timeout_s: float = QUERY_TIMEOUT_S
) -> tuple[str, ...]:
    """Every partition's name (``sinfo -h -o %P``, the default's ``*`` dropped)."""
    out = _query([_require("sinfo"), "-h", "-o", "%P"], env, timeout_s)
    return tuple(dict.fromkeys(ln.strip().rstrip("*") for ln in out.splitlines() if ln.strip()))


def job_step(
    partition: str,
    command: Sequence[str],
    *,
    gpus: int = 1,
    time_limit: str = "00:30:00",
    job_name: str = "gpudoctor",
    env: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The srun command line that runs ``command`` as a job step on ``gpus`` GPUs of
    ``partition`` (queued like any job; ``time_limit`` bounds it once it runs).

    Run from inside a job (``env``, default this process's, has SLURM_JOB_ID), srun would make
    a step of that job on its nodes ("Unable to create step for job 69: Invalid generic
    resource (gres) specification"): the line starts ``env -u SLURM_JOB_ID -u SLURM_JOBID``,
    so that it is a job of its own on ``partition``, as printed.
    """
    source = os.environ if env is None else env
    outside = [
        w for name in ("SLURM_JOB_ID", "SLURM_JOBID") if source.get(name) for w in ("-u", name)
    ]
    return (
        *(("env", *outside) if outside else ()),
        "srun",
        "-p",
        partition,
        f"--gres=gpu:{gpus}",
        "--ntasks=1",
        f"--time={time_limit}",
        f"--job-name={job_name}",
        *command,
    )


def srun_shown(
    node: str, command: Sequence[str], *, immediate_s: int, srun_args: Sequence[str]
) -> str:
    """The command line :func:`srun_on` runs, as a person would type it (for the report)."""
    return shlex.join(_srun_argv("srun", node, command, immediate_s, srun_args))
