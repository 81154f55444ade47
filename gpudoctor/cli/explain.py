"""`gpudoctor explain`: a finding's entry (cause, what it looks at, fix, sources), offline."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from typing import Any

import click

from gpudoctor import __version__
from gpudoctor.cli.options import debug_option, format_option
from gpudoctor.errors import BadInputError
from gpudoctor.rules.catalogue import catalogue_entry, entry, severities, sorted_rules
from gpudoctor.rules.registry import REGISTRY

WIDTH = 100
EXPLAIN_JSON_VERSION = 1
"""The version of ``explain --format json`` (docs/explain-schema.json); bumped when a field is
removed, renamed or changes type or meaning."""
TOOL = "gpudoctor explain"


_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
"""``*Driver Not Loaded*``: Markdown emphasis, which a terminal would show with its stars."""


def _plain(markdown: str) -> str:
    """The entry for a terminal: no bold or emphasis markers or backticks, paragraphs wrapped
    at WIDTH. Stars inside a code span (``'nvidia-*'``) are kept."""
    spans = markdown.replace("**", "").split("`")
    text = "".join(part if i % 2 else _EMPHASIS.sub(r"\1", part) for i, part in enumerate(spans))
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), WIDTH, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    )


_ID = re.compile(
    r"(?:GPUDOCTOR: ?|REPAIR:)?(?:GD[-_\u2010-\u2015])?([A-Z]+)[-_\u2010-\u2015](\d{1,3})"
)
"""An ID as people copy it: ``[GD-TORCH-004]`` from check's output, ``GD-TORCH-4``, a dash
that a web page or a PDF turned into U+2010 to U+2015, ``GD_TORCH_004``, ``gpudoctor:NVML-003``
or ``repair:GPU-058`` from a drain reason in ``sinfo -R``, ``gpudoctor: GD-NVML-003`` from one
an older gpudoctor wrote (model/slurm.py's drained_by_gpudoctor reads both)."""


def _as_written(text: str) -> str:
    """``GD-TORCH-004`` from the spellings `_ID` reads; anything else upper-cased as it is."""
    bare = text.strip().strip("[](){}<>.,;:'\"`").strip().upper()
    m = _ID.fullmatch(bare)
    return f"GD-{m[1]}-{int(m[2]):03d}" if m else bare


def page(finding_id: str) -> str | None:
    """The text `explain ID` prints, straight from the registry; None for an unknown ID."""
    rule = REGISTRY.rules.get(finding_id)
    return None if rule is None else f"{rule.id}\n\n{_plain(entry(rule))}"


def explain_document(finding_id: str | None) -> dict[str, Any]:
    """``explain --format json``: what wrote it, and the one entry (``finding``) of
    ``finding_id`` or, without one, every entry in catalogue order (``findings``)."""
    head = {"schema_version": EXPLAIN_JSON_VERSION, "tool": TOOL, "gpudoctor_version": __version__}
    if finding_id is not None:
        rule = REGISTRY.rules[finding_id]
        return {**head, "finding": dataclasses.asdict(catalogue_entry(rule))}
    return {**head, "findings": [dataclasses.asdict(catalogue_entry(r)) for r in sorted_rules()]}


@click.command("explain")
@click.argument("finding_id", required=False, metavar="[ID]")
@format_option("text for people, json for machines.", ("text", "json"))
@debug_option
def command(finding_id: str | None, fmt: str) -> int:
    """Print what a finding means: its cause, what it looks at, the fix and the sources.

    ID is a finding's ID as check prints it (GD-DRV-007 or [GD-DRV-007]; any case, GD-DRV-7
    too), or as a drain reason in sinfo -R names it (gpudoctor:DRV-007, repair:GPU-058).
    Without an ID, list every finding. Works offline: the entries come from the rules inside
    the package.
    """
    found = None if finding_id is None else _as_written(finding_id)
    if found is not None and found not in REGISTRY.rules:
        raise BadInputError(
            f"no finding {finding_id!r}: IDs look like GD-DRV-007; `gpudoctor explain` lists them"
        )
    if fmt == "json":
        click.echo(
            json.dumps(explain_document(found), indent=2, sort_keys=True, ensure_ascii=False)
        )
        return 0
    if found is None:
        rules = sorted_rules()
        width = max(len(r.id) for r in rules)
        for rule in rules:
            click.echo(f"{rule.id.ljust(width)}  {severities(rule).ljust(23)}  {rule.title}")
        return 0
    click.echo(page(found))
    return 0
