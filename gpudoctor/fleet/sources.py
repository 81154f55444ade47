"""Reading a fleet's files: each known by its content, diagnosed and cut down one at a time."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gpudoctor.errors import BadInputError, ReportFormatError
from gpudoctor.fleet import workers
from gpudoctor.fleet.aggregate import STALE_AFTER_H, aggregate
from gpudoctor.fleet.baseline import Baseline
from gpudoctor.fleet.facts import (
    is_verify_result,
    node_facts,
    throughput,
    verify_reason,
    verify_verdict,
)
from gpudoctor.fleet.hostlist import compress
from gpudoctor.fleet.manifest import (
    CHECK_DIR,
    VERIFY_DIR,
    Manifest,
    from_document,
    is_manifest,
    kept_output,
)
from gpudoctor.fleet.pairs import PAIRS_FILE, PAIRS_TOOL, analyse
from gpudoctor.model import serialize
from gpudoctor.model.findings import Diagnosis
from gpudoctor.model.fleet import (
    FleetReport,
    FleetRun,
    NodeFacts,
    NotReached,
    Skipped,
    Throughput,
    Unreadable,
    VerifyOutcome,
    VerifyVerdict,
)
from gpudoctor.model.hardware import PairsReport
from gpudoctor.model.report import CHECK_TOOL, Report
from gpudoctor.model.serialize import from_dict
from gpudoctor.userfiles.read import read_capped

T = TypeVar("T")
Diagnose = Callable[[Report], Diagnosis]
"""Today's rules over one report (the CLI hands in rules.diagnose with the knowledge base)."""

HOSTLIST_FORBIDDEN = frozenset("[],")
"""Characters hostlist notation cannot hold in a node name."""
_CHECK_KEYS = ("host", "driver", "nvml", "cuda")
"""A JSON object with schema_version and one of these is taken for a check report."""


@dataclass(frozen=True)
class _Entry:
    path: Path
    where: str
    """``flat`` (``<node>.json``, ``<node>.verify.json``), ``check`` or ``verify`` (fleet run's
    subfolders), or ``given`` (a file named on the command line)."""


@dataclass
class _Gathered:
    """What the files said, as they are read."""

    facts: list[NodeFacts] = field(default_factory=list)
    samples: list[Throughput] = field(default_factory=list)
    verify: list[VerifyOutcome] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    not_reached: list[NotReached] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    partitions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    gres: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """node -> its SLURM GRES, from the first manifest that lists it."""
    checks: dict[str, str] = field(default_factory=dict)
    """node -> the file its check report came from (a second one is unreadable)."""
    verifies: dict[str, str] = field(default_factory=dict)
    pairs: PairsReport | None = None
    pairs_path: str = ""
    runs: list[FleetRun] = field(default_factory=list)
    """Each manifest's runs, in the order the manifests are read."""


def build_fleet_report(
    paths: Sequence[Path],
    *,
    diagnose: Diagnose,
    names: dict[str, str] | None = None,
    gpudoctor_version: str,
    created_at: str,
    extra_not_reached: Sequence[NotReached] = (),
    partitions: dict[str, tuple[str, ...]] | None = None,
    baseline: Baseline | None = None,
    stale_after_h: float = STALE_AFTER_H,
) -> FleetReport:
    """Read, re-diagnose and aggregate every node report under ``paths``.

    A path that does not exist, or a folder that cannot be listed, is bad input; one bad file
    is one unreadable line and the rest of the fleet is still reported.
    """
    found = _Gathered(not_reached=list(extra_not_reached), partitions=dict(partitions or {}))
    entries = list(_entries(paths, found))

    def digest(entry: _Entry) -> _Digest:
        return _digest(entry, diagnose)

    # Each file is cut down to its facts as it is read (in a worker process when there are
    # many) and dropped: memory grows with the number of nodes, not with their reports' size.
    # What depends on the other files (a second report for a node, a manifest's partitions)
    # is decided here, in the order of the files, as when they are read one by one.
    digests = workers.ordered_map(digest, entries, workers.workers_for(len(entries)))
    for entry, digested in zip(entries, digests, strict=True):
        _apply(entry, digested, found)
    if not (found.checks or found.verifies or found.not_reached or found.unreadable or found.pairs):
        where = ", ".join(str(p) for p in paths)
        raise BadInputError(f"no node reports (<node>.json, check/<node>.json) in {where}")
    reached = {f.node for f in found.facts}
    # A node gathered again after a failed run is reached now, whatever the manifest said.
    not_reached = [r for r in found.not_reached if r.node not in reached]
    report = aggregate(
        [_with_partitions(f, found.partitions) for f in found.facts],
        names=names,
        throughput=found.samples,
        verify=found.verify,
        unreadable=list(dict.fromkeys(found.unreadable)),
        not_reached=list(dict.fromkeys(not_reached)),
        skipped=found.skipped,
        baseline=baseline,
        gres=found.gres,
        stale_after_h=stale_after_h,
        gpudoctor_version=gpudoctor_version,
        created_at=created_at,
    )
    return replace(report, pairs=found.pairs, pairs_path=found.pairs_path, runs=tuple(found.runs))


def _with_partitions(facts: NodeFacts, partitions: dict[str, tuple[str, ...]]) -> NodeFacts:
    """The node's partitions, known once every manifest is read (one may sort last)."""
    mine = partitions.get(facts.node, ())
    return replace(facts, partitions=mine) if mine else facts


def _entries(paths: Sequence[Path], found: _Gathered) -> Iterator[_Entry]:
    """Every file to read, once each even when a folder is given twice."""
    seen: set[str] = set()
    for path in paths:
        if path.is_dir():
            listed = [_Entry(p, "flat") for p in _list(path, found, top=True)]
            for sub, where in ((CHECK_DIR, "check"), (VERIFY_DIR, "verify")):
                if (path / sub).is_dir():
                    listed += [_Entry(p, where) for p in _list(path / sub, found, top=False)]
            if (path / PAIRS_FILE).is_file():  # fleet pairs' summary; its per-pair files not
                listed.append(_Entry(path / PAIRS_FILE, "pairs"))
        elif path.exists():
            listed = [_Entry(path, "given")]
        else:
            raise BadInputError(f"{path}: no such file or directory")
        for entry in listed:
            real = os.path.realpath(entry.path)
            if real in seen:  # the same file reached twice is not a second report
                continue
            seen.add(real)
            yield entry


def _list(folder: Path, found: _Gathered, *, top: bool) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(".json"))
    except OSError as exc:
        if top:
            raise BadInputError(f"{folder}: cannot list it ({exc.strerror})") from None
        found.unreadable.append(
            Unreadable(node=f"({folder.name})", path=str(folder), error=_why(exc))
        )
        return []


def _node_name(entry: _Entry, verify: bool) -> str:
    """The node a file is about: its stem; ``.verify`` removed for a flat verify result."""
    stem = entry.path.name.removesuffix(".json")
    if verify and entry.where in ("flat", "given"):
        stem = stem.removesuffix(".verify")
    return stem


@dataclass(frozen=True)
class _Digest:
    """What one file is, worked out from the file alone (in a worker process, maybe)."""

    kind: str
    """``unreadable`` (cannot be read), ``manifest``, ``verify``, ``skipped`` (no gpudoctor
    file for a node) or ``check``."""
    error: str | None = None
    """Why the file, or the manifest, verify result or check report it holds, is unusable."""
    manifest: Manifest | None = None
    samples: tuple[Throughput, ...] = ()
    verdict: VerifyVerdict | None = None
    reason: str = ""
    """Why a verify result did not pass (its reasons at its verdict's level)."""
    why: str = ""
    """Why a skipped file is no node's."""
    facts: NodeFacts | None = None
    pairs: PairsReport | None = None


def read_manifest(path: Path) -> Manifest:
    """The ``fleet run`` manifest at ``path`` (fleet run --force reads the one it replaces);
    a file that cannot be read, or is no manifest, is a :class:`GpudoctorError`."""
    raw = read_capped(path, limit=serialize.MAX_REPORT_BYTES, what="manifest")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:
        raise ReportFormatError(f"{path}: not JSON ({exc!s:.100})") from None
    return from_document(data, str(path))


def _digest(entry: _Entry, diagnose: Diagnose) -> _Digest:
    """A manifest, a verify result, a check report, or a file that is no gpudoctor report."""
    try:
        raw = read_capped(entry.path, limit=serialize.MAX_REPORT_BYTES, what="report")
    except (OSError, BadInputError) as exc:
        return _Digest("unreadable", error=_why(exc, str(entry.path)))
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        data = None  # the check report reader says what the file is instead
    where = str(entry.path)
    if isinstance(data, dict) and data.get("tool") == PAIRS_TOOL:
        return _pairs_digest(data, where)
    if is_manifest(data):
        return _manifest_digest(data, where)
    if is_verify_result(data):
        try:
            samples = throughput(_node_name(entry, verify=True), data, where)
            verdict = verify_verdict(data, where)
            reason = verify_reason(data, verdict)
            return _Digest("verify", samples=samples, verdict=verdict, reason=reason)
        except (ValueError, BadInputError, RecursionError) as exc:
            return _Digest("verify", error=_why(exc, where))
    if data is not None and not _may_be_check(data):
        # Valid JSON that no gpudoctor command wrote for a node (expected.json, a saved fleet
        # report, a make-env plan): not a node, and nothing to count against the fleet.
        return _Digest("skipped", why=_not_a_report(data))
    try:
        report = _report(raw, data, where)
    except (ValueError, BadInputError, RecursionError) as exc:
        # no JSON to know the file by: named by its file name, as a file that cannot be read
        # is (a cut-off n2.verify.json is node n2's verify result, not a node "n2.verify")
        return _Digest("check" if data is not None else "unreadable", error=_why(exc, where))
    node = _node_name(entry, verify=False)
    return _Digest("check", facts=node_facts(node, report, diagnose(report)))


def _pairs_digest(data: dict[str, Any], where: str) -> _Digest:
    """fleet pairs' report: its bad nodes and bad links join the fleet report.

    The pairs measured are kept; what they say (baseline, slow pairs, bad nodes, bad links)
    is worked out again with today's analysis at the file's own slow factor, as node reports
    are diagnosed again with today's rules: a pairs.json written before refused pairs stopped
    counting as slow named every node of a refused run a bad node to drain.
    """
    doc = {k: v for k, v in data.items() if k not in ("schema_version", "tool", "healthy")}
    try:
        report = from_dict(PairsReport, doc, where)
    except ReportFormatError as exc:
        return _Digest("pairs", error=str(exc))
    base, slow, bad, links = analyse(report.pairs, report.slow_factor)
    return _Digest(
        "pairs",
        pairs=replace(report, baseline_gbps=base, slow_pairs=slow, bad_nodes=bad, bad_links=links),
    )


def _manifest_digest(data: Any, where: str) -> _Digest:
    try:
        return _Digest("manifest", manifest=from_document(data, where))
    except BadInputError as exc:
        return _Digest("manifest", error=str(exc))


def _apply(entry: _Entry, digest: _Digest, found: _Gathered) -> None:
    """Count one file's digest in with the fleet's, in the order the files are listed."""
    where = str(entry.path)
    if digest.kind == "unreadable":
        node = _node_name(entry, verify=entry.path.name.endswith(".verify.json"))
        found.unreadable.append(Unreadable(node=node, path=where, error=digest.error or ""))
    elif digest.kind == "manifest":
        _manifest(entry, digest, found)
    elif digest.kind == "pairs":
        if digest.pairs is None:
            found.unreadable.append(
                Unreadable(node="(fleet pairs)", path=where, error=digest.error or "")
            )
        else:
            found.pairs, found.pairs_path = digest.pairs, where
    elif digest.kind == "skipped":
        found.skipped.append(Skipped(path=where, why=digest.why))
    else:
        verify = digest.kind == "verify"
        node = _node_name(entry, verify=verify)
        first = found.verifies if verify else found.checks
        if not _named(entry, node, found) or _second(node, entry, first, found):
            return
        if digest.error is not None:
            found.unreadable.append(Unreadable(node=node, path=where, error=digest.error))
        elif verify and digest.verdict is not None:
            found.samples += digest.samples
            found.verify.append(
                VerifyOutcome(node=node, verdict=digest.verdict, path=where, reason=digest.reason)
            )
        elif digest.facts is not None:
            found.facts.append(digest.facts)


def _manifest(entry: _Entry, digest: _Digest, found: _Gathered) -> None:
    manifest = digest.manifest
    if manifest is None:
        found.unreadable.append(
            Unreadable(node="(fleet run)", path=str(entry.path), error=digest.error or "")
        )
        return
    found.not_reached += manifest.not_reached
    # a node's output kept beside the manifest (check/<node>.unusable.txt) is named where the
    # folder is now; else the manifest read is what holds the error (one written before
    # 2026-12-07 named the manifest as it was then, or check/<node>.json, never written)
    found.unreadable += [
        replace(u, path=str(entry.path.parent / u.path if kept_output(u.path) else entry.path))
        for u in manifest.unreadable
    ]
    for node, parts in manifest.partitions.items():
        found.partitions.setdefault(node, parts)
    for node, gres in manifest.gres.items():
        found.gres.setdefault(node, gres)
    # which run checked which nodes: after `fleet run --force` on a subset, some nodes' word
    # is an earlier run's (another day's, perhaps another gpudoctor's), which the report names
    found.runs += [
        FleetRun(
            created_at=r.created_at,
            gpudoctor_version=r.gpudoctor_version,
            command=r.command,
            verify_command=r.verify_command,
            nodes=r.nodes,
            hostlist=_hostlist(r.nodes),
            path=str(entry.path),
        )
        for r in manifest.runs
    ]


def _hostlist(nodes: Sequence[str]) -> str:
    """``nodes`` in hostlist notation; a name it cannot hold (a hand-edited manifest's
    ``n[1``) is listed after the rest as it is, never dropped."""
    odd = [n for n in nodes if HOSTLIST_FORBIDDEN.intersection(n)]
    return ",".join(filter(None, [compress(n for n in nodes if n not in odd), *odd]))


def _may_be_check(data: Any) -> bool:
    """A check report names itself ``gpudoctor check`` (since 2026-12-08) or nothing (before);
    a document that names another writer is none, whatever keys it has."""
    return (
        isinstance(data, dict)
        and "schema_version" in data
        and data.get("tool", CHECK_TOOL) == CHECK_TOOL
        and any(k in data for k in _CHECK_KEYS)
    )


def _not_a_report(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("tool"), str):
        return f"not a node report: written by {data['tool'][:60]}"
    return "not a gpudoctor check report, verify result or fleet run manifest"


def _named(entry: _Entry, node: str, found: _Gathered) -> bool:
    """Whether ``node`` can name a node; if not, the file is one unreadable line."""
    if not node or node in (".", ".."):
        found.skipped.append(Skipped(path=str(entry.path), why="no node name in the file name"))
        return False
    bad = sorted(HOSTLIST_FORBIDDEN & set(node))
    if bad:
        error = f"the node name has {' '.join(bad)}, which hostlist notation cannot hold"
        found.unreadable.append(Unreadable(node=node, path=str(entry.path), error=error))
        return False
    return True


def _second(node: str, entry: _Entry, first: dict[str, str], found: _Gathered) -> bool:
    if node not in first:
        first[node] = str(entry.path)
        return False
    error = f"a second report for this node (the first: {first[node]})"
    found.unreadable.append(Unreadable(node=node, path=str(entry.path), error=error))
    return True


def _report(raw: bytes, data: Any, name: str) -> Report:
    """The check report a file holds, parsed once; ``data`` None when it held no JSON (then
    the report reader says what the file is instead)."""
    if data is None:
        return serialize.report_from_bytes(raw, name)
    return serialize.report_from_data(data, name)


def _why(exc: BaseException, where: str = "") -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to be a report"
    # the readers name the file first; the fleet report shows its path beside the error
    text = str(exc)
    if where and text.startswith(f"{where}: "):
        return text.removeprefix(f"{where}: ")
    if where and text.startswith(f"{where} "):
        return "it " + text.removeprefix(f"{where} ")
    return text


def read_node_reports(
    paths: Sequence[Path], cut: Callable[[Report], T]
) -> list[tuple[str, tuple[str, ...], T]]:
    """Every node's check report under ``paths`` as (node, partitions, ``cut(report)``), cut
    as soon as it is read; files that are no check report, or unreadable, are left out.
    Partitions come from fleet run's manifest, else from the job the check ran in."""
    found = _Gathered()
    cuts: list[tuple[str, tuple[str, ...], T]] = []
    for entry in _entries(paths, found):
        if entry.where == "verify" or entry.path.name.endswith(".verify.json"):
            continue
        try:
            raw = read_capped(entry.path, limit=serialize.MAX_REPORT_BYTES, what="report")
            data = json.loads(raw.decode("utf-8-sig"))
        except (OSError, BadInputError, ValueError, RecursionError):
            continue
        if is_manifest(data):
            _manifest(entry, _manifest_digest(data, str(entry.path)), found)
            continue
        node = _node_name(entry, verify=False)
        if not _may_be_check(data) or not _named(entry, node, found):
            continue
        try:
            report = _report(raw, data, str(entry.path))
        except (ValueError, BadInputError, RecursionError):
            continue
        job = report.site.slurm_job if report.site is not None else None
        cuts.append((node, (job.partition,) if job and job.partition else (), cut(report)))
    # the manifest may sort after the reports: its partitions are applied once all is read
    return [(node, found.partitions.get(node) or parts, c) for node, parts, c in cuts]
