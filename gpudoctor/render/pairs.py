"""``fleet pairs``' report as text, Markdown and JSON: the pairs, bad nodes and bad links."""

from __future__ import annotations

import json

from gpudoctor.model.hardware import PairsReport
from gpudoctor.model.inert import inert
from gpudoctor.model.serialize import finite_json, to_dict
from gpudoctor.render.fleet_common import gbps

TOOL = "gpudoctor fleet pairs"
"""fleet/pairs.PAIRS_TOOL: the render layer does not import fleet."""
HEADERS = ("pair", "status", "bus GB/s", "alg GB/s", "size", "backend", "note")


def _size(nbytes: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):g} {unit}"
    return f"{nbytes} B"


def rows(report: PairsReport) -> list[tuple[str, ...]]:
    """One row per pair, at the largest message of its sweep."""
    slow = set(report.slow_pairs)
    out: list[tuple[str, ...]] = []
    for p in report.pairs:
        top = p.allreduce.largest if p.allreduce is not None else None
        status = p.status if p.status != "ok" else ("slow" if p.nodes in slow else "ok")
        out.append(
            (
                inert(f"{p.nodes[0]}+{p.nodes[1]}", one_line=True),
                status,
                gbps(top.busbw_gbps if top else None),
                gbps(top.algbw_gbps if top else None),
                _size(top.bytes) if top else "–",
                p.allreduce.backend if p.allreduce else "–",
                inert(p.message, one_line=True, limit=200),
            )
        )
    return out


def findings(report: PairsReport) -> list[str]:
    """What the pattern says, most serious first, one line each."""
    lines = []
    for b in report.bad_nodes:
        seen = ", ".join(
            f"{inert(p, one_line=True)} {gbps(v)}"
            for p, v in zip(b.partners, b.busbw_gbps, strict=True)
        )
        lines.append(
            f"bad node {inert(b.node, one_line=True)}: slow or failing with every partner ({seen} "
            "GB/s): its NIC, cable, GPU or PCIe link; drain it and check it"
        )
    for one, two in report.bad_links:
        lines.append(
            f"bad link {inert(one, one_line=True)}+{inert(two, one_line=True)}: slow or failing "
            "only together, fine with other partners: the link between them (cable, switch "
            "port, routing)"
        )
    for node, why in report.not_reached:
        lines.append(f"not paired {inert(node, one_line=True)}: {inert(why, one_line=True)}")
    if report.baseline_gbps is not None:
        lines.append(
            f"baseline {gbps(report.baseline_gbps)} GB/s (the pairs' upper quartile); slow: "
            f"below {report.slow_factor:.0%} of it"
        )
    return lines


def render_text(report: PairsReport) -> str:
    """A plain table and the findings."""
    table = [HEADERS, *rows(report)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    out += ["", *findings(report)]
    out.append(f"verdict: {'PASS' if report.healthy else 'FAIL'}")
    return "\n".join(out) + "\n"


def render_markdown(report: PairsReport) -> str:
    """A Markdown section for a ticket."""
    head = "PASS" if report.healthy else "FAIL"
    out = [f"## gpudoctor fleet pairs: {head}", ""]
    out.append("| " + " | ".join(HEADERS) + " |")
    out.append("|" + "|".join("---:" if h.endswith("GB/s") else "---" for h in HEADERS) + "|")
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows(report)]
    lines = findings(report)
    if lines:
        out += ["", *[f"- {line}" for line in lines]]
    return "\n".join(out) + "\n"


def render_json(report: PairsReport) -> str:
    """The report as versioned JSON (docs/fleet.md)."""
    # schema_version as in every other document (`version`, the all-reduce records' own, stays
    # for readers of the files written before 2026-12-07); what wrote it first
    doc = {"schema_version": report.version, "tool": TOOL, **to_dict(report)}
    doc["healthy"] = report.healthy
    return json.dumps(finite_json(doc), indent=2, sort_keys=True, allow_nan=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
