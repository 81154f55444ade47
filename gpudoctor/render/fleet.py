"""The fleet report as text, Markdown and JSON; it only formats."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from gpudoctor.model.fleet import (
    FLEET_SCHEMA_VERSION,
    Drift,
    FindingPlace,
    FleetReport,
    NodeGroup,
    NodeStack,
    VerifyVerdict,
)
from gpudoctor.render.fleet_common import (
    MARKS,
    checked_line,
    frameworks_text,
    gpus_text,
    inert,
    majority_cell,
    node_marks,
    pair_rows,
    pairs_fine,
    pairs_summary,
    place_evidence,
    place_text,
    runs_line,
    verdict_line,
    verify_reason,
)
from gpudoctor.render.pairs import findings

# inert and frameworks_text live in fleet_common; they are named here too, for the callers of
# the text, Markdown and JSON forms (cli/fleet.py shows SLURM's strings inert).
__all__ = [
    "fleet_to_dict",
    "frameworks_text",
    "inert",
    "render_fleet",
    "render_json",
    "render_markdown",
    "render_text",
    "tables",
]

VERIFY_MARKS = {VerifyVerdict.FAIL: "✗", VerifyVerdict.WARN: "!", VerifyVerdict.PASS: "✓"}
PLACES_SHOWN = 8
"""Differently worded places of one finding the terminal shows; JSON has every one."""
PAIRS = "Node pairs (fleet pairs)"
"""The Markdown section of ``fleet pairs``' results, kept when they are all fine."""


FIX = "fix: "
"""How a fleet finding's evidence begins the fix it holds (fleet/gres.py's); the terminal shows
those lines of the evidence, Markdown and HTML all of it."""

ON_OFF = frozenset({"on", "off"})
"""The values of a switch (ACS redirect, ECC, MIG, persistence mode), as facts show them."""


def drift_text(d: Drift, limit: int = 8) -> str:
    """One drift in words: the majority value and its count, then each minority.

    A version reads ``570.124.06 on 7 nodes; 535.104.05 on gpu-008``; a switch ``off for 7
    nodes; on for gpu-007`` ("on on gpu-007" read as a stutter). A tie names every group, none
    the majority: ``a tie, no majority: 8 on gpu-001; 7 on gpu-002``.
    """
    shown = set(d.minority) if d.tied else {d.majority, *d.minority}
    where = "for" if shown <= ON_OFF else "on"
    others = "; ".join(
        f"{value} {where} {', '.join(members[:limit])}"
        + (f" and {len(members) - limit} more" if len(members) > limit else "")
        for value, members in d.minority.items()
    )
    if d.tied:
        return f"{d.fact} ({d.scope}): a tie, no majority: {others}"
    unit = "GPU" if d.fact.startswith("gpu.") else "node"
    unit += "" if d.majority_count == 1 else "s"  # "on 1 nodes" against a golden report
    if d.reference != "majority":  # a golden report or pinned facts: say which
        unit += " (the reference value)"
    return f"{d.fact} ({d.scope}): {d.majority} {where} {d.majority_count} {unit}; {others}"


def short_hostlist(hostlist: str, count: int, width: int = 60) -> str:
    """A hostlist cut to ``width`` characters for the terminal, with the node count."""
    if len(hostlist) <= width:
        return hostlist
    return f"{hostlist[: width - 1]}… ({count} nodes)"


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))).rstrip()
        for r in rows
    ]


def _stack_words(s: NodeStack) -> str:
    """``8× NVIDIA H100 80GB HBM3, driver 570.124.06, CUDA 12.8, cuDNN 9.1.0``."""
    parts = [
        gpus_text(s),
        f"driver {s.driver}" if s.driver else "no driver",
        f"CUDA {s.cuda_driver}" if s.cuda_driver else "",
        f"cuDNN {s.cudnn}" if s.cudnn else "",
    ]
    return ", ".join(p for p in parts if p)


def _group_lines(g: NodeGroup) -> list[str]:
    """A group of like nodes: verdict and hosts, then the stack, then the findings."""
    marks = node_marks(g.verify, g.drift)
    lines = [
        f"  {MARKS[g.verdict]} {g.verdict.label:<8} {inert(g.hostlist)} ({g.count})"
        + (f"  [{marks}]" if marks else ""),
        f"             {inert(_stack_words(g.stack))}",
    ]
    if g.stack.frameworks:
        lines.append(f"             {inert(frameworks_text(g.stack.frameworks))}")
    if g.finding_ids:
        lines.append(f"             findings: {' '.join(g.finding_ids)}")
    return lines


def _own_fixes(place: FindingPlace) -> list[str]:
    """The fixes that only some nodes of a place have (a drain their check named another node
    in), each under its node's name: the first :data:`PLACES_SHOWN`, then how many more."""
    own = [(o.node, e) for o in place.node_evidence for e in o.evidence if e.startswith(FIX)]
    lines = [f"        {inert(node)}: {inert(e)}" for node, e in own[:PLACES_SHOWN]]
    if len(own) > PLACES_SHOWN:
        lines.append(f"        and {len(own) - PLACES_SHOWN} more (--format json has them all)")
    return lines


def render_text(report: FleetReport) -> str:
    """The terminal form: grouped nodes, findings, drift, outliers, what was not reached."""
    out = [
        f"gpudoctor fleet report  ·  {len(report.nodes)} node report(s)  ·  "
        f"{report.created_at}  ·  gpudoctor {report.gpudoctor_version}",
    ]
    said = [line for line in (runs_line(report), checked_line(report)) if line]
    out += [*(inert(line) for line in said), ""]
    if report.groups:
        out.append("Nodes (same configuration and findings grouped)")
        for group in report.groups:
            out += _group_lines(group)
        out.append("")
    if report.findings:
        out.append("Findings across the fleet (each node in its own words)")
        rows = [
            [f"{MARKS[f.severity]} {f.id}", str(len(f.nodes)), inert(f.name)]
            for f in report.findings
        ]
        table = _table(rows)
        for line, f in zip(table, report.findings, strict=True):
            out.append(line)
            for place in f.places[:PLACES_SHOWN]:
                hosts = inert(short_hostlist(place.hostlist, len(place.nodes)))
                out.append(f"      {hosts}: {inert(place_text(place))}")
                # the fix a place's evidence holds (GD-GPU-068's drain command for exactly
                # these nodes): without it the terminal said "drain it" and not how
                out += [f"        {inert(e)}" for e in place.evidence if e.startswith(FIX)]
                out += _own_fixes(place)
            if len(f.places) > PLACES_SHOWN:
                more = len(f.places) - PLACES_SHOWN
                out.append(f"      and {more} more wording(s) (--format json has them all)")
        out.append("")
    if report.drift:
        out.append("Drift (facts that should be the same)")
        out += [f"  ! {inert(drift_text(d))}" for d in report.drift]
        out.append("")
    if report.outliers:
        out.append("Throughput outliers (far below the median of the same GPU model and run)")
        out += [
            f"  ! {inert(o.node)} {inert(o.device)} {inert(o.device_name)}: "
            f"{inert(o.model)} {inert(o.framework)} {inert(o.precision)} batch {o.batch_size}: "
            f"{o.images_per_second:,.1f} img/s, "
            f"{o.ratio:.2f} × the median {o.median:,.1f} of {o.peers} runs"
            for o in report.outliers
        ]
        out.append("")
    if report.pairs is not None:
        out.append(
            f"Node pairs (fleet pairs: {len(report.pairs.pairs)} two-node all-reduce(s), "
            f"{inert(report.pairs_path)})"
        )
        mark = "✓" if pairs_fine(report) else "·"
        out.append(f"  {mark} {inert(pairs_summary(report, where=False))}")
        lines = findings(report.pairs)
        bad = [line for line in lines if line.startswith("bad ")]
        # the pairs that did not run, as Markdown and HTML list them: the text left them out,
        # so a run whose every pair srun refused read as nothing but "no bus bandwidth"
        did_not_run = [
            f"{o.status} {inert(o.nodes[0])}+{inert(o.nodes[1])}: {inert(o.message)}"
            for o in report.pairs.pairs
            if o.status != "ok"
        ]
        out += [f"  ✗ {line}" for line in bad]
        out += [f"  · {line}" for line in did_not_run + lines[len(bad) :]]
        out.append("")
    unproven = [v for v in report.verify if v.verdict is not VerifyVerdict.PASS]
    if unproven:
        out.append("Verify results that did not pass")
        rows = [
            [
                f"{VERIFY_MARKS[v.verdict]} {inert(v.node)}",
                v.verdict.value,
                inert(v.path),
                inert(verify_reason(v)),
            ]
            for v in unproven
        ]
        out += [*_table(rows), ""]
    if report.not_reached:
        out.append("Not reached")
        rows = [[f"✗ {inert(r.node)}", inert(r.state), inert(r.reason)] for r in report.not_reached]
        out += [*_table(rows), ""]
    if report.unreadable:
        out.append("Unreadable reports")
        rows = [[f"✗ {inert(u.node)}", inert(u.path), inert(u.error)] for u in report.unreadable]
        out += [*_table(rows), ""]
    if report.skipped:
        out.append("Skipped (not node reports)")
        out += [*_table([[inert(k.path), inert(k.why)] for k in report.skipped]), ""]
    out.append(verdict_line(report))
    return "\n".join(out) + "\n"


def md_cell(text: str) -> str:
    """A Markdown table cell shown as written: one line, inert, Markdown and HTML escaped; a
    `quoted command` (a fix's) stays a code span, so that it reads and copies as one."""
    from gpudoctor.render.markdown import table_cell

    return table_cell(text) or "-"


Table = tuple[str, list[str], list[list[str]]]
"""A section of the report as a table: its title, its header and its rows of plain text."""


def tables(report: FleetReport) -> list[Table]:
    """The report's sections as tables, the same for Markdown and HTML (empty ones left out)."""
    found: list[Table] = [
        (
            "Nodes",
            [
                "Verdict",
                "Nodes",
                "N",
                "GPUs",
                "Driver",
                "CUDA",
                "cuDNN",
                "Frameworks",
                "Findings",
                "Verify, drift",
            ],
            [
                [
                    g.verdict.label,
                    g.hostlist,
                    str(g.count),
                    gpus_text(g.stack),
                    g.stack.driver or "-",
                    g.stack.cuda_driver or "-",
                    g.stack.cudnn or "-",
                    frameworks_text(g.stack.frameworks),
                    " ".join(g.finding_ids) or "-",
                    node_marks(g.verify, g.drift) or "-",
                ]
                for g in report.groups
            ],
        ),
        (
            "Findings across the fleet",
            ["Severity", "Finding", "Nodes", "Title on those nodes", "Evidence"],
            [
                [
                    p.severity.label,
                    f"{f.id} {f.name}".strip(),
                    p.hostlist,
                    place_text(p),
                    "; ".join(place_evidence(p)) or "-",
                ]
                for f in report.findings
                for p in f.places
            ],
        ),
        (
            "Drift",
            ["Fact", "Scope", "Majority", "Minority"],
            [
                [
                    d.fact,
                    d.scope,
                    majority_cell(d),
                    "; ".join(f"{v}: {', '.join(m)}" for v, m in d.minority.items()),
                ]
                for d in report.drift
            ],
        ),
        (
            "Throughput outliers",
            ["Node", "Device", "Run", "img/s", "× median"],
            [
                [
                    o.node,
                    f"{o.device} {o.device_name}",
                    f"{o.model} {o.framework} {o.precision} batch {o.batch_size}",
                    f"{o.images_per_second:,.1f}",
                    f"{o.ratio:.2f} of {o.median:,.1f}",
                ]
                for o in report.outliers
            ],
        ),
        (PAIRS, ["Kind", "Nodes", "Detail"], pair_rows(report)),
        (
            "Verify results that did not pass",
            ["Verdict", "Node", "File", "Reason"],
            [
                [v.verdict.value, v.node, v.path, verify_reason(v)]
                for v in report.verify
                if v.verdict is not VerifyVerdict.PASS
            ],
        ),
        (
            "Not reached",
            ["Node", "State", "Reason"],
            [[r.node, r.state, r.reason] for r in report.not_reached],
        ),
        (
            "Unreadable reports",
            ["Node", "File", "Error"],
            [[u.node, u.path, u.error] for u in report.unreadable],
        ),
        (
            "Skipped (not node reports)",
            ["File", "Why"],
            [[k.path, k.why] for k in report.skipped],
        ),
    ]
    # Pairs that are all fine keep their section, with no rows: the summary says they were read.
    return [table for table in found if table[2] or (table[0] == PAIRS and report.pairs)]


def _pairs_to_dict(report: FleetReport) -> dict[str, Any] | None:
    p = report.pairs
    if p is None:
        return None
    return {
        "path": report.pairs_path,
        "baseline_gbps": p.baseline_gbps,
        "slow_factor": p.slow_factor,
        "bad_nodes": [
            {"node": b.node, "partners": list(b.partners), "busbw_gbps": list(b.busbw_gbps)}
            for b in p.bad_nodes
        ],
        "bad_links": [list(link) for link in p.bad_links],
        "pairs": [
            {
                "nodes": list(o.nodes),
                "status": o.status,
                "busbw_gbps": o.busbw_gbps,
                "message": o.message,
            }
            for o in p.pairs
        ],
    }


def _checked_to_dict(report: FleetReport) -> dict[str, Any] | None:
    span = report.checked
    if span is None:
        return None
    return {
        "oldest": span.oldest,
        "newest": span.newest,
        "stale_after_hours": span.stale_after_h,
        "stale": list(span.stale),
        "undated": span.undated,
    }


def render_markdown(report: FleetReport) -> str:
    """The Markdown form, for tickets and wikis."""
    out = [
        "# gpudoctor fleet report",
        "",
        f"{len(report.nodes)} node report(s), {md_cell(report.created_at)}, "
        f"gpudoctor {md_cell(report.gpudoctor_version)}. **{md_cell(verdict_line(report))}**",
        "",
    ]
    for line in (runs_line(report), checked_line(report)):
        if line:
            out += [md_cell(line), ""]
    for title, header, rows in tables(report):
        out += [f"## {title}", ""]
        if title == PAIRS:
            out += [md_cell(pairs_summary(report)), ""]
        if not rows:
            continue
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def _stack_to_dict(s: NodeStack) -> dict[str, Any]:
    """A node's or group's stack as the JSON form spells it, in its order of keys."""
    return {
        "gpu_model": s.gpu_model,
        "gpu_count": s.gpu_count,
        "driver": s.driver,
        "cuda_driver": s.cuda_driver,
        "cudnn": s.cudnn,
        "frameworks": dict(s.frameworks),
    }


def fleet_to_dict(report: FleetReport) -> dict[str, Any]:
    """The versioned JSON form (docs/fleet.md, docs/fleet-schema.json)."""
    return {
        "schema_version": FLEET_SCHEMA_VERSION,
        "tool": "gpudoctor fleet report",
        "gpudoctor_version": report.gpudoctor_version,
        "created_at": report.created_at,
        "healthy": report.healthy,
        "nodes": [
            {
                "node": n.node,
                "verdict": n.verdict.label,
                "finding_ids": list(n.finding_ids),
                **_stack_to_dict(n.stack),
                "partitions": list(n.partitions),
                "verify": n.verify.value if n.verify else None,
                "drift": n.drift,
                "checked_at": n.checked_at or None,
            }
            for n in report.nodes
        ],
        "groups": [
            {
                "hostlist": g.hostlist,
                "count": g.count,
                "verdict": g.verdict.label,
                "finding_ids": list(g.finding_ids),
                **_stack_to_dict(g.stack),
                "verify": g.verify.value if g.verify else None,
                "drift": g.drift,
            }
            for g in report.groups
        ],
        "findings": {f.id: list(f.nodes) for f in report.findings},
        "finding_info": {
            f.id: {
                "severity": f.severity.label,
                "name": f.name,
                "hostlist": f.hostlist,
                "places": [
                    {
                        "hostlist": p.hostlist,
                        "nodes": list(p.nodes),
                        "severity": p.severity.label,
                        "titles": list(p.titles),
                        "evidence": list(p.evidence),
                        "node_evidence": {o.node: list(o.evidence) for o in p.node_evidence},
                    }
                    for p in f.places
                ],
            }
            for f in report.findings
        },
        "drift": [
            {
                "fact": d.fact,
                "scope": d.scope,
                "majority": d.majority,
                "majority_count": d.majority_count,
                "minority": {v: list(m) for v, m in d.minority.items()},
                "reference": d.reference,
            }
            for d in report.drift
        ],
        "outliers": [
            {
                "node": o.node,
                "device": o.device,
                "device_name": o.device_name,
                "model": o.model,
                "framework": o.framework,
                "precision": o.precision,
                "mode": o.mode,
                "batch_size": o.batch_size,
                "images_per_second": o.images_per_second,
                "median": o.median,
                "ratio": o.ratio,
                "peers": o.peers,
                "robust_z": o.robust_z,
            }
            for o in report.outliers
        ],
        "unreadable": [
            {"node": u.node, "path": u.path, "error": u.error} for u in report.unreadable
        ],
        "not_reached": [
            {"node": r.node, "state": r.state, "reason": r.reason} for r in report.not_reached
        ],
        "verify": [
            {"node": v.node, "verdict": v.verdict.value, "path": v.path, "reason": v.reason}
            for v in report.verify
        ],
        "skipped": [{"path": k.path, "why": k.why} for k in report.skipped],
        "pairs": _pairs_to_dict(report),
        "checked": _checked_to_dict(report),
        "runs": [
            {
                "created_at": r.created_at,
                "gpudoctor_version": r.gpudoctor_version,
                "command": list(r.command),
                "verify_command": None if r.verify_command is None else list(r.verify_command),
                "hostlist": r.hostlist,
                "nodes": list(r.nodes),
                "path": r.path,
            }
            for r in report.runs
        ],
    }


def render_json(report: FleetReport) -> str:
    """Standard JSON only: a non-finite number is a bug here, never ``NaN`` in the output.

    The document and its sections are indented; each entry of a section (a node, a group, a
    finding, a drift) is one line. Indenting every level (``json.dumps(indent=2)``) goes
    through the json module's Python encoder, a second of 10,000 nodes' report; a line per
    entry is written by its C encoder, and greps to one node per line.
    """
    return _json_lines(fleet_to_dict(report), depth=0) + "\n"


_JSON_EXPANDED = 2
"""Levels written one item per line; deeper values are written on one line."""


def _json_lines(value: Any, depth: int) -> str:
    if depth < _JSON_EXPANDED and isinstance(value, (dict, list)) and value:
        pad = "  " * (depth + 1)
        if isinstance(value, dict):
            items = [
                f"{pad}{_json_one(str(k))}: {_json_lines(v, depth + 1)}"
                for k, v in sorted(value.items())
            ]
            return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
        items = [pad + _json_lines(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"
    return _json_one(value)


def _json_one(value: Any) -> str:
    text = json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "), sort_keys=True
    )
    # A lone surrogate (a report's "\ud800") is kept as the JSON escape it was read as: raw,
    # no UTF-8 file or pipe can hold it, and writing the document failed (exit 3).
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _html(report: FleetReport) -> str:
    from gpudoctor.render.fleet_html import render_html  # it imports this module

    return render_html(report)


def _prometheus(report: FleetReport) -> str:
    from gpudoctor.render.fleet_prometheus import render_prometheus  # it imports this module

    return render_prometheus(report)


RENDERERS: dict[str, Callable[[FleetReport], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "html": _html,
    "prometheus": _prometheus,
}
"""Every format `fleet report --format` and `fleet run --format` accept."""


def render_fleet(fmt: str, report: FleetReport) -> str:
    """The report in ``fmt``: text, json, markdown, html or prometheus; any other is refused."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        msg = f"unknown format {fmt!r} (one of {', '.join(RENDERERS)})"
        raise ValueError(msg)
    return renderer(report)
