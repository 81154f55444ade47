"""fleet run: one srun per node, a bounded number at once, all inside one time limit."""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from gpudoctor.fleet import slurm
from gpudoctor.model import serialize
from gpudoctor.model.slurm import NODE_NAME
from gpudoctor.probe.runcmd import CmdResult, stopping
from gpudoctor.userfiles.read import describe_size

SAFE_NODE_NAME = NODE_NAME
"""A node name that is also a safe file name (no path separator, no leading dot)."""


@dataclass(frozen=True, kw_only=True)
class NodeJob:
    """What to run on every node: the check command and, optionally, the verify command."""

    check: tuple[str, ...]
    verify: tuple[str, ...] | None = None
    node_timeout_s: float = 120.0
    verify_timeout_s: float = 600.0
    immediate_s: int = 10
    srun_args: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NodeOutcome:
    """What one node gave back: a report (and a verify result), or why not."""

    node: str
    partitions: tuple[str, ...] = ()
    check_json: str | None = None
    verify_json: str | None = None
    not_reached: tuple[str, str] | None = None
    """(SLURM state, reason) when no report came back because the node could not be used."""
    errors: tuple[tuple[str, str], ...] = ()
    """(file name, error) for output that came back unusable."""
    outputs: tuple[tuple[str, str], ...] = ()
    """(file name, as in ``errors``; the text to keep for the admin) for each error whose
    command ran and printed something unusable: what it printed, bounded."""
    duration_s: float = 0.0


def gather(
    nodes: Sequence[slurm.SlurmNode],
    job: NodeJob,
    *,
    time_limit_s: float,
    concurrency: int,
    env: Mapping[str, str] | None = None,
    on_done: Callable[[NodeOutcome], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[NodeOutcome]:
    """Run ``job`` on every node; nodes that cannot run it are outcomes too, never waited on.

    ``on_done`` hears of each node as it finishes (from the calling thread), so a caller can
    save its report at once. Setting ``cancel`` (or Ctrl-C in the calling thread) stops the
    sruns under way; every outcome gathered until then is returned, the rest as not reached.
    """
    cancel = cancel or threading.Event()
    deadline = time.monotonic() + time_limit_s
    outcomes: list[NodeOutcome] = []

    def report(outcome: NodeOutcome) -> None:
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)

    runnable = []
    for node in nodes:
        if not SAFE_NODE_NAME.fullmatch(node.name):
            report(_refused(node, "node name is not a safe file name"))
        elif not node.runnable:
            report(
                NodeOutcome(
                    node=node.name,
                    partitions=node.partitions,
                    not_reached=(node.state, node.reason or _state_words(node.state)),
                )
            )
        else:
            runnable.append(node)
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fleet")
    futures: dict[Future[NodeOutcome], slurm.SlurmNode] = {
        pool.submit(_one_node, node, job, deadline, env, cancel): node for node in runnable
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                report(future.result())
    except BaseException:
        cancel.set()  # Ctrl-C: stop every srun, keep what came back
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        for future in pending:
            if future.done() and not future.cancelled():
                report(future.result())
            else:
                node = futures[future]
                report(
                    NodeOutcome(
                        node=node.name,
                        partitions=node.partitions,
                        not_reached=(node.state, "interrupted before it answered"),
                    )
                )
        raise
    pool.shutdown(wait=True)
    return outcomes


def _refused(node: slurm.SlurmNode, why: str) -> NodeOutcome:
    return NodeOutcome(node=node.name, partitions=node.partitions, not_reached=(node.state, why))


def _state_words(state: str) -> str:
    if "*" in state:
        return "not responding"
    return f"state {state}"


def _one_node(
    node: slurm.SlurmNode,
    job: NodeJob,
    deadline: float,
    env: Mapping[str, str] | None,
    cancel: threading.Event,
) -> NodeOutcome:
    start = time.monotonic()
    left = deadline - start
    if cancel.is_set():
        return _refused(node, "interrupted before its turn")
    if left <= 1:
        return _refused(node, "the run's --time-limit ran out before this node's turn")
    timeout = min(job.node_timeout_s, left)
    # srun without --partition asks the default partition, which refuses a node outside it
    # ("Requested node configuration is not available"): name the node's own (sinfo -p P
    # lists P alone). One name, not all: SLURM_JOB_PARTITION, which check reports, would read
    # "a,b". An --srun-arg=--partition=... comes later and wins.
    own = (f"--partition={node.partitions[0]}",) if node.partitions else ()
    srun_args = (*own, *job.srun_args)

    def step(command: tuple[str, ...], timeout_s: float) -> CmdResult:
        # A node's output is a report: capped as a report file is, so that a node that
        # floods srun costs at most the cap in memory, not what it sent.
        return slurm.srun_on(
            node.name,
            command,
            timeout_s=timeout_s,
            immediate_s=job.immediate_s,
            srun_args=srun_args,
            env=env,
            cancel=cancel,
            max_output_bytes=serialize.MAX_REPORT_BYTES,
        )

    result = step(job.check, timeout)
    missing = _why_no_output(node, result, timeout, env, cut=timeout < job.node_timeout_s)
    if missing is not None:
        name, error = f"{node.name}.json", missing[1]
        return NodeOutcome(
            node=node.name,
            partitions=node.partitions,
            not_reached=missing[0] if error is None else None,
            errors=() if error is None else ((name, error),),
            outputs=() if error is None else ((name, unusable_text(node.name, result, error)),),
            duration_s=time.monotonic() - start,
        )
    check_json = result.stdout
    verify_json = None
    errors: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    if job.verify is not None:
        left = deadline - time.monotonic()
        if left <= 1 or cancel.is_set():
            errors.append((f"{node.name}.verify.json", "no time left for verify"))
        else:
            vtimeout = min(job.verify_timeout_s, left)
            vresult = step(job.verify, vtimeout)
            vmissing = _why_no_output(
                node, vresult, vtimeout, env, ok_codes=(0, 1), cut=vtimeout < job.verify_timeout_s
            )
            name = f"{node.name}.verify.json"
            if vmissing is None:
                verify_json = vresult.stdout
            else:
                errors.append((name, vmissing[1] or f"verify: {vmissing[0][1]}"))
                if vmissing[1] is not None:
                    outputs.append((name, unusable_text(node.name, vresult, vmissing[1])))
    return NodeOutcome(
        node=node.name,
        partitions=node.partitions,
        check_json=check_json,
        verify_json=verify_json,
        errors=tuple(errors),
        outputs=tuple(outputs),
        duration_s=time.monotonic() - start,
    )


KEPT_HEAD_CHARS = 64 * 1024
KEPT_TAIL_CHARS = 192 * 1024
"""What is kept of each stream a node sent instead of a report: its start (a report cut off,
a wrong program's banner) and more of its end (where a traceback or srun's error is)."""


def unusable_text(node: str, result: CmdResult, error: str) -> str:
    """What ``node`` printed instead of a report, as the run's folder keeps it for the admin:
    the command, how it ended, why its output is unusable, then its stdout and its stderr,
    each bounded (at most about 256 K characters)."""
    ended = (
        f"exit status {result.returncode}"
        if result.returncode is not None
        else "stopped (more output than a report may be)"
        if result.overflowed
        else "stopped"
    )
    return (
        f"# what node {node} printed instead of a report (gpudoctor fleet run)\n"
        f"# command: {shlex.join(result.argv)}\n# ended: {ended}\n# unusable: {error}\n"
        f"{_part('stdout', result.stdout)}{_part('stderr', result.stderr)}"
    )


def _part(name: str, text: str) -> str:
    size = f"{len(text)} characters"
    if len(text) > KEPT_HEAD_CHARS + KEPT_TAIL_CHARS:
        left = len(text) - KEPT_HEAD_CHARS - KEPT_TAIL_CHARS
        text = (
            f"{text[:KEPT_HEAD_CHARS]}\n[... {left} characters left out ...]\n"
            f"{text[-KEPT_TAIL_CHARS:]}"
        )
        size += f"; the first {KEPT_HEAD_CHARS} and the last {KEPT_TAIL_CHARS} kept"
    return f"--- {name} ({size})\n{text}" + ("" if not text or text.endswith("\n") else "\n")


def _why_no_output(
    node: slurm.SlurmNode,
    result: CmdResult,
    timeout_s: float,
    env: Mapping[str, str] | None,
    ok_codes: tuple[int, ...] = (0, 1),
    *,
    cut: bool = False,
) -> tuple[tuple[str, str], str | None] | None:
    """None when ``result`` holds a JSON document; else ((state, reason), error or None).

    The error is None when the node could not be used at all (not reached); otherwise the
    command ran there and its output is unusable (an unreadable report). ``cut``: the run's
    time limit, not the node's own timeout, set ``timeout_s``.
    """
    if result.cancelled or stopping():  # Ctrl-C, SIGTERM or SIGHUP ended gpudoctor's children
        return (node.state, "interrupted before it answered"), None
    if result.start_error:
        return (node.state, f"srun could not start: {result.start_error}"), None
    if result.overflowed:
        limit = describe_size(serialize.MAX_REPORT_BYTES)
        return (
            node.state,
            "",
        ), f"the node's output is larger than {limit}, the most a report may be"
    if result.timed_out:
        # "no answer within 6 s" under --node-timeout 180 named the wrong limit; and the
        # node's own limit was not named, so a slow node looked as if it had no way past it
        why = f"no answer within {timeout_s:.0f} s" + (
            " (the run's --time-limit ran out)" if cut else " (--node-timeout)"
        )
        return (_state_now(node, env), why), None
    complaint = slurm.srun_error(result)
    text = result.stdout.strip()
    if complaint is not None and not text:
        return (_state_now(node, env), complaint), None
    if result.returncode not in ok_codes or not text:
        return (node.state, ""), f"the command failed on the node: {slurm.task_words(result)}"
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return (node.state, ""), f"the node's output is not JSON ({exc})"
    if not isinstance(doc, dict):
        return (node.state, ""), "the node's output is not a JSON object"
    return None


def _state_now(node: slurm.SlurmNode, env: Mapping[str, str] | None) -> str:
    """The node's state now, or as sinfo listed it at the start when SLURM cannot say."""
    try:
        now = slurm.node_state(node.name, env)
    except slurm.SlurmUnavailableError:
        return node.state
    return now.state if now else node.state
