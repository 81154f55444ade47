"""Options shared by several commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gpudoctor.cli import debug_option

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result to FILE instead of the terminal.",
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


def use_color(*, to_file: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if to_file or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


__all__ = ["debug_option", "force_option", "output_option", "use_color"]
