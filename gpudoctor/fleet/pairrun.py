"""fleet pairs: a two-node all-reduce per pair through ``srun -N2``, each bounded, in turn."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, ReportFormatError
from gpudoctor.fleet import slurm
from gpudoctor.fleet.pairs import PAIRS_DIR, analyse
from gpudoctor.model.hardware import AllReduce, PairOutcome
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.runcmd import CmdResult, stopping

CHILD = "gpudoctor.verify.children.allreduce"
"""The module each node runs: one rank of the all-reduce, its rendezvous from SLURM's env."""
MAX_OUTPUT_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class PairJob:
    """How every pair runs: the interpreter on the nodes, the child's settings, srun's."""

    python: str
    device: str = "auto"
    """``auto`` (NCCL on a node whose torch sees a GPU, else gloo), ``cpu`` or ``cuda``."""
    sizes: tuple[int, ...] | None = None
    """None: the child's own sweep for its device."""
    init_timeout_s: float = 30.0
    seconds_per_size: float = 0.3
    pair_timeout_s: float = 120.0
    immediate_s: int = 10
    srun_args: tuple[str, ...] = ()


def pair_command(job: PairJob, addr: str) -> tuple[str, ...]:
    """The command srun starts on both nodes: rank and port come from SLURM's environment."""
    config: dict[str, Any] = {
        "addr": addr,
        "device": job.device,
        "init_timeout_s": job.init_timeout_s,
        "seconds_per_size": job.seconds_per_size,
    }
    if job.sizes is not None:
        config["sizes"] = list(job.sizes)
    return (job.python, "-m", CHILD, json.dumps(config, separators=(",", ":")))


RENDEZVOUS_GAVE_UP = ("clients joined", "no rendezvous at")
"""How a rank says its partner did not join in time: torch's TCPStore (``DistStoreError: Timed
out after 31 seconds waiting for clients. 1/2 clients joined.``) or the child's own watchdog."""


WAIT_MARGIN_S = 10
"""Beyond --init-timeout, how long srun lets one rank run on after the other ended."""


def ranks_wait_s(job: PairJob) -> int:
    """The ``--wait`` of a pair's srun: once one rank has ended, the other has the rendezvous's
    whole --init-timeout and a margin to end too (a partner that failed at once leaves rank 0
    time to say that it never joined), and is then stopped: a partner hung before the
    rendezvous no longer holds the pair until --pair-timeout."""
    return math.ceil(job.init_timeout_s) + WAIT_MARGIN_S


def read_outcome(
    nodes: tuple[str, str], result: CmdResult, timeout_s: float, *, cut: bool = False
) -> PairOutcome:
    """The pair as srun left it: the all-reduce of rank 0, or one line on why there is none.

    ``cut``: the run's --time-limit, not the pair's --pair-timeout, set ``timeout_s``."""
    took = round(result.duration_s, 2)
    events = []
    for line in result.stdout.splitlines():
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, a number of 4,300+ digits, too deep
            continue
        if isinstance(event, dict):
            events.append(event)
    for e in events:
        if e.get("event") == "allreduce":
            try:
                found = from_dict(AllReduce, e["allreduce"])
            except (ReportFormatError, KeyError) as exc:
                return PairOutcome(nodes=nodes, status="error", message=f"unreadable: {exc}")
            wrong = not found.correct
            return PairOutcome(
                nodes=nodes,
                allreduce=found,
                status="error" if wrong else "ok",
                message="the all-reduce gave a wrong sum" if wrong else "",
                duration_s=took,
            )
    said = [
        f"rank {e.get('rank', '?')}: {e.get('message', '')}"
        for e in events
        if e.get("event") == "error"
    ]
    if result.start_error:
        return PairOutcome(
            nodes=nodes,
            status="refused",
            message=f"srun could not start: {result.start_error}",
            duration_s=took,
        )
    # another program holds the rendezvous port on the first node (rank 0 cannot listen):
    # the pair never measured the nodes or the link, so it judges neither, as srun's refusal
    taken = [m for m in said if "EADDRINUSE" in m]
    if taken:
        return PairOutcome(
            nodes=nodes,
            status="refused",
            message=f"{nodes[0]}: the rendezvous port is taken by another program ({taken[0]})",
            duration_s=took,
        )
    if result.timed_out:
        # "no answer within 180 s" named neither the limit nor how to raise it
        limit = "the run's --time-limit ran out" if cut else "--pair-timeout"
        why = f"no answer within {timeout_s:.0f} s ({limit})" + (f" ({said[0]})" if said else "")
        return PairOutcome(nodes=nodes, status="timeout", message=why, duration_s=took)
    # a pair whose ranks both exited without a word (a --python neither node can start) is
    # counted as refused, as before srun_error left task exits out: it judges no node
    complaint = slurm.srun_error(result) or slurm.task_exit(result)
    if said:
        message = "; ".join(said[:2])
        if any(words in message for words in RENDEZVOUS_GAVE_UP):
            # torch's "Timed out after 31 seconds waiting for clients. 1/2 clients joined."
            # named no option, and --init-timeout is the one that sets that wait
            message += " (the rendezvous waits --init-timeout)"
        return PairOutcome(nodes=nodes, status="error", message=message, duration_s=took)
    if complaint is not None:
        return PairOutcome(
            nodes=nodes, status="refused", message=f"srun: {complaint}", duration_s=took
        )
    last = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    tail = last[-1] if last else f"exit status {result.returncode}"
    return PairOutcome(
        nodes=nodes, status="error", message=f"no result: {tail[:300]}", duration_s=took
    )


Progress = Callable[[PairOutcome, int, int], None]


def _partition_arg(
    nodes: Sequence[str], partitions: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """The first partition both nodes are in (sinfo's order): srun without one asks the
    default partition, which refuses nodes outside it. An --srun-arg comes later and wins."""
    theirs = partitions.get(nodes[1], ())
    common = [p for p in partitions.get(nodes[0], ()) if p in theirs]
    return (f"--partition={common[0]}",) if common else ()


def run_pairs(
    pairs: Sequence[tuple[str, str]],
    job: PairJob,
    *,
    time_limit_s: float,
    addresses: Mapping[str, str],
    partitions: Mapping[str, Sequence[str]] | None = None,
    env: Mapping[str, str] | None = None,
    on_done: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[PairOutcome]:
    """Each pair in turn (pairs share nodes: at once they would measure each other)."""
    cancel = cancel or threading.Event()
    deadline = time.monotonic() + time_limit_s
    outcomes: list[PairOutcome] = []
    for i, nodes in enumerate(pairs):
        left = deadline - time.monotonic()
        if cancel.is_set() or stopping():
            outcome = PairOutcome(
                nodes=nodes, status="refused", message="interrupted before its turn"
            )
        elif left <= 1:
            outcome = PairOutcome(
                nodes=nodes,
                status="refused",
                message="the run's --time-limit ran out before this pair's turn",
            )
        else:
            timeout = min(job.pair_timeout_s, left)
            addr = addresses.get(nodes[0], nodes[0])
            result = slurm.srun_pair(
                nodes,
                pair_command(job, addr),
                timeout_s=timeout,
                immediate_s=job.immediate_s,
                srun_args=(*_partition_arg(nodes, partitions or {}), *job.srun_args),
                env=env,
                cancel=cancel,
                max_output_bytes=MAX_OUTPUT_BYTES,
                wait_s=ranks_wait_s(job),
            )
            outcome = read_outcome(nodes, result, timeout, cut=timeout < job.pair_timeout_s)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome, i + 1, len(pairs))
    return outcomes


def keep_better(first: Sequence[PairOutcome], again: Sequence[PairOutcome]) -> list[PairOutcome]:
    """``first`` with each pair measured again replaced by its better run (higher bus bw)."""
    best = {o.nodes: o for o in again if o.busbw_gbps is not None}
    out = []
    for o in first:
        other = best.get(o.nodes)
        if other is not None and (other.busbw_gbps or 0.0) > (o.busbw_gbps or 0.0):
            out.append(other)
        else:
            out.append(o)
    return out


def prepare_dir(out_dir: Path, pairs: Sequence[tuple[str, str]], *, force: bool) -> Path:
    """``out_dir/pairs``, created; files of an earlier run there are refused without ``force``.

    With ``force`` they are removed here, before the first srun: pairs.json is written only at
    the end, so an earlier run's, kept through an interrupted run, was read by ``fleet report``
    as this one's ("All 1 pair(s) ... fine" of two nodes, for a run of three).
    """
    pair_dir = out_dir / PAIRS_DIR
    names = [f"{a}+{b}.json" for a, b in pairs] + ["pairs.json"]
    if pair_dir.is_dir():
        clash = [n for n in names if os.path.lexists(pair_dir / n)]
        if clash and not force:
            raise BadInputError(
                f"--output-dir {out_dir} already holds {PAIRS_DIR}/{clash[0]}; use --force to "
                "replace it or choose another folder"
            )
        for name in clash:
            if not (pair_dir / name).is_dir():
                try:
                    (pair_dir / name).unlink()
                except OSError as exc:
                    raise BadInputError(
                        f"--force: cannot remove {pair_dir / name} ({exc.strerror})"
                    ) from None
    try:
        pair_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--output-dir: cannot create {pair_dir} ({exc.strerror})") from None
    return pair_dir


def measure(
    pairs: Sequence[tuple[str, str]],
    job: PairJob,
    *,
    time_limit_s: float,
    addresses: Mapping[str, str],
    slow_factor: float,
    partitions: Mapping[str, Sequence[str]] | None = None,
    on_done: Progress | None = None,
    env: Mapping[str, str] | None = None,
) -> list[PairOutcome]:
    """Every pair once, then each slow pair that ran once more (``on_done`` hears both, the
    second time with 0 of 0): one burst of someone else's traffic must not name a link."""
    deadline = time.monotonic() + time_limit_s
    outcomes = run_pairs(
        pairs,
        job,
        time_limit_s=time_limit_s,
        addresses=addresses,
        partitions=partitions,
        env=env,
        on_done=on_done,
    )
    _, slow, _, _ = analyse(outcomes, slow_factor)
    again = [o.nodes for o in outcomes if o.nodes in slow and o.status == "ok"]
    if not again:
        return outcomes
    retried = run_pairs(
        again,
        job,
        time_limit_s=max(0.0, deadline - time.monotonic()),
        addresses=addresses,
        partitions=partitions,
        env=env,
    )
    outcomes = keep_better(outcomes, retried)
    if on_done is not None:
        for outcome in outcomes:
            if outcome.nodes in again:
                on_done(outcome, 0, 0)
    return outcomes
