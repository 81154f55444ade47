"""Options shared by several commands."""

from __future__ import annotations

import math
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


class FilePath(click.Path):
    """A path that must name a file: a trailing slash (``-o out/``) names a directory.

    ``Path("out/")`` drops the slash, so it is caught here, in the text as typed.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, (str, bytes, os.PathLike)) else value
        if (
            isinstance(text, str)
            and text not in ("-", "")
            and (text.endswith("/") or text.rsplit("/", 1)[-1] in (".", ".."))
        ):
            self.fail(f"{text} names a directory; give a file name", param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloat(click.types.FloatParamType):
    """A float that is a real number: ``nan`` and ``inf`` are refused (they pass every range)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        result = super().convert(value, param, ctx)
        if not math.isfinite(result):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return result


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that also refuses ``nan`` (no comparison is ever false for it)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)  # nan passes the range: no "<" holds
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def harden_params(command: click.Command) -> click.Command:
    """Give every option of ``command`` the strict types above, whoever declared it.

    Every float option then refuses ``nan``/``inf`` and every file-only path a trailing slash,
    including options added later by any command. Only exact click types are swapped (the
    subclasses add no state, so the objects stay valid).
    """
    for param in command.params:
        kind = type(param.type)
        if kind is click.FloatRange:
            param.type.__class__ = FiniteFloatRange
        elif kind is click.types.FloatParamType:
            param.type.__class__ = FiniteFloat
        elif kind is click.Path and not param.type.dir_okay:  # type: ignore[attr-defined]
            param.type.__class__ = FilePath
    if isinstance(command, click.Group):  # `gpudoctor fleet report`, `fleet run`
        for sub in command.commands.values():
            harden_params(sub)
    return command


output_option = click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False),
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
    "FilePath",
    "FiniteFloat",
    "FiniteFloatRange",
    "dash_aware_path",
    "debug_option",
    "force_option",
    "format_option",
    "harden_params",
    "output_option",
    "resolve_format",
    "use_color",
]
