"""The fleet report as one self-contained HTML dashboard: no script, no network, all escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import FleetReport, NodeGroup, VerifyVerdict
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
from gpudoctor.render.fleet_tiles import overall, tiles

# Even if a string escaped its escaping, the page could run nothing and fetch nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.4em 0 .3em; }
.meta { color: #555; margin: 0 0 .8em; }
.meta.stale { color: #6e3f00; font-weight: 600; }
.banner { border: 2px solid; border-radius: 6px; padding: .6em 1em; margin-bottom: .8em; }
.banner .state { font-size: 1.5em; font-weight: 700; margin-right: .6em; }
.banner .line { font-size: 1.05em; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(8.5em, 1fr));
  gap: .6em; margin-bottom: 1em; }
.tile { border: 1px solid; border-radius: 6px; padding: .4em .7em; }
.tile .n { display: block; font-size: 2em; font-weight: 700; line-height: 1.1; }
.tile .l { display: block; font-weight: 600; } .tile .u { display: block; font-size: .85em; }
.tile.none { background: #f6f6f6; border-color: #ddd; color: #777; }
section.problem { border-left-width: 5px; border-left-style: solid; padding-left: .8em; }
table { border-collapse: collapse; margin: .3em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { background: #f3f3f3; }
td.v { white-space: nowrap; font-weight: 600; }
td.evidence div + div { margin-top: .25em; }
code { font: .95em/1.3 ui-monospace, monospace; background: #f3f3f3; padding: 0 .2em; }
.same { margin: .2em 0 .4em; }
.error { background: #fde8eb; border-color: #b00020; color: #8a0018; }
.warning { background: #fff3df; border-color: #a15c00; color: #6e3f00; }
.drift { background: #f1ecfa; border-color: #5b3b9a; color: #46287f; }
.info { background: #e8f0fb; border-color: #1d4f91; color: #1d4f91; }
.ok { background: #e6f4e6; border-color: #1b6e1b; color: #175c17; }
section.problem { background: none; color: inherit; }  /* the border keeps the colour */
section.error h2 { color: #8a0018; } section.warning h2 { color: #6e3f00; }
section.drift h2 { color: #46287f; } section.info h2 { color: #1d4f91; }
section.ok h2 { color: #175c17; }
"""

BANNER = {
    Severity.ERROR: "✗ Not healthy",
    Severity.WARNING: "! Healthy, with warnings",
    Severity.OK: "✓ Healthy",
}

_STACK = ["GPUs", "Driver", "CUDA", "cuDNN", "Frameworks"]


class Html(str):
    """Markup made here, from escaped parts; any other string is text and is escaped."""


def _e(text: object) -> str:
    return escape(inert(str(text)), quote=True)


def _hosts(hostlist: str) -> Html:
    """A hostlist cell that may wrap after each comma: it has no spaces to wrap at."""
    return Html(f"<td>{_e(hostlist).replace(',', ',<wbr>')}</td>")


def _code_spans(text: str) -> str:
    """``text`` escaped, each `quoted command` in it as ``<code>``, as Markdown shows it: the
    drain command of GD-GPU-068's fix reads, and copies, as one."""
    parts = inert(text).split("`")
    if len(parts) % 2 == 0:  # a lone backtick: no span to close, all of it is text
        return escape(inert(text), quote=True)
    return "".join(
        f"<code>{escape(p, quote=True)}</code>" if i % 2 else escape(p, quote=True)
        for i, p in enumerate(parts)
    )


def _evidence(evidence: Sequence[str]) -> Html:
    """A place's evidence, its fix among it, one item a line (Markdown's Evidence column)."""
    if not evidence:
        return Html("<td>-</td>")
    lines = "".join(f"<div>{_code_spans(e)}</div>" for e in evidence)
    return Html(f'<td class="evidence">{lines}</td>')


def _verdict_cell(verdict: Severity) -> Html:
    """A verdict in words with its mark, so that it reads without colour too; its word is
    its CSS class."""
    return Html(f'<td class="v {verdict.label}">{MARKS[verdict]} {_e(verdict.label)}</td>')


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A table of cells made here (:class:`Html`) or of text, escaped here."""
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = (c if isinstance(c, Html) else f"<td>{_e(c)}</td>" for c in row)
        out.append("<tr>" + "".join(cells) + "</tr>")
    return [*out, "</table>"]


def _section(
    title: str, count: int, level: Severity | None, body: list[str], *, css: str = ""
) -> list[str]:
    """A titled part of the page; a problem's part is marked in colour and with a mark.

    ``level`` gives the mark and, unless ``css`` names another (``drift``), the colour.
    """
    mark = f"{MARKS[level]} " if level is not None else ""
    kind = css or (level.label if level is not None else "")
    cls = f' class="problem {kind}"' if kind else ""
    return [f"<section{cls}>", f"<h2>{mark}{_e(title)} ({count})</h2>", *body, "</section>"]


def _stack(g: NodeGroup) -> list[str]:
    return [
        gpus_text(g.stack),
        g.stack.driver or "-",
        g.stack.cuda_driver or "-",
        g.stack.cudnn or "-",
        frameworks_text(g.stack.frameworks),
    ]


def _nodes(report: FleetReport) -> list[str]:
    """Grouped nodes, worst first; a stack column that is the same on every row is said once."""
    stacks = [_stack(g) for g in report.groups]
    same = [i for i in range(len(_STACK)) if len(stacks) > 1 and len({s[i] for s in stacks}) == 1]
    body = []
    if same:
        said = "; ".join(f"{_e(_STACK[i])}: {_e(stacks[0][i])}" for i in same)
        body.append(f'<p class="same">Same on every node with a report: {said}</p>')
    keep = [i for i in range(len(_STACK)) if i not in same]
    rows = [
        [
            _verdict_cell(g.verdict),
            _hosts(g.hostlist),
            str(g.count),
            node_marks(g.verify, g.drift) or "-",
            *(stack[i] for i in keep),
            " ".join(g.finding_ids) or "-",
        ]
        for g, stack in zip(report.groups, stacks, strict=True)
    ]
    header = ["Verdict", "Nodes", "N", "Marks", *(_STACK[i] for i in keep), "Findings"]
    return body + _table(header, rows)


def _problems(report: FleetReport) -> list[str]:
    """What stops the fleet or needs a look, the worst first: before the list of all nodes."""
    out: list[str] = []
    if report.not_reached:
        error = Severity.ERROR
        rows = [[_verdict_cell(error), r.node, r.state, r.reason] for r in report.not_reached]
        table = _table(["", "Node", "State", "Reason"], rows)
        out += _section("Not reached", len(report.not_reached), error, table)
    if report.unreadable:
        error = Severity.ERROR
        rows = [[_verdict_cell(error), u.node, u.path, u.error] for u in report.unreadable]
        table = _table(["", "Node", "File", "Error"], rows)
        out += _section("Unreadable reports", len(report.unreadable), error, table)
    if report.findings:
        worst = report.findings[0].severity
        # One row per wording: each node keeps its own title (GPU 2 here, GPU 5 there).
        rows = [
            [
                _verdict_cell(place.severity),
                f.id,
                f.name or "-",
                _hosts(place.hostlist),
                str(len(place.nodes)),
                place_text(place),
                _evidence(place_evidence(place)),
            ]
            for f in report.findings
            for place in (f.places or ())
        ]
        header = ["Severity", "Finding", "Means", "Nodes", "N", "On those nodes", "Evidence"]
        table = _table(header, rows)
        out += _section("Findings across the fleet", len(report.findings), worst, table)
    unproven = [v for v in report.verify if v.verdict is not VerifyVerdict.PASS]
    if unproven:
        rows = [
            [
                _verdict_cell(v.verdict.severity),
                v.node,
                v.verdict.value,
                v.path,
                verify_reason(v),
            ]
            for v in unproven
        ]
        table = _table(["", "Node", "Verify", "File", "Reason"], rows)
        worst = max(v.verdict.severity for v in unproven)
        out += _section("Verify results that did not pass", len(unproven), worst, table)
    if report.drift:
        rows = [
            [
                d.fact,
                d.scope,
                majority_cell(d),
                "; ".join(f"{v}: {', '.join(m)}" for v, m in d.minority.items()),
            ]
            for d in report.drift
        ]
        table = _table(["Fact", "Scope", "Majority", "Minority"], rows)
        out += _section("Drift", len(report.drift), Severity.WARNING, table, css="drift")
    if report.outliers:
        rows = [
            [
                o.node,
                f"{o.device} {o.device_name}",
                f"{o.model} {o.framework} {o.mode} {o.precision} batch {o.batch_size}",
                f"{o.images_per_second:,.1f}",
                f"{o.ratio:.2f} of {o.median:,.1f}",
            ]
            for o in report.outliers
        ]
        table = _table(["Node", "Device", "Run", "img/s", "× median"], rows)
        out += _section("Throughput outliers", len(report.outliers), Severity.WARNING, table)
    rows = pair_rows(report)
    summary = [f'<p class="same">{_e(pairs_summary(report))}</p>']
    if rows:
        # A bad node or link makes the fleet unhealthy; pairs that only did not run warn.
        p = report.pairs
        bad = p is not None and bool(p.bad_nodes or p.bad_links)
        # nodes alone in their partition, the only rows: listed, nothing to do
        worst = Severity.ERROR if bad else Severity.OK if pairs_fine(report) else Severity.WARNING
        table = _table(["Kind", "Nodes", "Detail"], rows)
        out += _section("Node pairs", len(rows), worst, [*summary, *table])
    elif report.pairs is not None:
        # All fine: still shown, so that the reader sees the pairs were read.
        out += _section("Node pairs", len(report.pairs.pairs), Severity.OK, summary)
    return out


def _checked(report: FleetReport) -> list[str]:
    """When the node reports were checked; with stale ones, marked as a warning."""
    line = checked_line(report)
    if line is None:
        return []
    if report.checked is not None and report.checked.stale:
        return [f'<p class="meta checked stale">{MARKS[Severity.WARNING]} {_e(line)}</p>']
    return [f'<p class="meta checked">{_e(line)}</p>']


def render_html(report: FleetReport) -> str:
    """A page readable offline, in any browser, from a file or an email attachment.

    The first screen answers "is the fleet fine?": a banner with the overall state, a tile
    per verdict, then the problems; the grouped list of all nodes comes last.
    """
    state = overall(report)
    tile_html = [
        f'<div class="tile {t.kind if t.count else "none"}"><span class="n">{t.count}</span>'
        f'<span class="l">{_e(t.label)}</span><span class="u">{_e(t.unit)}</span></div>'
        for t in tiles(report)
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>gpudoctor fleet report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>gpudoctor fleet report</h1>",
        f'<p class="meta">{len(report.nodes)} node report(s) · {_e(report.created_at)} · '
        f"gpudoctor {_e(report.gpudoctor_version)}</p>",
        *([f'<p class="meta runs">{_e(runs)}</p>'] if (runs := runs_line(report)) else []),
        *_checked(report),
        f'<div class="banner {state.label}" role="status">'
        f'<span class="state">{BANNER[state]}</span>'
        f'<span class="line">{_e(verdict_line(report))}</span></div>',
        '<div class="tiles">',
        *tile_html,
        "</div>",
        *_problems(report),
    ]
    if report.groups:
        out += _section("Nodes", len(report.nodes), None, _nodes(report))
    if report.skipped:
        rows = [[k.path, k.why] for k in report.skipped]
        out += _section(
            "Skipped (not node reports)", len(rows), None, _table(["File", "Why"], rows)
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
