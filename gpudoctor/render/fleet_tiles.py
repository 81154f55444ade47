"""The fleet at a glance: the overall state and a count per verdict, for the HTML dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import FleetReport, VerifyVerdict


@dataclass(frozen=True)
class Tile:
    """One count on the dashboard: ``kind`` picks its colour, ``label`` says it in words."""

    kind: str
    label: str
    count: int
    unit: str


def overall(report: FleetReport) -> Severity:
    """ERROR when the exit status is 1, WARNING when something needs a look, or OK."""
    if not report.healthy:
        return Severity.ERROR
    warned = any(n.verdict == Severity.WARNING for n in report.nodes) or any(
        v.verdict is VerifyVerdict.WARN for v in report.verify
    )
    if report.drift or report.outliers or warned:
        return Severity.WARNING
    return Severity.OK


def tiles(report: FleetReport) -> list[Tile]:
    """Problems first; slow GPUs only when there are any, the rest always.

    A node counts once by its verdict (a failed verify makes it an error); drift is counted
    apart, since a node with an error may drift too, so the tiles need not add up.
    """
    verdicts = [n.verdict for n in report.nodes]
    verdicts += [v.verdict.severity for v in report.verify_only]
    # A node verdict is ok, warning or error; anything else (info) would be shown as an error.
    errors = sum(1 for v in verdicts if v not in (Severity.WARNING, Severity.OK))
    facts = f"{len(report.drift)} fact{'' if len(report.drift) == 1 else 's'}"
    found = [
        Tile("error", "error", errors, "nodes"),
        Tile("warning", "warning", verdicts.count(Severity.WARNING), "nodes"),
        Tile("drift", "drift", sum(1 for n in report.nodes if n.drift), f"nodes, {facts}"),
        Tile("error", "unreadable", len(report.unreadable), "reports"),
        Tile("error", "not reached", len(report.not_reached), "nodes"),
    ]
    if report.outliers:
        found.append(Tile("warning", "slow GPU", len(report.outliers), "throughput outliers"))
    # "ok" is what the closing line calls fine: nothing to act on, drift included
    fine = sum(1 for n in report.nodes if n.verdict == Severity.OK and not n.drift)
    fine += sum(1 for v in report.verify_only if v.verdict is VerifyVerdict.PASS)
    found.append(Tile("ok", "ok", fine, "nodes"))
    return found
