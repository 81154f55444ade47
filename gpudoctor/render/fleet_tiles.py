"""The fleet at a glance: the overall state and a count per verdict, for the HTML dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.model.fleet import VERIFY_VERDICTS, FleetReport


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
    warned = any(n.verdict == "warning" for n in report.nodes) or any(
        v.verdict == "warn" for v in report.verify
    )
    if report.drift or report.outliers or warned:
        return "warning"
    return "ok"


def tiles(report: FleetReport) -> list[Tile]:
    """Problems first; slow GPUs only when there are any, the rest always.

    A node counts once by its verdict (a failed verify makes it an error); drift is counted
    apart, since a node with an error may drift too, so the tiles need not add up.
    """
    verdicts = [n.verdict for n in report.nodes]
    verdicts += [VERIFY_VERDICTS.get(v.verdict, "error") for v in report.verify_only]
    known = {"error", "warning", "ok"}
    errors = sum(1 for v in verdicts if v == "error" or v not in known)
    facts = f"{len(report.drift)} fact{'' if len(report.drift) == 1 else 's'}"
    found = [
        Tile("error", "error", errors, "nodes"),
        Tile("warning", "warning", verdicts.count("warning"), "nodes"),
        Tile("drift", "drift", sum(1 for n in report.nodes if n.drift), f"nodes, {facts}"),
        Tile("error", "unreadable", len(report.unreadable), "reports"),
        Tile("error", "not reached", len(report.not_reached), "nodes"),
    ]
    if report.outliers:
        found.append(Tile("warning", "slow GPU", len(report.outliers), "throughput outliers"))
    # "ok" is what the closing line calls fine: nothing to act on, drift included
    fine = sum(1 for n in report.nodes if n.verdict == "ok" and not n.drift)
    fine += sum(1 for v in report.verify_only if v.verdict == "pass")
    found.append(Tile("ok", "ok", fine, "nodes"))
    return found
