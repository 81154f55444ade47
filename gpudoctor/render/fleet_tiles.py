"""The fleet at a glance: the overall state and a count per verdict, for the HTML dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpudoctor.model.fleet import FleetReport

_GPU_MEMBER = re.compile(r":gpu\d+$")


@dataclass(frozen=True)
class Tile:
    """One count on the dashboard: ``kind`` picks its colour, ``label`` says it in words."""

    kind: str
    label: str
    count: int
    unit: str


def overall(report: FleetReport) -> str:
    """``error`` when the exit status is 1, ``warning`` when something needs a look, or ``ok``."""
    if not report.healthy:
        return "error"
    if report.drift or report.outliers or any(n.verdict == "warning" for n in report.nodes):
        return "warning"
    return "ok"


def drifting_nodes(report: FleetReport) -> set[str]:
    """The nodes in a drift's minority; a GPU (``node:gpu3``) counts as its node."""
    return {
        _GPU_MEMBER.sub("", member)
        for d in report.drift
        for members in d.minority.values()
        for member in members
    }


def tiles(report: FleetReport) -> list[Tile]:
    """Problems first; info and slow GPUs only when there are any, the rest always.

    The counts overlap (a node with an error finding may drift too), so they are not meant
    to add up to the number of nodes.
    """
    verdicts = [n.verdict for n in report.nodes]
    known = {"error", "warning", "info", "ok"}
    errors = sum(1 for v in verdicts if v == "error" or v not in known)
    facts = f"{len(report.drift)} fact{'' if len(report.drift) == 1 else 's'}"
    found = [
        Tile("error", "error", errors, "nodes"),
        Tile("warning", "warning", verdicts.count("warning"), "nodes"),
        Tile("drift", "drift", len(drifting_nodes(report)), f"nodes, {facts}"),
        Tile("error", "unreadable", len(report.unreadable), "reports"),
        Tile("error", "not reached", len(report.not_reached), "nodes"),
    ]
    if report.outliers:
        found.append(Tile("warning", "slow GPU", len(report.outliers), "throughput outliers"))
    if "info" in verdicts:
        found.append(Tile("info", "info", verdicts.count("info"), "nodes"))
    found.append(Tile("ok", "ok", verdicts.count("ok"), "nodes"))
    return found
