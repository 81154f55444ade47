"""The terminal form: one ✓/!/✗ line per area, each problem with evidence and fix, a summary."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.report import Report
from gpudoctor.render.headlines import AREA_LABELS, MARKS, headline, plural
from gpudoctor.render.sections import Section, sections

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

WIDTH = 100
"""Fixed width, so that output (and the golden files) do not depend on the terminal."""

STYLES: dict[Severity, str] = {
    Severity.OK: "green",
    Severity.INFO: "cyan",
    Severity.WARNING: "yellow",
    Severity.ERROR: "red",
}


def render_text(report: Report, diagnosis: Diagnosis, *, verbose: bool, color: bool) -> str:
    """The report for a person at a terminal; plain text (no ANSI codes) unless ``color``."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=WIDTH,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    _header(console, report)
    for area in AREAS:
        _area(console, report, diagnosis, area, verbose=verbose)
    console.print()
    _summary(console, diagnosis, verbose=verbose)
    if verbose:
        for section in sections(report):
            _section(console, section)
    lines = buffer.getvalue().splitlines()
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _header(console: Console, report: Report) -> None:
    from rich.text import Text

    title = Text("gpudoctor check", style="bold")
    title.append(
        f"  ·  {report.host.hostname}  ·  {report.created_at}  ·  gpudoctor "
        f"{report.gpudoctor_version}",
        style="dim",
    )
    console.print(title)
    console.print()


def _area(
    console: Console, report: Report, diagnosis: Diagnosis, area: str, *, verbose: bool
) -> None:
    from rich.table import Table
    from rich.text import Text

    findings = diagnosis.in_area(area)
    worst = max((f.severity for f in findings), default=Severity.OK)
    line = Table.grid(padding=(0, 1))
    line.add_column(width=3, no_wrap=True)
    line.add_column(width=13, no_wrap=True)
    line.add_column()
    line.add_row(
        Text(f"[{MARKS[worst]}]", style=f"bold {STYLES[worst]}"),
        Text(AREA_LABELS[area], style="bold"),
        Text(headline(report, area)),
    )
    console.print(line)
    for finding in findings:
        if finding.severity >= Severity.WARNING or (finding.severity == Severity.INFO and verbose):
            _details(console, finding)
        elif finding.severity == Severity.INFO:
            _one_line(console, finding)


def _indented(console: Console, text: RenderableType, indent: int) -> None:
    from rich.padding import Padding

    console.print(Padding(text, (0, 0, 0, indent)))


def _title(finding: Finding) -> Text:
    from rich.text import Text

    text = Text(f"{MARKS[finding.severity]} ", style=f"bold {STYLES[finding.severity]}")
    text.append(finding.title, style="bold" if finding.severity >= Severity.WARNING else "")
    text.append(f"  [{finding.id}]", style="dim")
    return text


def _one_line(console: Console, finding: Finding) -> None:
    _indented(console, _title(finding), 4)


def _details(console: Console, finding: Finding) -> None:
    from rich.text import Text

    _indented(console, _title(finding), 4)
    for item in finding.evidence:
        _bullet(console, "·", Text(item))
    for i, step in enumerate(finding.fix):
        style = "cyan" if step.startswith("$ ") else ""
        _bullet(console, "fix:" if i == 0 else "", Text(step, style=style), bold=True)
    _bullet(console, "docs:", Text(finding.doc_url, style="dim"), bold=True)


def _bullet(console: Console, mark: str, text: Text, *, bold: bool = False) -> None:
    """A line under a finding whose wrapped continuation stays right of ``mark``."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=5, no_wrap=True)
    grid.add_column(width=5 if bold else 1, no_wrap=True)
    grid.add_column()
    grid.add_row("", Text(mark, style="bold" if bold else ""), text)
    console.print(grid)


def _summary(console: Console, diagnosis: Diagnosis, *, verbose: bool) -> None:
    from rich.text import Text

    errors, warnings = diagnosis.count(Severity.ERROR), diagnosis.count(Severity.WARNING)
    infos = diagnosis.count(Severity.INFO)
    worst = diagnosis.worst
    text = Text(f"{plural(errors, 'error')}, {plural(warnings, 'warning')}", style="bold")
    if infos:
        text.append(f", {infos} info")
    if worst < Severity.WARNING:
        text.append(
            ": nothing blocks the GPU here; `gpudoctor verify` proves it.",
            style=STYLES[Severity.OK],
        )
    console.print(text)
    if not verbose:
        console.print(Text("gpudoctor check --verbose shows every fact.", style="dim"))


def _section(console: Console, section: Section) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console.print()
    table = Table(
        title=section.title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_header=section.headers != ("Fact", "Value"),
        pad_edge=False,
    )
    for header in section.headers:
        table.add_column(header, overflow="fold")
    for row in section.rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: values are never markup
    console.print(table)
