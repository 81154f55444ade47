"""The findings catalogue as Markdown, from the rules registry (docs/findings.md, explain)."""

from __future__ import annotations

from dataclasses import dataclass

import gpudoctor.rules.diagnose  # noqa: F401 - registers every rule
from gpudoctor.model.findings import AREAS
from gpudoctor.rules.registry import AREA_TITLES, REGISTRY, Rule
from gpudoctor.rules.severity_reasons import reason

COMMAND = "scripts/write-findings"
"""Writes docs/findings.md; the package itself knows no repository layout."""

_INTRO = """\
Every finding `gpudoctor check` can report, by area of the stack. Each finding has a stable
ID (`GD-<AREA>-NNN`), a severity, a title that names the cause, the evidence from the report
that triggered it and a fix with commands for the machine at hand. `gpudoctor explain <ID>`
prints a finding's entry, rendered like this page from the rules inside the installed package
(offline); `gpudoctor explain` lists them all. With `--format json` it writes the entry
(`finding`: `id`, `area`, `severity`, `severities` worst first, `title`, `why`, `fix`,
`why_severity`, `sources`; the texts in Markdown, as here) or every entry (`findings`), under
`schema_version` 1, `tool` `gpudoctor explain` and `gpudoctor_version`; its JSON Schema is
[explain-schema.json](explain-schema.json). The titles here are the rules' own; `check`
prints the same title, or one that names the GPU, library or version at hand (`NVIDIA
GeForce GTX 1080 is lost: the driver cannot reach it`). Every ID is spelled out where its
rule is declared: `grep -rn GD-TORCH-004 gpudoctor/` finds it.

Severities: **error** (something is broken: exit status 1), **warning** (works, but degraded
or fragile: exit status 1 with `--strict`), **info** (worth knowing), **ok** (the area was
checked and is healthy). Where a finding's severity depends on the case (an error on one
machine, information on another), every severity it can have is listed, worst first, and its
text says which case gets which. Each entry's *Why this severity* says what the finding does to
a run: **error** when a framework cannot use the GPU or a run would fail or compute wrongly
(also where the usual form of the finding is a warning), **warning** when runs work but slower,
fragile, on another card than meant, or when something a user would build cannot be built,
**info** when nothing about a run changes.
"""


def sorted_rules() -> list[Rule]:
    """Every rule in catalogue order: by area of the stack, then ID."""
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(REGISTRY, key=lambda r: (order[r.area], r.id))


def severities(rule: Rule) -> str:
    """``error``, or ``error / warning / info`` for a rule whose severity depends on the case."""
    return " / ".join(s.label for s in rule.severity_range)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_catalogue() -> str:
    """The whole Markdown document."""
    rules = sorted_rules()
    out = [
        "# Findings catalogue",
        "",
        f"<!-- Generated from the rules registry by `{COMMAND}`. Do not edit by hand. -->",
        "",
        _INTRO,
        "| ID | Area | Severity | Title |",
        "|---|---|---|---|",
    ]
    out += [
        f"| [{r.id}](#{r.id.lower()}) | {AREA_TITLES[r.area]} | {severities(r)} | "
        f"{_cell(r.title)} |"
        for r in rules
    ]
    for area in AREAS:
        out += ["", f"## {AREA_TITLES[area]}"]
        for r in (r for r in rules if r.area == area):
            out += ["", f"### {r.id}", "", entry(r)]
    return "\n".join(out) + "\n"


def entry(rule: Rule) -> str:
    """One finding's entry (Markdown): title, severities, what it means, the fix, sources."""
    out = [
        f"**{rule.title}** · severity: {severities(rule)}",
        "",
        rule.why,
        "",
        f"**Fix:** {rule.fix}",
    ]
    why_severity = reason(rule.id)
    if why_severity:
        out += ["", f"**Why this severity:** {why_severity}"]
    if rule.sources:
        out += ["", "**Sources:** " + "; ".join(rule.sources)]
    return "\n".join(out)


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One finding's entry in the catalogue, as ``explain --format json`` gives it."""

    id: str
    """The finding's ID, ``GD-<AREA>-NNN``."""
    area: str
    """The area of the stack it belongs to."""
    severity: str
    """Its usual severity: ``error``, ``warning``, ``info`` or ``ok``."""
    severities: tuple[str, ...]
    """Every severity it can have, worst first (one, unless the case decides)."""
    title: str
    """The rule's title; check prints it, or one that names the GPU, library or version at
    hand."""
    why: str
    """What the finding means and how it is detected (Markdown)."""
    fix: str
    """The generic fix (Markdown); check's findings carry fixes for the machine at hand."""
    why_severity: str | None
    """Why it has its severity (Markdown); null where none is recorded."""
    sources: tuple[str, ...]
    """Where the facts behind it come from: vendor pages, issues, knowledge-base files."""


def catalogue_entry(rule: Rule) -> Entry:
    """The entry of ``rule``, its text as docs/findings.md has it."""
    return Entry(
        id=rule.id,
        area=rule.area,
        severity=rule.severity.label,
        severities=tuple(s.label for s in rule.severity_range),
        title=rule.title,
        why=rule.why,
        fix=rule.fix,
        why_severity=reason(rule.id),
        sources=rule.sources,
    )
