"""Options shared by several commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gpudoctor.cli import debug_option

F = TypeVar("F", bound=Callable[..., Any])

STDIN_IS_A_TERMINAL = (
    "--from-report - reads the report from standard input, which is a terminal: pipe one in "
    "(gpudoctor check --format json | ...) or name the file"
)


def dash_aware_path(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Path | None:
    """``-`` stays the marker for standard output (or input); ``./-`` names a file called ``-``.

    ``Path("./-")`` and ``Path("-")`` are equal, so the difference is kept here, from the text
    as typed, by making the file's path absolute.
    """
    if value is None:
        return None
    path = Path(value)
    if value != "-" and str(path) == "-":
        return Path.cwd() / "-"
    return path


output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Write the result to FILE instead of the terminal (- for standard output).",
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


FORMAT_SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown"}


def format_option(help_text: str, *, from_suffix: bool = False) -> Callable[[F], F]:
    """``--format text|json|markdown`` (into the parameter ``fmt``), the same for every report.

    With ``from_suffix`` the option's value is None when not given, and the command calls
    :func:`resolve_format` so that ``--output report.json`` alone writes JSON.
    """
    if from_suffix:
        help_text += " Default: from --output's suffix (.json, .md), else text."
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default=None if from_suffix else "text",
        show_default=not from_suffix,
        help=help_text,
    )


def resolve_format(fmt: str | None, output: Path | None, default: str = "text") -> str:
    """The --format given; else the one --output's suffix names; else ``default``.

    A report saved as ``x.json`` in text would be unreadable to ``--from-report`` and to every
    JSON tool, which is never what the name asked for.
    """
    if fmt is not None:
        return fmt
    if output is not None:
        return FORMAT_SUFFIXES.get(output.suffix.lower(), default)
    return default


def use_color(*, to_file: bool = False) -> bool:
    """Colour only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb."""
    if to_file or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


__all__ = [
    "STDIN_IS_A_TERMINAL",
    "dash_aware_path",
    "debug_option",
    "force_option",
    "format_option",
    "output_option",
    "resolve_format",
    "use_color",
]
