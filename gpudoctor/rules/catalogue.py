"""docs/findings.md and the packaged copy `gpudoctor explain` reads, from the rules registry."""

from __future__ import annotations

import sys
from pathlib import Path

import gpudoctor.rules.diagnose  # noqa: F401 - registers every rule
from gpudoctor.model.findings import AREAS
from gpudoctor.rules.registry import AREA_TITLES, REGISTRY, Rule

COMMAND = "python -m gpudoctor.rules.catalogue --write"
PACKAGED = Path(__file__).with_name("findings.md")
"""The copy shipped inside the package, for `gpudoctor explain` (offline)."""
DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"

_INTRO = """\
Every finding `gpudoctor check` can report, by area of the stack. Each finding has a stable
ID (`GD-<AREA>-NNN`), a severity, a title that names the cause, the evidence from the report
that triggered it and a fix with commands for the machine at hand. `gpudoctor explain <ID>`
prints a finding's entry from the copy of this catalogue inside the installed package
(offline); `gpudoctor explain` lists them all.

Severities: **error** (something is broken: exit status 1), **warning** (works, but degraded
or fragile: exit status 1 with `--strict`), **info** (worth knowing), **ok** (the area was
checked and is healthy). Where a finding's severity depends on the case (an error on one
machine, information on another), every severity it can have is listed, worst first, and its
text says which case gets which.
"""


def _sorted_rules() -> list[Rule]:
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(REGISTRY, key=lambda r: (order[r.area], r.id))


def _severities(rule: Rule) -> str:
    """``error``, or ``error / warning / info`` for a rule whose severity depends on the case."""
    return " / ".join(s.label for s in rule.severity_range)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_catalogue() -> str:
    """The whole Markdown document."""
    rules = _sorted_rules()
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
        f"| [{r.id}](#{r.id.lower()}) | {AREA_TITLES[r.area]} | {_severities(r)} | "
        f"{_cell(r.title)} |"
        for r in rules
    ]
    for area in AREAS:
        out += ["", f"## {AREA_TITLES[area]}"]
        for r in (r for r in rules if r.area == area):
            out += [
                "",
                f"### {r.id}",
                "",
                f"**{r.title}** · severity: {_severities(r)}",
                "",
                r.why,
                "",
                f"**Fix:** {r.fix}",
            ]
            if r.sources:
                out += ["", "**Sources:** " + "; ".join(r.sources)]
    return "\n".join(out) + "\n"


def main() -> None:
    """Write the catalogue to stdout, or with ``--write`` to docs/findings.md and the package."""
    text = render_catalogue()
    if "--write" in sys.argv[1:]:
        for path in (DOC, PACKAGED):
            path.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
