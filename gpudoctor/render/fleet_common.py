"""What every fleet renderer shares: inert strings, marks, and the report's stock phrases."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import (
    Drift,
    FindingPlace,
    FleetReport,
    NodeStack,
    VerifyOutcome,
    VerifyVerdict,
)
from gpudoctor.model.inert import inert as _inert

MARKS = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i", Severity.OK: "✓"}
"""A verdict's or severity's mark, so that it reads without colour too."""


def inert(text: str) -> str:
    """``text`` on one line with every control and bidi character shown as an escape.

    Node names, reasons and titles come from reports and SLURM, which anyone may have
    written: an escape sequence among them must print as text, never act on the terminal.
    """
    return _inert(text, one_line=True)


_UTC = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?Z")


def runs_line(report: FleetReport) -> str | None:
    """``Checked by 2 fleet runs: 2026-12-01 02:00 UTC (gpu-[001-006]); 2026-12-07 09:30 UTC
    (gpu-[007-008], with verify)``: after ``fleet run --force`` on a subset, which run's word
    each node's is. None with one run (or none): then there is nothing to tell apart.

    Each run's gpudoctor is named when they differ, so that an older one's reports stand out.
    """
    if len(report.runs) < 2:
        return None
    several = len({r.gpudoctor_version for r in report.runs}) > 1
    parts = []
    for r in report.runs:
        notes = [r.hostlist or "no node"]
        if r.verify_command is not None:
            notes.append("with verify")
        if several:
            notes.append(f"gpudoctor {r.gpudoctor_version or 'unknown'}")
        when = _UTC.fullmatch(r.created_at)
        shown = f"{when[1]} {when[2]} UTC" if when else r.created_at or "unknown time"
        parts.append(f"{shown} ({', '.join(notes)})")
    return f"Checked by {len(report.runs)} fleet runs: " + "; ".join(parts)


def _shown(stamp: str) -> str:
    """``2026-12-07 09:30 UTC`` for ``2026-12-07T09:30:12Z``; other strings as they are."""
    when = _UTC.fullmatch(stamp)
    return f"{when[1]} {when[2]} UTC" if when else stamp or "unknown time"


def checked_line(report: FleetReport) -> str | None:
    """``Node reports checked 2026-12-01 02:00 UTC to 2026-12-07 09:30 UTC; stale (checked
    more than 24 h before the newest): gpu-[007-008] (2)``: the nodes table may mix days, as
    the pairs may; None when no node report says when it was checked."""
    span = report.checked
    if span is None:
        return None
    oldest, newest = _shown(span.oldest), _shown(span.newest)
    line = (
        f"Node reports checked {newest}"
        if oldest == newest
        else (f"Node reports checked {oldest} to {newest}")
    )
    if span.undated:
        line += f" ({span.undated} without a check time)"
    if span.stale:
        line += (
            f"; stale (checked more than {span.stale_after_h:g} h before the newest): "
            f"{span.stale_hostlist} ({len(span.stale)})"
        )
    return line


def verify_reason(outcome: VerifyOutcome) -> str:
    """Why a verify result did not pass, as the "Verify results that did not pass" rows say."""
    return outcome.reason or "(no reason given)"


def gpus_text(stack: NodeStack) -> str:
    """``8× NVIDIA H100 80GB HBM3``; ``no GPU`` when NVML listed none."""
    if not stack.gpu_count:
        return "no GPU"
    return f"{stack.gpu_count}× {stack.gpu_model or 'unknown GPU'}"


def frameworks_text(frameworks: Iterable[tuple[str, str]]) -> str:
    """``torch 2.4.0+cu124 (CUDA 12.4, cuDNN 9.1.0); tensorflow not installed``."""
    return "; ".join(f"{name} {build}" for name, build in frameworks) or "-"


def verdict_line(report: FleetReport) -> str:
    """The closing sentence: every node counted by what there is to do about it."""
    verify_only = report.verify_only
    verdicts = [n.verdict for n in report.nodes]
    verdicts += [v.verdict.severity for v in verify_only]
    known = {n.node for n in report.nodes} | {v.node for v in verify_only}
    unreadable_nodes = {u.node for u in report.unreadable} - known
    total = len(verdicts) + len(report.not_reached) + len(unreadable_nodes)
    errors, warnings = verdicts.count(Severity.ERROR), verdicts.count(Severity.WARNING)
    failed = sum(1 for v in report.verify if v.verdict is VerifyVerdict.FAIL)
    drifting = sum(1 for n in report.nodes if n.drift)
    fine = sum(1 for n in report.nodes if n.verdict == Severity.OK and not n.drift)
    fine += sum(1 for v in verify_only if v.verdict is VerifyVerdict.PASS)
    parts = []
    if errors:
        parts.append(f"{errors} with an error" + (f" ({failed} failed verify)" if failed else ""))
    if warnings:
        parts.append(f"{warnings} with a warning")
    if drifting:
        parts.append(f"{drifting} drifting")
    if report.not_reached:
        parts.append(f"{len(report.not_reached)} not reached")
    if report.unreadable:
        parts.append(f"{len(report.unreadable)} unreadable report(s)")
    facts = []
    if report.drift:
        facts.append(f"{len(report.drift)} drifting fact(s)")
    if report.outliers:
        facts.append(f"{len(report.outliers)} throughput outlier(s)")
    if report.pairs is not None and report.pairs.bad_nodes:
        facts.append(f"{len(report.pairs.bad_nodes)} bad node(s) in the pairs")
    if report.pairs is not None and report.pairs.bad_links:
        facts.append(f"{len(report.pairs.bad_links)} bad link(s) in the pairs")
    if report.checked is not None and report.checked.stale:
        facts.append(f"{len(report.checked.stale)} stale node report(s)")
    refused = report.pairs is not None and sum(o.status == "refused" for o in report.pairs.pairs)
    if refused:  # they judge no node, but the pairs are still to be measured
        # not all srun's doing: a rendezvous port taken, an interrupt, the run's time limit
        facts.append(f"{refused} pair(s) did not run")
    if not parts and not facts:
        # a folder of fleet pairs' results alone read "All 0 node(s) fine."
        return f"All {total} node(s) fine." if total else "No node report read."
    tail = f"; {', '.join(facts)}" if facts else ""
    return f"{total} node(s): {', '.join([f'{fine} fine', *parts])}{tail}."


def pair_rows(report: FleetReport) -> list[list[str]]:
    """Bad nodes, bad links, pairs that did not run and nodes not paired (fleet pairs), one
    row each."""
    p = report.pairs
    if p is None:
        return []
    rows = [
        [
            "bad node",
            b.node,
            "slow with every partner: "
            + ", ".join(
                f"{n} {v:.2f} GB/s" if v is not None else f"{n} failed"
                for n, v in zip(b.partners, b.busbw_gbps, strict=True)
            ),
        ]
        for b in p.bad_nodes
    ]
    rows += [["bad link", f"{a}+{b}", "slow only together"] for a, b in p.bad_links]
    rows += [
        [o.status, f"{o.nodes[0]}+{o.nodes[1]}", o.message] for o in p.pairs if o.status != "ok"
    ]
    # the text report lists them too: drained or down nodes fleet pairs left out
    rows += [["not paired", node, why] for node, why in p.not_reached]
    return rows


def gbps(value: float | None) -> str:
    """A bandwidth in GB/s as the tables write it: ``47.30``, ``1,234``, ``–`` for none."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def pairs_fine(report: FleetReport) -> bool:
    """``fleet pairs`` was read and found nothing: every pair ran, none slow, none left out
    but nodes alone in their partition (listed, yet nothing is wrong with them)."""
    p = report.pairs
    if p is None or p.slow_pairs:
        return False
    alone = {("not paired", node) for node in p.alone}
    return all((kind, nodes) in alone for kind, nodes, _ in pair_rows(report))


def pairs_summary(report: FleetReport, *, where: bool = True) -> str:
    """One line on ``fleet pairs``: how many pairs of how many nodes, the bus bandwidth range
    at each pair's largest message, and (``where``) the file it came from; "" without pairs."""
    p = report.pairs
    if p is None:
        return ""
    nodes = {n for o in p.pairs for n in o.nodes}
    measured = [o.busbw_gbps for o in p.pairs if o.busbw_gbps is not None]
    if measured:
        low, high = min(measured), max(measured)
        span = gbps(low) if gbps(low) == gbps(high) else f"{gbps(low)}–{gbps(high)}"
        bandwidth = f"bus bandwidth {span} GB/s"
    else:
        bandwidth = "no bus bandwidth measured"
    counted = f"{len(p.pairs)} pair(s) of {len(nodes)} node(s)"
    head = f"All {counted} fine" if pairs_fine(report) else f"{counted} measured"
    # when they ran: beside node reports of another day, pairs of nodes since drained
    when = _UTC.fullmatch(p.created_at)
    said = [f"read from {report.pairs_path}"] if where and report.pairs_path else []
    said += [f"measured {when[1]} {when[2]} UTC"] if when else []
    read = f" ({'; '.join(said)})" if said else ""
    return f"{head}: {bandwidth}{read}."


def majority_cell(drift: Drift) -> str:
    """The Majority column of a drift: ``570.124.06 (7)``, or ``none (a tie)`` where two or
    more values have the most members (the Minority column then names every group)."""
    return "none (a tie)" if drift.tied else f"{drift.majority} ({drift.majority_count})"


def node_marks(verify: VerifyVerdict | None, drift: bool) -> str:
    """``verify fail, drift``: what the node table adds to a node's verdict."""
    marks = [f"verify {verify.value}"] if verify else []
    return ", ".join([*marks, "drift"] if drift else marks)


def place_text(place: FindingPlace) -> str:
    """One place of a finding: the nodes' own titles (one per GPU for a per-GPU finding)."""
    return "; ".join(place.titles) or "-"


NODE_EVIDENCE_SHOWN = 3
"""Nodes whose own evidence Markdown and HTML show under a place's; JSON has every one."""


def place_evidence(place: FindingPlace) -> list[str]:
    """A place's evidence as Markdown and HTML show it, one item a line: the lines every node
    has, then each node's own (``n1: SLURM job 17 on node n1: ...``) for the first
    :data:`NODE_EVIDENCE_SHOWN` nodes, and how many more JSON has."""
    own = [f"{o.node}: {' / '.join(o.evidence)}" for o in place.node_evidence[:NODE_EVIDENCE_SHOWN]]
    more = len(place.node_evidence) - NODE_EVIDENCE_SHOWN
    if more > 0:
        own.append(f"and {more} more node(s) with evidence of their own (--format json has it)")
    return [*place.evidence, *own]
