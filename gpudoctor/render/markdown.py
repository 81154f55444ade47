"""The Markdown form, for a ticket: a summary, a table of findings, collapsed details and facts."""

from __future__ import annotations

import re

from gpudoctor.model.findings import AREAS, Diagnosis, Finding, Severity
from gpudoctor.model.inert import inert, inert_tree
from gpudoctor.model.report import Report
from gpudoctor.render.headlines import AREA_LABELS, MARKS, headline, plural, remote_line
from gpudoctor.render.sections import Section, sections

_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def escape(text: str) -> str:
    """Text that GitHub-flavoured Markdown shows as written (``<redacted>`` stays visible).

    One line, safe in a table cell: ``|`` escaped, line breaks as spaces, control and bidi
    characters as visible escapes, HTML (tags and entities) shown, not interpreted.
    """
    text = _SPECIAL.sub(r"\\\1", inert(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r\n", " ").replace("\n", " ")


def code(text: str) -> str:
    """An inline code span that survives backticks inside ``text``."""
    text = inert(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_CODE_SPAN = re.compile(r"`([^`]+)`")


def prose(text: str) -> str:
    """Escaped prose whose `quoted commands` stay code spans (copyable, never reflowed)."""
    parts = _CODE_SPAN.split(text)
    return "".join(code(part) if i % 2 else escape(part) for i, part in enumerate(parts))


def table_cell(text: str) -> str:
    """Prose for a table cell: one line, escaped, `quoted commands` as code spans whose ``|``
    is escaped too (in a code span it still ends the cell in GitHub's Markdown)."""
    parts = _CODE_SPAN.split(" ".join(text.split()))
    return "".join(
        code(part).replace("|", "\\|") if i % 2 else escape(part) for i, part in enumerate(parts)
    )


def fix_step(step: str) -> str:
    """A fix line: ``$ command`` parts become code, the prose around them is escaped."""
    if step.startswith("$ "):
        return code(step[2:])
    if step.startswith("> "):  # a PowerShell prompt: keep it, so it is not run in bash
        return code(step)
    before, sep, command = step.partition(" $ ")
    if sep:
        return f"{prose(before)} {code(command)}"
    return prose(step)


def _label(severity: Severity) -> str:
    return f"{MARKS[severity]} {severity.label}"


def render_markdown(report: Report, diagnosis: Diagnosis, *, verbose: bool = False) -> str:
    """The whole document; ``verbose`` opens the machine facts instead of collapsing them."""
    report, diagnosis = inert_tree(report), inert_tree(diagnosis)  # cut and escaped once
    errors, warnings = diagnosis.count(Severity.ERROR), diagnosis.count(Severity.WARNING)
    host = report.host
    out = [
        f"## gpudoctor check: {plural(errors, 'error')}, {plural(warnings, 'warning')}",
        "",
        escape(
            f"{host.os_release or host.os} ({host.arch}) · host {host.hostname} · "
            f"{report.created_at} · gpudoctor {report.gpudoctor_version}"
            + (" · redacted" if report.redacted else "")
        ),
        "",
        *([escape(where[0].upper() + where[1:]), ""] if (where := remote_line(report)) else []),
        "| | Area | State |",
        "|---|---|---|",
    ]
    for area in AREAS:
        worst = max((f.severity for f in diagnosis.in_area(area)), default=Severity.OK)
        out.append(f"| {MARKS[worst]} | {AREA_LABELS[area]} | {escape(headline(report, area))} |")
    problems = [f for f in diagnosis.findings if f.severity > Severity.OK]
    out += ["", "### Findings", ""]
    if not problems:
        out.append("No problems found.")
    else:
        out += ["| Severity | ID | Area | Finding |", "|---|---|---|---|"]
        out += [
            f"| {_label(f.severity)} | {_doc_link(f, f.id)} | {AREA_LABELS[f.area]} | "
            f"{escape(f.title)} |"
            for f in problems
        ]
        for finding in problems:
            out += _details(finding)
    out += ["", "<details><summary>Machine facts</summary>" if not verbose else "### Machine facts"]
    for section in sections(report):
        out += _table(section)
    if not verbose:
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _details(finding: Finding) -> list[str]:
    lines = [
        "",
        "<details>",
        f"<summary>{_label(finding.severity)} {finding.id}: {escape(finding.title)}</summary>",
        "",
    ]
    if finding.evidence:
        lines += ["Evidence:", ""] + [f"- {escape(e)}" for e in finding.evidence] + [""]
    if finding.fix:
        lines += ["Fix:", ""] + [f"- {fix_step(s)}" for s in finding.fix] + [""]
    lines += [_doc_link(finding, "What this means"), "", "</details>"]
    return lines


def _doc_link(finding: Finding, text: str) -> str:
    """A link when a docs URL was set at build time, else the offline command, as code."""
    if finding.doc_url.startswith(("https://", "http://")):
        return f"[{text}]({finding.doc_url})"
    return f"{text}: `{finding.doc_url}`" if text != finding.id else f"`{finding.id}`"


def _table(section: Section) -> list[str]:
    return [
        "",
        f"#### {escape(section.title)}",
        "",
        "| " + " | ".join(escape(h) for h in section.headers) + " |",
        "|" + "---|" * len(section.headers),
        *("| " + " | ".join(escape(c) for c in row) + " |" for row in section.rows),
    ]
