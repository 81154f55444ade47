"""`gpudoctor models`: the reference CNNs verify runs, with their history and sizes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from gpudoctor import __version__
from gpudoctor.cli.options import debug_option, format_option, use_color

if TYPE_CHECKING:
    from gpudoctor.refmodels import ModelSpec


MODELS_JSON_VERSION = 1
"""The version of ``models --format json``'s object; bumped when a field is removed, renamed or
changes type or meaning. Before 2026-12-08 the output was a bare list of the records, with no
version (it is the object's ``models`` now)."""
TOOL = "gpudoctor models"


def model_record(spec: ModelSpec) -> dict[str, Any]:
    """The JSON object for one model (``--format json`` lists these under ``models``)."""
    return {
        "name": spec.name,
        "title": spec.title,
        "year": spec.year,
        "paper": spec.paper,
        "cite": spec.cite,
        "introduced": spec.introduced,
        "input_shape": list(spec.input_shape),
        "num_classes": spec.num_classes,
        "depth": spec.depth,
        "params": spec.params,
        "params_with_aux": spec.params_with_aux,
        "macs": spec.macs,
        "source": spec.source,
        "figures": spec.figures,
    }


def models_document(specs: tuple[ModelSpec, ...]) -> dict[str, Any]:
    """``models --format json``: what wrote it, as every JSON document of gpudoctor says, and
    the models in the table's order."""
    return {
        "schema_version": MODELS_JSON_VERSION,
        "tool": TOOL,
        "gpudoctor_version": __version__,
        "models": [model_record(s) for s in specs],
    }


def human(count: int) -> str:
    """Four significant digits: 61706 -> '61.71 k', 138357544 -> '138.4 M'."""
    for limit, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if count >= limit:
            return f"{count / limit:.4g} {unit}"
    return str(count)


def _input(spec: ModelSpec) -> str:
    return "×".join(str(n) for n in spec.input_shape)


def _aux_note(specs: tuple[ModelSpec, ...]) -> list[str]:
    return [
        f"* {s.name}: {s.params_with_aux:,} parameters with its auxiliary classifier "
        "(built with aux_logits=True; torchvision's published count)"
        for s in specs
        if s.params_with_aux is not None
    ]


def _params(spec: ModelSpec, exact: bool) -> str:
    text = f"{spec.params:,}" if exact else human(spec.params)
    return text + ("*" if spec.params_with_aux is not None else "")


def render_markdown(specs: tuple[ModelSpec, ...]) -> str:
    """A Markdown table with exact counts."""
    lines = [
        "| Model | Name | Year | Paper | Introduced | Input (H×W×C) | Depth | Params | GMACs |",
        "|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for s in specs:
        cells = [s.title, f"`{s.name}`", str(s.year), s.cite, s.introduced, _input(s)]
        cells += [str(s.depth), _params(s, exact=True), f"{s.macs / 1e9:.6g}"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [note.replace("*", "\\*", 1) for note in _aux_note(specs)]
    notes += _figures_note(specs)
    return "\n".join([*lines, "", "\n\n".join(notes)]) + "\n"


WIDTH = 100
"""The text table's width whatever the terminal, as for check's text output."""
_GAP = "  "
_RIGHT = ("depth", "params", "MACs")


def _words(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _widths(headers: tuple[str, ...], rows: list[tuple[str, ...]], wrap: set[str]) -> list[int]:
    """Column widths within WIDTH: the prose columns in ``wrap`` give way, numbers never do."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    floors = [
        max(len(h), *(_words(r[i]) for r in rows)) if h in wrap else widths[i]
        for i, h in enumerate(headers)
    ]
    while sum(widths) + len(_GAP) * (len(widths) - 1) > WIDTH:
        slack = [w - f for w, f in zip(widths, floors, strict=True)]
        if max(slack) <= 0:
            break  # cannot fit without breaking a word or a number: let the line run long
        widths[slack.index(max(slack))] -= 1
    return widths


def _lines(cells: tuple[str, ...], headers: tuple[str, ...], widths: list[int]) -> list[str]:
    """One table row, its prose cells wrapped onto as many lines as they need."""
    import textwrap

    wrapped = [
        textwrap.wrap(cell, w, break_long_words=False, break_on_hyphens=False) or [""]
        for cell, w in zip(cells, widths, strict=True)
    ]
    out = []
    for n in range(max(len(w) for w in wrapped)):
        parts = []
        for header, width, lines in zip(headers, widths, wrapped, strict=True):
            text = lines[n] if n < len(lines) else ""
            parts.append(text.rjust(width) if header in _RIGHT else text.ljust(width))
        out.append(_GAP.join(parts).rstrip())
    return out


def _prose(text: str, indent: str = "") -> list[str]:
    import textwrap

    return textwrap.wrap(
        text, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def render_text(specs: tuple[ModelSpec, ...], *, color: bool) -> str:
    """The table for a terminal or a pipe: WIDTH columns, no trailing spaces, nothing cut.

    Each model is one row of names and numbers, with its paper and what it introduced on the
    line below. Prose wraps at spaces; names and numbers never break. Bold names when ``color``.
    """
    headers = ("name", "model", "year", "input", "depth", "params", "MACs")
    rows: list[tuple[str, ...]] = [
        (s.name, s.title, str(s.year), _input(s), str(s.depth), _params(s, False), human(s.macs))
        for s in specs
    ]
    widths = _widths(headers, rows, wrap={"model"})
    indent = " " * (widths[0] + len(_GAP))
    lines = ["Reference models (gpudoctor verify)", "", *_lines(headers, headers, widths)]
    for spec, row in zip(specs, rows, strict=True):
        body = _lines(row, headers, widths)
        if color:
            body[0] = click.style(spec.name, bold=True) + body[0][len(spec.name) :]
        lines += body
        lines += _prose(f"{indent}paper: {spec.cite}; introduced: {spec.introduced}", indent)
    lines.append("")
    for note in (*_aux_note(specs), *_figures_note(specs), _FOOTER):
        lines += _prose(note, "  ")
    return "\n".join(lines) + "\n"


_FOOTER = (
    "depth: convolution and dense layers on the longest path; MACs: forward "
    "multiply-accumulates per image. Details and sources: docs/models.md"
)


def _figures_note(specs: tuple[ModelSpec, ...]) -> list[str]:
    computed = [s.name for s in specs if s.figures == "computed"]
    if not computed:
        return []
    names = ", ".join(computed)
    published = len(computed) < len(specs)
    return [
        f"{names}: parameters and MACs computed from the layer shapes (no published figure)"
        + ("; the others are torchvision's published figures" if published else "")
    ]


@click.command("models")
@format_option("text for people, json for machines, markdown for docs and tickets.")
@debug_option
def command(fmt: str) -> int:
    """List the reference CNNs that verify runs: history, input size, depth, parameters, MACs.

    Parameters and MACs are the published figures (torchvision's metadata), except LeNet-5's,
    computed from its layer shapes; the models are built so that both PyTorch and Keras
    reproduce them exactly.
    """
    from gpudoctor.refmodels import SPECS

    if fmt == "json":
        # keys sorted, as check's, diff's and history's documents are
        doc = json.dumps(models_document(SPECS), indent=2, sort_keys=True, ensure_ascii=False)
        click.echo(doc)
    elif fmt == "markdown":
        click.echo(render_markdown(SPECS), nl=False)
    else:
        # through click, like check's report: a narrow encoding (PYTHONIOENCODING=ascii) does
        # not end in UnicodeEncodeError
        click.echo(render_text(SPECS, color=use_color()), nl=False)
    return 0
