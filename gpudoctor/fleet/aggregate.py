"""Aggregation: node facts in, the fleet report out; a pure function, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from gpudoctor.fleet.drift import find_drift
from gpudoctor.fleet.hostlist import compress, sort_key
from gpudoctor.fleet.outliers import find_outliers
from gpudoctor.model.fleet import (
    FleetFinding,
    FleetReport,
    NodeFacts,
    NodeGroup,
    NodeSummary,
    NotReached,
    Throughput,
    Unreadable,
)

VERDICT_ORDER = {"error": 0, "warning": 1, "info": 2, "ok": 3}
SEVERITY_ORDER = VERDICT_ORDER


def aggregate(
    nodes: Sequence[NodeFacts],
    *,
    finding_info: Mapping[str, tuple[str, str]],
    throughput: Iterable[Throughput] = (),
    unreadable: Sequence[Unreadable] = (),
    not_reached: Sequence[NotReached] = (),
    gpudoctor_version: str,
    created_at: str,
) -> FleetReport:
    """The fleet report; ``finding_info`` maps each finding ID to its (severity, title)."""
    ordered = sorted(nodes, key=lambda n: sort_key(n.node))
    return FleetReport(
        gpudoctor_version=gpudoctor_version,
        created_at=created_at,
        nodes=tuple(_summary(n) for n in ordered),
        groups=_groups(ordered),
        findings=_findings(ordered, finding_info),
        drift=find_drift(ordered),
        outliers=find_outliers(throughput),
        unreadable=tuple(sorted(unreadable, key=lambda u: (sort_key(u.node), u.path))),
        not_reached=tuple(sorted(not_reached, key=lambda r: sort_key(r.node))),
    )


def _summary(n: NodeFacts) -> NodeSummary:
    return NodeSummary(
        node=n.node,
        verdict=n.verdict,
        finding_ids=n.finding_ids,
        gpu_model=n.gpu_model,
        gpu_count=n.gpu_count,
        driver=n.driver,
        cuda_driver=n.cuda_driver,
        cudnn=n.cudnn,
        frameworks=dict(sorted(n.frameworks.items())),
        partitions=n.partitions,
    )


def _groups(nodes: Sequence[NodeFacts]) -> tuple[NodeGroup, ...]:
    """Nodes that look the same in the summary table, one row each, worst first."""
    members: dict[tuple[object, ...], list[NodeFacts]] = defaultdict(list)
    for n in nodes:
        key = (
            n.verdict,
            n.finding_ids,
            n.gpu_model,
            n.gpu_count,
            n.driver,
            n.cuda_driver,
            n.cudnn,
            tuple(sorted(n.frameworks.items())),
        )
        members[key].append(n)
    groups = [
        NodeGroup(
            hostlist=compress(m.node for m in group),
            count=len(group),
            verdict=group[0].verdict,
            finding_ids=group[0].finding_ids,
            gpu_model=group[0].gpu_model,
            gpu_count=group[0].gpu_count,
            driver=group[0].driver,
            cuda_driver=group[0].cuda_driver,
            cudnn=group[0].cudnn,
            frameworks=dict(sorted(group[0].frameworks.items())),
        )
        for group in members.values()
    ]
    return tuple(
        sorted(groups, key=lambda g: (VERDICT_ORDER.get(g.verdict, 9), -g.count, g.hostlist))
    )


def _findings(
    nodes: Sequence[NodeFacts], info: Mapping[str, tuple[str, str]]
) -> tuple[FleetFinding, ...]:
    """Each finding ID with the nodes that have it, worst and most widespread first."""
    where: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        for fid in n.finding_ids:
            where[fid].append(n.node)
    found = []
    for fid, names in where.items():
        severity, title = info.get(fid, ("info", ""))
        found.append(
            FleetFinding(
                id=fid,
                severity=severity,
                title=title,
                nodes=tuple(names),
                hostlist=compress(names),
            )
        )
    return tuple(
        sorted(found, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -len(f.nodes), f.id))
    )
