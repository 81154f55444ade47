"""The terminal form: one ✓/!/✗ line per area, each problem with evidence and fix, a summary."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from gpudoctor.model.derived import no_nvidia_gpu, other_gpu_builds
from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.inert import inert_tree
from gpudoctor.model.report import Report
from gpudoctor.render.headlines import AREA_LABELS, MARKS, headline, plural, remote_line
from gpudoctor.render.sections import Section, sections

if TYPE_CHECKING:
    from rich.console import Console
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
    """The report for a person at a terminal; plain text (no ANSI codes) unless ``color``.

    Every string from the report and the findings is made inert first (a GPU or host name
    with an escape sequence must not retitle or clear the user's terminal).
    """
    from rich.console import Console

    report, diagnosis = inert_tree(report), inert_tree(diagnosis)

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
    _summary(console, report, diagnosis, verbose=verbose)
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
    where = remote_line(report)
    if where is not None:
        console.print(Text(where, style="bold"))
    console.print()


def _area(
    console: Console, report: Report, diagnosis: Diagnosis, area: str, *, verbose: bool
) -> None:
    from rich.text import Text

    findings = diagnosis.in_area(area)
    worst = max((f.severity for f in findings), default=Severity.OK)
    prefix = Text(f"[{MARKS[worst]}]", style=f"bold {STYLES[worst]}")
    prefix.append(" ")
    prefix.append(f"{AREA_LABELS[area]:<13}", style="bold")
    prefix.append(" ")
    state = headline(report, area)
    _lines(console, prefix, Text(state), _parts(state), indent=len(prefix))
    for finding in findings:
        if finding.severity >= Severity.WARNING or (finding.severity == Severity.INFO and verbose):
            _details(console, finding)
        elif finding.severity == Severity.INFO:
            _one_line(console, finding)


# --- line breaking: prose may wrap at spaces, what is meant to be pasted never does -------------

_WORD = re.compile(r"(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+")
"""A word; a `code span` (spaces and all) is part of the word it sits in."""

_PROMPTS = ("$ ", "> ")
"""A fix step from one of these on is a command (bash, PowerShell) to paste whole."""

Span = tuple[int, int]


def _words(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The words of ``text[start:end]`` as spans of ``text``."""
    return [m.span() for m in _WORD.finditer(text, start, len(text) if end is None else end)]


def _command_start(step: str) -> int | None:
    """Where the command of a fix step begins (``$ ...`` alone or after prose), if it has one."""
    if step.startswith(_PROMPTS):
        return 0
    at = step.find(" $ ")
    return at + 1 if at >= 0 else None


def _fix_spans(step: str) -> list[Span]:
    """Words of the prose, then the command as one unbreakable piece."""
    begin = _command_start(step)
    if begin is None:
        return _words(step)
    return [*_words(step, 0, begin), (begin, len(step.rstrip()))]


def _parts(state: str, width: int = WIDTH - 18) -> list[Span]:
    """An area line's comma-separated parts, each kept whole (words only when too long)."""
    spans: list[Span] = []
    depth, begin = 0, 0
    for i, char in enumerate(state):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0 and state.startswith(", ", i):
            spans.append((begin, i + 1))
            begin = i + 2
    spans.append((begin, len(state)))
    return [
        piece
        for span in spans
        for piece in ([span] if _cells(state[span[0] : span[1]]) <= width else _words(state, *span))
    ]


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _fill(text: str, spans: list[Span], width: int) -> list[Span]:
    """Greedy line breaking between ``spans``; a span wider than ``width`` gets its own line."""
    lines: list[Span] = []
    current: Span | None = None
    for begin, end in spans:
        if current is None:
            current = (begin, end)
        elif _cells(text[current[0] : end]) <= width:
            current = (current[0], end)
        else:
            lines.append(current)
            current = (begin, end)
    if current is not None:
        lines.append(current)
    return lines


def _lines(console: Console, first: Text, body: Text, spans: list[Span], *, indent: int) -> None:
    """``first`` then ``body`` broken into lines at ``spans``; later lines indented."""
    from rich.text import Text

    for i, (begin, end) in enumerate(_fill(body.plain, spans, WIDTH - indent) or [(0, 0)]):
        line = first.copy() if i == 0 else Text(" " * indent)
        line.append_text(body[begin:end])
        console.print(line, soft_wrap=True)


def _title(finding: Finding) -> Text:
    """The title and the ID, without the mark."""
    from rich.text import Text

    text = Text(finding.title, style="bold" if finding.severity >= Severity.WARNING else "")
    text.append(f"  [{finding.id}]", style="dim")
    return text


def _one_line(console: Console, finding: Finding) -> None:
    """``    ✗ Title  [GD-...]``; a title too long for one line goes on under its first word."""
    from rich.text import Text

    first = Text("    ")
    first.append(f"{MARKS[finding.severity]} ", style=f"bold {STYLES[finding.severity]}")
    title = _title(finding)
    _lines(console, first, title, _words(title.plain), indent=_cells(first.plain))


def _details(console: Console, finding: Finding) -> None:
    from rich.text import Text

    _one_line(console, finding)
    for item in finding.evidence:
        _bullet(console, "·", Text(item), _words(item))
    for i, step in enumerate(finding.fix):
        text, command = Text(step), _command_start(step)
        if command is not None and step[command] == "$":
            text.stylize("cyan", command)
        _bullet(console, "fix:" if i == 0 else "", text, _fix_spans(step), 5)
    _bullet(console, "docs:", Text(finding.doc_url, style="dim"), [(0, len(finding.doc_url))], 5)


def _bullet(console: Console, mark: str, text: Text, spans: list[Span], width: int = 1) -> None:
    """A line under a finding: ``mark`` in a column ``width`` wide, continuations right of it."""
    from rich.text import Text

    first = Text(" " * 6)
    first.append(f"{mark:<{width}}", style="bold" if width > 1 else "")
    first.append(" ")
    _lines(console, first, text, spans, indent=len(first))


def _summary(console: Console, report: Report, diagnosis: Diagnosis, *, verbose: bool) -> None:
    from rich.text import Text

    errors, warnings = diagnosis.count(Severity.ERROR), diagnosis.count(Severity.WARNING)
    infos = diagnosis.count(Severity.INFO)
    worst = diagnosis.worst
    text = Text(f"{plural(errors, 'error')}, {plural(warnings, 'warning')}", style="bold")
    if infos:
        text.append(f", {infos} info")
    # verify runs the frameworks' models: with neither installed it fails (nothing_installed).
    bare = bool(report.frameworks) and all(f.status == "not_installed" for f in report.frameworks)
    # verify reaches GPUs through torch.cuda (NVIDIA's, and AMD's under a ROCm build) and
    # TensorFlow's GPU devices: not PyTorch's MPS (a Mac) or XPU
    other = report.host.os == "darwin" or (
        no_nvidia_gpu(report) and any(f.gpu_backend == "xpu" for f in other_gpu_builds(report))
    )
    if worst < Severity.WARNING:
        text.append(
            ": nothing blocks the GPU here."
            if bare
            else ": nothing blocks the GPU here; `gpudoctor verify` runs no model on MPS or XPU "
            "(it reaches GPUs through torch.cuda and TensorFlow's GPU devices)."
            if other
            else ": nothing blocks the GPU here; `gpudoctor verify` proves it.",
            style=STYLES[Severity.OK],
        )
    console.print(text)
    if worst < Severity.WARNING and bare:
        console.print(
            Text(
                "No framework is installed: `python3 -m pip install torch` (PyPI's macOS "
                "wheels can use the Apple GPU through MPS)."
                if report.host.os == "darwin"
                else "No framework is installed: `gpudoctor make-env` plans one, then "
                "`gpudoctor verify` proves it.",
                style=STYLES[Severity.OK],
            )
        )
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
