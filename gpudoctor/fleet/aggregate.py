"""Aggregation: node facts in, the fleet report out; a pure function, no I/O."""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from gpudoctor.fleet.baseline import Baseline, baseline_drift
from gpudoctor.fleet.drift import find_drift
from gpudoctor.fleet.gres import THESE_NODES, compare_gres
from gpudoctor.fleet.hostlist import compress, sort_key
from gpudoctor.fleet.outliers import find_outliers
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import (
    CheckSpan,
    Drift,
    FindingPlace,
    FleetFinding,
    FleetReport,
    NodeEvidence,
    NodeFacts,
    NodeFinding,
    NodeGroup,
    NodeSummary,
    NotReached,
    Skipped,
    Throughput,
    Unreadable,
    VerifyOutcome,
    VerifyVerdict,
)
from gpudoctor.model.slurm import HOSTLIST
from gpudoctor.model.times import utc_moment, utc_stamp

STALE_AFTER_H = 24.0
"""A node report checked more than this many hours before the newest one read is stale: of
another night's run than the rest (docs/fleet.md)."""


def check_span(
    nodes: Sequence[NodeSummary], stale_after_h: float = STALE_AFTER_H
) -> CheckSpan | None:
    """The oldest and newest check time of the node reports, and the nodes checked more than
    ``stale_after_h`` hours before the newest; None when no report says when it was checked."""
    times = {n.node: utc_moment(n.checked_at) for n in nodes}
    dated = {node: when for node, when in times.items() if when is not None}
    if not dated:
        return None
    newest = max(dated.values())
    stale = [n for n, when in dated.items() if newest - when > timedelta(hours=stale_after_h)]
    stale.sort(key=sort_key)
    return CheckSpan(
        oldest=utc_stamp(min(dated.values())),
        newest=utc_stamp(newest),
        stale=tuple(stale),
        stale_hostlist=compress(stale) if stale else "",
        stale_after_h=stale_after_h,
        undated=len(times) - len(dated),
    )


def aggregate(
    nodes: Sequence[NodeFacts],
    *,
    names: Mapping[str, str] | None = None,
    throughput: Iterable[Throughput] = (),
    verify: Sequence[VerifyOutcome] = (),
    unreadable: Sequence[Unreadable] = (),
    not_reached: Sequence[NotReached] = (),
    skipped: Sequence[Skipped] = (),
    baseline: Baseline | None = None,
    gres: Mapping[str, Sequence[str]] | None = None,
    stale_after_h: float = STALE_AFTER_H,
    gpudoctor_version: str,
    created_at: str,
) -> FleetReport:
    """The fleet report; ``names`` maps each finding ID to what it means on any node.

    With a ``baseline`` every node is also judged against it (drift whose reference is the
    baseline comes first): a fleet that drifted as one has no minority, but differs from it.

    ``gres`` maps a node to its SLURM GRES (``fleet run``'s manifest): a node whose PCI bus and
    driver hold fewer GPUs than it promises gets GD-GPU-068 as an error (fleet/gres.py).

    A node report checked more than ``stale_after_h`` hours before the newest is stale.
    """
    known = gres or {}
    ordered = sorted(
        (compare_gres(n, known[n.node]) if n.node in known else n for n in nodes),
        key=lambda n: sort_key(n.node),
    )
    drift = find_drift(ordered)
    if baseline is not None:
        drift = baseline_drift(ordered, baseline) + drift
    drifting = _drifting(drift)
    verdicts = {v.node: v.verdict for v in verify}
    summaries = [_summary(n, verdicts.get(n.node), n.node in drifting) for n in ordered]
    return FleetReport(
        gpudoctor_version=gpudoctor_version,
        created_at=created_at,
        nodes=tuple(summaries),
        groups=_groups(summaries),
        findings=_findings(ordered, names or {}),
        drift=drift,
        outliers=find_outliers(throughput),
        unreadable=tuple(sorted(unreadable, key=lambda u: (sort_key(u.node), u.path))),
        not_reached=tuple(sorted(not_reached, key=lambda r: sort_key(r.node))),
        verify=tuple(sorted(verify, key=lambda v: (sort_key(v.node), v.path))),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        checked=check_span(summaries, stale_after_h),
    )


def _drifting(drift: Sequence[Drift]) -> set[str]:
    """The nodes in a minority of any drift (``node:gpuN`` members count for their node)."""
    return {
        member.rsplit(":gpu", 1)[0] if d.fact.startswith("gpu.") else member
        for d in drift
        for members in d.minority.values()
        for member in members
    }


def _summary(n: NodeFacts, verify: VerifyVerdict | None, drift: bool) -> NodeSummary:
    # A verify result's fail is as much an error as a check's: the node cannot train.
    verdict = max(n.verdict, verify.severity) if verify else n.verdict
    return NodeSummary(
        node=n.node,
        verdict=verdict,
        finding_ids=n.finding_ids,
        stack=n.stack,
        partitions=n.partitions,
        verify=verify,
        drift=drift,
        checked_at=n.checked_at,
    )


def _groups(nodes: Sequence[NodeSummary]) -> tuple[NodeGroup, ...]:
    """Nodes that look the same in the summary table, one row each, worst first."""
    members: dict[tuple[object, ...], list[NodeSummary]] = defaultdict(list)
    for n in nodes:
        members[(n.verdict, n.finding_ids, n.stack, n.verify, n.drift)].append(n)
    groups = [
        NodeGroup(
            hostlist=compress(m.node for m in group),
            count=len(group),
            verdict=group[0].verdict,
            finding_ids=group[0].finding_ids,
            stack=group[0].stack,
            verify=group[0].verify,
            drift=group[0].drift,
        )
        for group in members.values()
    ]
    return tuple(sorted(groups, key=lambda g: (-g.verdict, -g.count, g.hostlist)))


def _these(evidence: tuple[str, ...], hostlist: str) -> tuple[str, ...]:
    """``evidence`` with the nodes it is about in its fix: ``nodename=NODE`` read as a word to
    replace, and pasted, scontrol answered "Invalid node name specified"."""
    if not HOSTLIST.fullmatch(hostlist):
        return evidence  # a node's name no node has (a report's, not sinfo's): NODE, to replace
    named = f"nodename={shlex.quote(hostlist)} "
    return tuple(e.replace(THESE_NODES, named) for e in evidence)


_PlaceKey = tuple[Severity, tuple[str, ...]]
"""(severity, titles): what makes two nodes one place of a finding."""


def _place(key: _PlaceKey, members: Sequence[tuple[str, tuple[str, ...]]]) -> FindingPlace:
    """The nodes of one place with their evidence: the lines all of them have once, with the
    place's hostlist in a fix, and each node's own lines apart (its job ID, its Xids' times)."""
    nodes = tuple(node for node, _ in members)
    hostlist = compress(nodes)
    others = [set(evidence) for _, evidence in members[1:]]
    shared = tuple(e for e in members[0][1] if all(e in o for o in others))
    own = (
        NodeEvidence(node=node, evidence=_these(tuple(e for e in ev if e not in shared), node))
        for node, ev in members
    )
    return FindingPlace(
        hostlist=hostlist,
        nodes=nodes,
        severity=key[0],
        titles=key[1],
        evidence=_these(shared, hostlist),
        node_evidence=tuple(o for o in own if o.evidence),
    )


def _findings(nodes: Sequence[NodeFacts], names: Mapping[str, str]) -> tuple[FleetFinding, ...]:
    """Each finding ID with the nodes that have it, worst and most widespread first.

    Each node keeps its own words: ``GPU 2 ...`` on one node and ``GPU 5 ...`` on another
    are two places of one finding, never one title for both (an admin would reset the wrong
    GPU). Nodes on which the finding has the same titles are one place, with one hostlist
    and one fix, whatever evidence each has of its own (``SLURM job 17 on node n1``, when its
    Xids were logged): split by it, 20 nodes drained for one cause were 20 entries.
    """
    where: dict[str, list[str]] = defaultdict(list)
    places: dict[str, dict[_PlaceKey, list[tuple[str, tuple[str, ...]]]]] = defaultdict(dict)
    for n in nodes:
        mine: dict[str, list[NodeFinding]] = defaultdict(list)
        for f in n.findings:
            mine[f.id].append(f)
        for fid in n.finding_ids:
            where[fid].append(n.node)
            found = mine.get(fid) or [NodeFinding(id=fid, severity=Severity.INFO, title="")]
            key = (max(f.severity for f in found), tuple(f.title for f in found))
            evidence = tuple(e for f in found for e in f.evidence)
            places[fid].setdefault(key, []).append((n.node, evidence))
    result = []
    for fid, hosts in where.items():
        spots = sorted(
            (_place(key, members) for key, members in places[fid].items()),
            key=lambda p: (-p.severity, -len(p.nodes), sort_key(p.nodes[0])),
        )
        titles = {t for p in spots for t in p.titles}
        result.append(
            FleetFinding(
                id=fid,
                severity=max(p.severity for p in spots),
                # The rule's own name; one node's title would name that node's GPU for all.
                name=names.get(fid) or (titles.pop() if len(titles) == 1 else ""),
                nodes=tuple(hosts),
                hostlist=compress(hosts),
                places=tuple(spots),
            )
        )
    return tuple(sorted(result, key=lambda f: (-f.severity, -len(f.nodes), f.id)))
