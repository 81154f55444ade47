"""fleet run's orchestration: which nodes, the job for each, reports saved as they come, the
manifest; writing and progress are callables the CLI hands in."""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gpudoctor.errors import BadInputError, GpudoctorError
from gpudoctor.fleet import slurm
from gpudoctor.fleet.hostlist import compress, expand
from gpudoctor.fleet.manifest import (
    CHECK_DIR,
    MANIFEST,
    UNUSABLE_SUFFIX,
    VERIFY_DIR,
    Manifest,
    Run,
    kept_output,
    node_file,
    to_document,
    unusable_name,
)
from gpudoctor.fleet.remote import check_partition_name
from gpudoctor.fleet.run import NodeJob, NodeOutcome, gather
from gpudoctor.fleet.selection import UNKNOWN_REASON, select_nodes
from gpudoctor.fleet.sources import read_manifest  # the one module that reads a fleet's files
from gpudoctor.model.fleet import NotReached, Unreadable

Save = Callable[[Path, str], None]
"""Writes one file of the run's folder (the CLI's atomic ``write_output``)."""
Progress = Callable[[NodeOutcome, int, int, tuple[Unreadable, ...]], None]
"""Hears of each node as it finishes: its outcome, how many are done, of how many, and its
unusable outputs as the run's result lists them (each ``path`` where its file now is)."""


def split_args(text: str, option: str) -> list[str]:
    """``text`` split as a shell would; a bad quote is bad input naming ``option``."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInputError(f"{option} {text!r}: {exc}") from None


def node_job(
    base: Sequence[str],
    *,
    check_args: str,
    verify_args: str | None,
    node_timeout_s: float,
    immediate_s: int,
    srun_args: tuple[str, ...],
) -> NodeJob:
    """The commands each node runs: check in JSON and, with ``verify_args``, verify --quick."""
    return NodeJob(
        check=(*base, "check", "--format", "json", *split_args(check_args, "--check-args")),
        verify=(
            (
                *base,
                "verify",
                "--quick",
                "--format",
                "json",
                *split_args(verify_args, "--verify-args"),
            )
            if verify_args is not None
            else None
        ),
        node_timeout_s=node_timeout_s,
        verify_timeout_s=max(node_timeout_s, 600.0),
        immediate_s=immediate_s,
        srun_args=srun_args,
    )


@dataclass(frozen=True, kw_only=True)
class Selection:
    """The nodes SLURM listed that were asked for, and the names it does not know."""

    nodes: tuple[slurm.SlurmNode, ...]
    unknown: tuple[NotReached, ...] = ()
    gres: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each listed node's GRES as sinfo gave it (``gpu:h100:8(S:0-1)``), for the manifest."""
    stray_excluded: tuple[str, ...] = ()
    """The --exclude names that were not among the nodes selected: they left nothing out."""

    def stray_warning(self, partition: str | None, nodelist: str | None) -> str | None:
        """The line that names :attr:`stray_excluded` (a typo left out nothing, without a
        word); a warning, not bad input: a script may exclude one node from several
        partitions."""
        if not self.stray_excluded:
            return None
        from gpudoctor.model.inert import inert

        where = [
            *([f"partition {partition}"] if partition else []),
            *([f"--nodelist {nodelist}"] if nodelist else []),
        ]
        return inert(
            f"--exclude {compress(self.stray_excluded)}: not among the nodes selected "
            f"({', '.join(where) or 'this cluster'}), so it left out nothing",
            one_line=True,
        )


def select(partition: str | None, nodelist: str | None, exclude: str | None) -> Selection:
    """Ask sinfo for the nodes, keep those asked for; nothing left to check is bad input."""
    # Both lists are expanded (and capped) before sinfo runs: a bad one starts nothing. An
    # empty value (`-p "$PART"` with PART unset) is bad input: sinfo would list every node.
    if partition is not None:
        check_partition_name(partition)
    wanted = expand(nodelist, "--nodelist") if nodelist is not None else ()
    excluded = expand(exclude, "--exclude") if exclude is not None else ()
    # the GRES too: the fleet report compares each node's GPUs with what SLURM gives out
    listed = slurm.list_compute_nodes(partition=partition, nodelist=nodelist)
    nodes, unknown_names = select_nodes((c.node for c in listed), wanted, excluded)
    elsewhere: dict[str, slurm.SlurmNode] = {}
    if partition and nodelist and unknown_names:
        # a named node sinfo -p left out may sit in another partition: say so, not "unknown"
        elsewhere = {n.name: n for n in slurm.list_nodes(nodelist=nodelist)}
    unknown = tuple(
        NotReached(
            node=name,
            state=elsewhere[name].state,
            reason=f"not in partition {partition} (it is in "
            f"{', '.join(elsewhere[name].partitions)})",
        )
        if name in elsewhere
        else NotReached(node=name, state="unknown", reason=UNKNOWN_REASON)
        for name in unknown_names
    )
    if not nodes and not unknown:
        if partition and not excluded:
            known = slurm.partition_names()
            if partition not in known:  # as check --partition says it
                raise BadInputError(
                    f"--partition {partition}: no such partition (this cluster has: "
                    f"{', '.join(known) or 'none'})"
                )
        where = f"partition {partition}" if partition else "this cluster"
        raise BadInputError(
            f"no node to check in {where}" + (" after --exclude" if excluded else "")
        )
    gres = {c.node.name: c.gres for c in listed}
    chosen = {*gres, *wanted}
    return Selection(
        nodes=tuple(nodes),
        unknown=unknown,
        gres={n.name: gres.get(n.name, ()) for n in nodes},
        stray_excluded=tuple(name for name in dict.fromkeys(excluded) if name not in chosen),
    )


def prepare_dir(
    out_dir: Path, nodes: Sequence[str], *, force: bool, with_verify: bool = False
) -> None:
    """Create the folders; refuse (before any srun) to replace reports already in them.

    With ``force``, the earlier reports and verify results of ``nodes`` are removed here, before
    any srun: this run decides what each of them is. Kept, a node not reached this time (drained
    since, timed out, interrupted) was read back with its old report, as checked and fine.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--output-dir {out_dir}: exists and is not a directory")
    if out_dir.is_dir():
        names = sorted({f"{n}.json" for n in nodes} | {f"{n}{UNUSABLE_SUFFIX}" for n in nodes})
        wanted = [(out_dir / MANIFEST, MANIFEST)] + [
            (out_dir / sub / name, f"{sub}/{name}")
            for sub in (CHECK_DIR, VERIFY_DIR)
            for name in names
        ]
        clash = [shown for path, shown in wanted if os.path.lexists(path)]
        # the manifest is replaced at the end, keeping what it said of the other nodes
        if clash and force:
            for node in nodes:
                for sub in (CHECK_DIR, VERIFY_DIR):
                    _remove_old(out_dir, sub, node)
        elif clash:
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


def _remove_old(out_dir: Path, sub: str, node: str) -> None:
    """An earlier run's files for a node this run checks again (its report, or the output it
    sent instead); a folder in their place stays (``fleet report`` lists it as unreadable)."""
    try:
        paths = (node_file(out_dir, sub, node), out_dir / unusable_name(sub, node))
    except ValueError:  # no file can have that name
        return
    for path in paths:
        if os.path.lexists(path) and not path.is_dir():
            try:
                path.unlink()
            except OSError as exc:
                raise BadInputError(f"--force: cannot remove {path} ({exc.strerror})") from None


def _keep(out_dir: Path, kind: str, node: str, text: str | None, save: Save) -> str | None:
    """Save what ``node`` printed instead of a report; its name in the folder, or None when
    there was nothing to keep or it could not be written (the run goes on without it)."""
    if text is None:
        return None
    try:
        name = unusable_name(kind, node)
        save(out_dir / name, text)
    except (ValueError, OSError, GpudoctorError):
        return None
    return name


@dataclass(frozen=True, kw_only=True)
class Earlier:
    """What the folder's manifest said before this run: kept for the nodes it does not cover."""

    manifest: Manifest | None = None
    problem: str | None = None
    """Why a manifest that is there could not be read (then nothing of it is kept)."""


def earlier_run(out_dir: Path) -> Earlier:
    """The manifest an earlier run left in ``out_dir`` (a run with --force into its folder).

    A subset run again (``-w n[3-4] --force``) replaced the manifest with its own: the nodes
    the earlier run had not reached, and had found unusable, vanished from the record while
    their files stayed. What it says of the nodes this run does not cover is kept.
    """
    path = out_dir / MANIFEST
    if not os.path.lexists(path):
        return Earlier()
    try:
        return Earlier(manifest=read_manifest(path))
    except (GpudoctorError, OSError) as exc:
        return Earlier(problem=f"{exc!s:.200}")


def _merged(earlier: Manifest | None, covered: set[str], now: Manifest) -> Manifest:
    """``now`` with what ``earlier`` said of the nodes this run does not cover (first, as they
    were); this run's word replaces the earlier one for every node it covers.

    Each earlier run stays in ``runs`` with the nodes whose word is still its own: the
    manifest's ``command`` and ``created_at`` are this run's, and said of a node the earlier
    run checked they misstated how and when it was checked."""
    if earlier is None:
        return now
    kept = (replace(r, nodes=tuple(n for n in r.nodes if n not in covered)) for r in earlier.runs)
    return replace(
        now,
        runs=(*(r for r in kept if r.nodes), *now.runs),
        partitions={
            **{n: p for n, p in earlier.partitions.items() if n not in covered},
            **now.partitions,
        },
        gres={**{n: g for n, g in earlier.gres.items() if n not in covered}, **now.gres},
        not_reached=(
            *(r for r in earlier.not_reached if r.node not in covered),
            *now.not_reached,
        ),
        unreadable=(
            *(u for u in earlier.unreadable if u.node not in covered),
            *now.unreadable,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What the run left in its folder, and whether a signal cut it short."""

    not_reached: tuple[NotReached, ...]
    unreadable: tuple[Unreadable, ...]
    interrupted: int = 0
    """128 + the signal's number when Ctrl-C, SIGTERM or SIGHUP ended it early; else 0."""


def run_fleet(
    selection: Selection,
    job: NodeJob,
    out_dir: Path,
    *,
    time_limit_s: float,
    concurrency: int,
    save: Save,
    progress: Progress,
    gpudoctor_version: str,
    created_at: Callable[[], str],
    earlier: Manifest | None = None,
) -> RunResult:
    """Run ``job`` on every selected node, saving each report as it comes, then the manifest.

    Ctrl-C (or SIGTERM/SIGHUP turned into one) keeps every report already saved: the
    manifest is written all the same, and the result says which signal it was. ``earlier``
    (the folder's manifest before this run) gives the manifest what it said of the nodes
    outside this run's selection, whose files stay in the folder.
    """
    nodes = selection.nodes
    outcomes: list[NodeOutcome] = []
    listed: list[Unreadable] = []
    """As the manifest names them: each path relative to the folder, which may be moved."""

    def on_done(outcome: NodeOutcome) -> None:
        outcomes.append(outcome)
        if outcome.check_json is not None:
            save(node_file(out_dir, CHECK_DIR, outcome.node), outcome.check_json)
        if outcome.verify_json is not None:
            save(node_file(out_dir, VERIFY_DIR, outcome.node), outcome.verify_json)
        # A node's unusable output is no check/<node>.json (fleet report would read it as a
        # report): it is kept as check/<node>.unusable.txt, which its line names, so that the
        # admin can read the traceback or the cut-off JSON; the manifest holds the error, and
        # is named when nothing was kept. The folder (check/ or verify/) told a check's error
        # from verify's: the words do.
        outputs = dict(outcome.outputs)
        mine: list[Unreadable] = []
        for name, said in outcome.errors:
            kind = VERIFY_DIR if name.endswith(".verify.json") else CHECK_DIR
            kept = _keep(out_dir, kind, outcome.node, outputs.get(name), save) or MANIFEST
            error = (
                said
                if kind == CHECK_DIR or "verify" in said.split(":", 1)[0]
                else f"verify: {said}"
            )
            mine.append(Unreadable(node=outcome.node, path=kept, error=error))
        listed.extend(mine)
        # the admin watching learns at once where the node's output is, not only at the end
        progress(outcome, len(outcomes), len(nodes), tuple(_placed(out_dir, u) for u in mine))

    interrupted = 0
    try:
        gather(
            nodes,
            job,
            time_limit_s=time_limit_s,
            concurrency=concurrency,
            on_done=on_done,
            cancel=threading.Event(),
        )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into one
        interrupted = 128 + int(getattr(exc, "signum", signal.SIGINT))
    not_reached = [*selection.unknown]
    not_reached += [
        NotReached(node=o.node, state=o.not_reached[0], reason=o.not_reached[1])
        for o in outcomes
        if o.not_reached is not None
    ]
    covering = tuple(
        dict.fromkeys([*(n.name for n in nodes), *(r.node for r in selection.unknown)])
    )
    this_run = Run(
        gpudoctor_version=gpudoctor_version,
        created_at=created_at(),
        command=tuple(job.check),
        verify_command=None if job.verify is None else tuple(job.verify),
        nodes=covering,
    )
    now = Manifest(
        gpudoctor_version=this_run.gpudoctor_version,
        created_at=this_run.created_at,
        command=this_run.command,
        partitions={n.name: tuple(n.partitions) for n in nodes},
        gres={n.name: selection.gres[n.name] for n in nodes if n.name in selection.gres},
        not_reached=tuple(not_reached),
        unreadable=tuple(listed),
        runs=(this_run,),
    )
    manifest = _merged(earlier, set(covering), now)
    save(out_dir / MANIFEST, json.dumps(to_document(manifest), indent=2, sort_keys=True) + "\n")
    return RunResult(
        not_reached=manifest.not_reached,
        unreadable=tuple(_placed(out_dir, u) for u in manifest.unreadable),
        interrupted=interrupted,
    )


def _placed(out_dir: Path, entry: Unreadable) -> Unreadable:
    """``entry`` with its ``path`` where the file is now: the node's kept output, else the
    manifest, which holds the error."""
    return replace(entry, path=str(out_dir / (entry.path if kept_output(entry.path) else MANIFEST)))
