"""`gpudoctor explain`: a finding's entry (cause, what it looks at, fix, sources), offline."""

from __future__ import annotations

import re
from importlib import resources

import click

from gpudoctor.cli.options import debug_option
from gpudoctor.errors import BadInputError

PAGES = "findings.md"
"""The catalogue inside the package (gpudoctor/rules/findings.md), as docs/findings.md."""

_HEADING = re.compile(r"^### (GD-[A-Z]+-\d{3})$", re.MULTILINE)
_ROW = re.compile(r"^\| \[(GD-[A-Z]+-\d{3})\]\(#[^)]*\) \| ([^|]+) \| ([^|]+) \| (.+) \|$")


def catalogue() -> str:
    """The packaged catalogue's text."""
    return resources.files("gpudoctor.rules").joinpath(PAGES).read_text(encoding="utf-8")


def pages(text: str) -> dict[str, str]:
    """Each finding's entry by ID, from its ``### GD-...`` heading to the next heading."""
    found: dict[str, str] = {}
    matches = list(_HEADING.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[match.end() : end].split("\n## ", 1)[0]
        found[match.group(1)] = body.strip()
    return found


def listing(text: str) -> list[tuple[str, str, str, str]]:
    """``(id, area, severity, title)`` of every finding, in catalogue order."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            rows.append(tuple(g.strip().replace("\\|", "|") for g in match.groups()))
    return rows  # type: ignore[return-value]


WIDTH = 100


def _plain(markdown: str) -> str:
    """The entry for a terminal: no bold markers or backticks, paragraphs wrapped at WIDTH."""
    import textwrap

    text = markdown.replace("**", "").replace("`", "")
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), WIDTH, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    )


@click.command("explain")
@click.argument("finding_id", required=False, metavar="[ID]")
@debug_option
def command(finding_id: str | None) -> int:
    """Print what a finding means: its cause, what it looks at, the fix and the sources.

    ID is a finding's ID as check prints it (GD-DRV-007, case does not matter). Without an ID,
    list every finding. Works offline: the entries ship inside the package.
    """
    text = catalogue()
    if finding_id is None:
        rows = listing(text)
        width = max(len(r[0]) for r in rows)
        for rid, _area, severity, title in rows:
            click.echo(f"{rid.ljust(width)}  {severity.ljust(23)}  {title}")
        return 0
    wanted = finding_id.strip().upper()
    entry = pages(text).get(wanted)
    if entry is None:
        raise BadInputError(
            f"no finding {finding_id!r}: IDs look like GD-DRV-007; `gpudoctor explain` lists them"
        )
    click.echo(f"{wanted}\n\n{_plain(entry)}")
    return 0
