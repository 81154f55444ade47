"""The fleet report as one self-contained HTML page: no script, no network, escaped throughout."""

from __future__ import annotations

from html import escape

from gpudoctor.model.fleet import FleetReport
from gpudoctor.render.fleet import frameworks_text, gpus_text, inert, verdict_line

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.error { color: #b00020; font-weight: 600; } .warning { color: #a15c00; }
.info { color: #1d4f91; } .ok { color: #1b6e1b; }
.verdict { font-weight: 600; }
"""


def _e(text: object) -> str:
    return escape(inert(str(text)), quote=True)


def _table(header: list[str], rows: list[list[str]], raw_first: bool = False) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = [row[0] if raw_first else _e(row[0]), *(_e(c) for c in row[1:])]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return out


def _verdict(v: str) -> str:
    return f'<span class="{_e(v)}">{_e(v)}</span>'


def render_html(report: FleetReport) -> str:
    """A page readable offline, in any browser, from a file or an email attachment."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>gpudoctor fleet report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>gpudoctor fleet report</h1>",
        f"<p>{len(report.nodes)} node report(s), {_e(report.created_at)}, gpudoctor "
        f"{_e(report.gpudoctor_version)}.</p>",
        f'<p class="verdict">{_e(verdict_line(report))}</p>',
    ]
    if report.groups:
        out.append("<h2>Nodes</h2>")
        out += _table(
            ["Verdict", "Nodes", "N", "GPUs", "Driver", "CUDA", "cuDNN", "Frameworks", "Findings"],
            [
                [
                    _verdict(g.verdict),
                    g.hostlist,
                    str(g.count),
                    gpus_text(g.gpu_model, g.gpu_count),
                    g.driver or "-",
                    g.cuda_driver or "-",
                    g.cudnn or "-",
                    frameworks_text(g.frameworks),
                    " ".join(g.finding_ids) or "-",
                ]
                for g in report.groups
            ],
            raw_first=True,
        )
    if report.findings:
        out.append("<h2>Findings across the fleet</h2>")
        out += _table(
            ["Severity", "Finding", "Nodes", "Title"],
            [[_verdict(f.severity), f.id, f.hostlist, f.title] for f in report.findings],
            raw_first=True,
        )
    if report.drift:
        out.append("<h2>Drift</h2>")
        out += _table(
            ["Fact", "Scope", "Majority", "Minority"],
            [
                [
                    d.fact,
                    d.scope,
                    f"{d.majority} ({d.majority_count})",
                    "; ".join(f"{v}: {', '.join(m)}" for v, m in d.minority.items()),
                ]
                for d in report.drift
            ],
        )
    if report.outliers:
        out.append("<h2>Throughput outliers</h2>")
        out += _table(
            ["Node", "Device", "Run", "img/s", "Ratio to median"],
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
        )
    if report.not_reached:
        out.append("<h2>Not reached</h2>")
        out += _table(
            ["Node", "State", "Reason"], [[r.node, r.state, r.reason] for r in report.not_reached]
        )
    if report.unreadable:
        out.append("<h2>Unreadable reports</h2>")
        out += _table(
            ["Node", "File", "Error"], [[u.node, u.path, u.error] for u in report.unreadable]
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
