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

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result to FILE instead of the terminal.",
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


def format_option(help_text: str) -> Callable[[F], F]:
    """``--format text|json|markdown`` (into the parameter ``fmt``), the same for every report."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default="text",
        show_default=True,
        help=help_text,
    )


def use_color(*, to_file: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if to_file or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


__all__ = ["debug_option", "force_option", "format_option", "output_option", "use_color"]
