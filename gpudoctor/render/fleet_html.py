"""The fleet report as one self-contained HTML page: no script, no network, escaped throughout."""

from __future__ import annotations

from html import escape

from gpudoctor.model.fleet import FleetReport
from gpudoctor.render.fleet import inert, tables, verdict_line

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


def _cell(text: str, verdict: bool) -> str:
    """One cell; a verdict or severity is coloured by its class."""
    return f'<td class="{_e(text)}">{_e(text)}</td>' if verdict else f"<td>{_e(text)}</td>"


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
    for title, header, rows in tables(report):
        coloured = header[0] in ("Verdict", "Severity")
        out += [f"<h2>{_e(title)}</h2>", "<table>"]
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = [_cell(row[0], coloured), *(_cell(c, False) for c in row[1:])]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
