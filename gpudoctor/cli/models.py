"""`gpudoctor models`: the reference CNNs verify runs, with their history and sizes."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from gpudoctor.cli.options import debug_option, format_option, use_color

if TYPE_CHECKING:
    from gpudoctor.refmodels import ModelSpec


def model_record(spec: ModelSpec) -> dict[str, Any]:
    """The JSON object for one model (``--format json`` prints a list of these)."""
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
    return "\n".join([*lines, "", *notes]) + "\n"


def render_table(specs: tuple[ModelSpec, ...], *, color: bool) -> None:
    """A rich table on stdout; plain text when ``color`` is False."""
    from rich.console import Console
    from rich.table import Table

    tty = sys.stdout.isatty()
    console = Console(
        color_system="auto" if color else None,
        highlight=False,
        width=None if tty else 180,  # piped output: wide enough that rows do not wrap
    )
    table = Table(title="Reference models (gpudoctor verify)", title_justify="left")
    for header in ("name", "model", "year", "paper", "introduced", "input"):
        wrap = header == "introduced"
        table.add_column(header, style="bold" if header == "name" else None, no_wrap=not wrap)
    for header in ("depth", "params", "MACs"):
        table.add_column(header, justify="right", no_wrap=True)
    for s in specs:
        row = (s.name, s.title, str(s.year), s.cite, s.introduced, _input(s), str(s.depth))
        table.add_row(*row, _params(s, exact=False), human(s.macs))
    console.print(table)
    for note in _aux_note(specs):
        console.print(note)
    console.print(
        "depth: convolution and dense layers on the longest path; MACs: forward "
        "multiply-accumulates per image. Details and sources: docs/models.md"
    )


@click.command("models")
@format_option("text for people, json for machines, markdown for docs and tickets.")
@debug_option
def command(fmt: str) -> int:
    """List the reference CNNs that verify runs: history, input size, depth, parameters, MACs.

    Parameters and MACs are the published figures (torchvision's metadata); the models are
    built so that both PyTorch and Keras reproduce them exactly.
    """
    from gpudoctor.refmodels import SPECS

    if fmt == "json":
        click.echo(json.dumps([model_record(s) for s in SPECS], indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render_markdown(SPECS), nl=False)
    else:
        render_table(SPECS, color=use_color())
    return 0
