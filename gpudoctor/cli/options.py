"""Options shared by several commands."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

F = TypeVar("F", bound=Callable[..., Any])


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["gpudoctor.debug"] = True
    return value


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show tracebacks for errors.",
)

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


class NonEmptyPath(click.Path):
    """A path that is not the empty string: ``Path("")`` is ``.``, so an empty value (an unset
    shell variable, ``--history-dir "$DIR"``) would silently mean the current folder. A NUL
    byte is refused too: no file can be named with one."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (str, bytes)) and not value:
            what = "a folder" if not self.file_okay else "a file" if not self.dir_okay else "a path"
            self.fail(f"the name is empty: give {what}", param, ctx)
        # os.stat() raises ValueError on a NUL, which run() reports as a gpudoctor bug (exit 3)
        text = os.fsdecode(value) if isinstance(value, (str, bytes)) else ""
        if "\0" in text:
            self.fail(f"{text!r} holds a NUL byte, which no file name can", param, ctx)
        return super().convert(value, param, ctx)


class FilePath(NonEmptyPath):
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
        if _unplain(_PLAIN_FLOAT, value):
            self.fail(_UNPLAIN.format(value), param, ctx)
        result = super().convert(value, param, ctx)
        if not math.isfinite(result):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return result


_PLAIN_INT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_NOT_FINITE = ("nan", "inf", "infinity")
_PLAIN_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)


def _unplain(pattern: re.Pattern[str], value: Any) -> bool:
    """A number Python reads but nobody types as one: ``٣`` (Arabic-Indic 3) or ``1_0`` (10),
    which int() and float() take; ``nan`` and ``inf`` are left to the range."""
    if not isinstance(value, str) or value.strip().lower().lstrip("+-") in _NOT_FINITE:
        return False
    return pattern.fullmatch(value) is None


_UNPLAIN = "{!r} is not a valid number (digits 0-9)"


class PlainIntRange(click.IntRange):
    """:class:`click.IntRange` that refuses the forms of :func:`_unplain`."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if _unplain(_PLAIN_INT, value):
            self.fail(_UNPLAIN.format(value), param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that also refuses ``nan`` (no comparison is ever false for it)
    and the forms of :func:`_unplain`."""

    name = "number"
    """Click's own name for it says "'abc' is not a valid float range" and "FLOAT RANGE" in help."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if _unplain(_PLAIN_FLOAT, value):
            self.fail(_UNPLAIN.format(value), param, ctx)
        number = super().convert(value, param, ctx)  # nan passes the range: no "<" holds
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def defaulted(param: str) -> bool:
    """True when the user left the option ``param`` (its parameter name) out: its value is the
    default. An option given where nothing reads it is refused by the commands, not dropped."""
    source = click.get_current_context().get_parameter_source(param)
    # None: the command was called without click parsing it (a test calling it directly)
    return source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)


output_option = click.option(
    "--output",
    "-o",
    type=FilePath(dir_okay=False),
    default=None,
    callback=dash_aware_path,
    help="Write the result to FILE instead of the terminal (- for standard output).",
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


def fleet_force_option(what: str) -> Callable[[F], F]:
    """``--force`` of ``fleet run`` and ``fleet pairs``: it replaces ``what`` already in
    --output-dir too (its help said only "an existing output file")."""
    return click.option(
        "--force",
        is_flag=True,
        help=f"Overwrite an existing --output file, and replace {what} already in --output-dir.",
    )


def refuse_force_without_output(force: bool, *, also: tuple[tuple[str, str], ...] = ()) -> None:
    """Refuse ``--force`` where it does nothing: a command whose only files are ``--output``
    and the options in ``also`` (parameter name, flag), given none of them (``-o -`` is
    given: a script may name its output with a variable)."""
    if force and defaulted("output") and all(defaulted(param) for param, _flag in also):
        from gpudoctor.errors import BadInputError

        files = " or ".join(["--output FILE", *(f"{flag} FILE" for _param, flag in also)])
        raise BadInputError(f"--force goes with {files} (it lets FILE be replaced)")


def fleet_dir_option(where: str) -> Callable[[F], F]:
    """``--output-dir``/``-d`` of ``fleet run`` and ``fleet pairs``; ``where`` says what goes
    there, and the default is :func:`fleet_dir`'s."""
    return click.option(
        "--output-dir",
        "-d",
        type=NonEmptyPath(file_okay=False, path_type=Path),
        default=None,
        help=f"{where} Default: a new ./gpudoctor-fleet-<UTC time> (-2, -3 ... added if taken).",
    )


FLEET_DIR_TRIES = 100
"""How many ``-N`` suffixes the default folder tries before it gives up."""


def fleet_dir(given: Path | None, now: datetime | None = None) -> Path:
    """``given``, else a new ``gpudoctor-fleet-20261207-040506`` in this folder (the time in
    UTC), made here and this run's alone: a second run in the same second (two shells, a
    loop) took the same folder, and one run's reports and manifest replaced the other's;
    now it makes ``gpudoctor-fleet-20261207-040506-2`` (``-3`` ...)."""
    from gpudoctor.errors import BadInputError

    if given is not None:
        return given
    base = f"gpudoctor-fleet-{(now or datetime.now(timezone.utc)):%Y%m%d-%H%M%S}"
    for n in range(1, FLEET_DIR_TRIES + 1):
        folder = Path(base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()  # not exist_ok: the one atomic claim two runs cannot both win
        except FileExistsError:
            continue
        except OSError as exc:
            raise BadInputError(
                f"--output-dir: cannot create {folder} ({exc.strerror}); name one with -d"
            ) from None
        return folder
    raise BadInputError(
        f"--output-dir: {base} to {base}-{FLEET_DIR_TRIES} exist already; name a folder with -d"
    )


def format_option(
    help_text: str,
    formats: tuple[str, ...] = ("text", "json", "markdown"),
    *,
    from_suffix: bool = False,
) -> Callable[[F], F]:
    """``--format`` (into the parameter ``fmt``) offering ``formats`` (a cli/formats.py registry's).

    With ``from_suffix`` the option's value is None when not given, and the command asks its
    registry (``Registry.resolve``) so that ``--output report.json`` alone writes JSON.
    """
    if from_suffix:
        said = ".json, .md" if "markdown" in formats else ".json"
        help_text += f" Default: from --output's suffix ({said}), else text."
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(formats)),
        default=None if from_suffix else "text",
        show_default=not from_suffix,
        help=help_text,
    )


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
    "PlainIntRange",
    "dash_aware_path",
    "debug_option",
    "fleet_force_option",
    "force_option",
    "format_option",
    "output_option",
    "refuse_force_without_output",
    "use_color",
]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_SINCE_S = 366 * 86400.0


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration (``72h``, ``3d``, ``90m``) or an ISO date or time (UTC when no
    zone is given), as the look-back window in seconds before ``now``."""
    import re
    from datetime import datetime, timezone

    from gpudoctor.errors import BadInputError

    word = text.strip()
    # ASCII digits: \d also takes "٣" (Arabic-Indic 3), which float() reads as 3
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw])", word.lower())
    if match:
        window = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        try:
            when = datetime.fromisoformat(word.replace("Z", "+00:00"))
        except ValueError:
            raise BadInputError(
                f"--since {text!r}: give a duration like 72h, 3d or 90m, or a date like "
                "2026-12-01 (UTC) or 2026-12-01T08:00:00+01:00"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        window = now - when.timestamp()
    if window <= 0:  # 0h, or a date not yet reached: no window at all, not a too long one
        what = "a duration of zero" if match else "a time in the future"
        raise BadInputError(f"--since {text!r}: {what} reads no kernel log; give a past time")
    if window > MAX_SINCE_S:
        raise BadInputError(f"--since {text!r}: the window must lie within the last 366 days")
    return window
