"""Every option of every command, found by introspection, fed hostile values at parse level.

Each value must be one line on stderr and exit 2, or parse and reach the command; never a
traceback or exit 3. What an option's type can refuse (a NUL in a path, nan for a number, a
word no Choice has) it must refuse while parsing. A new option is swept without a new test.
The command bodies are replaced, so nothing here probes the host or runs a model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest

from gpudoctor.cli import _COMMANDS, cli, run
from gpudoctor.cli.options import FilePath
from tests.conftest import Cli

ANY = [
    " ",
    "-",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "a\nb",
    "\r",
    "\udcff",  # a non-UTF-8 byte of argv, as Python decodes it
    "\u202e",
    "💥",
    "x" * 5000,
    "--",
    "$(id)",
]
"""Values any option may take or refuse, as long as it does so in one line."""

NUMBER_REFUSED = [
    "",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "abc",
    "0x10",
    "5\x00",
    "٣",
    "1_0",
    "３",
]
CHOICE_REFUSED = ["", "nonexistent", "\x1b[31mtext", "\x00"]
PATH_REFUSED = ["", "\x00", "a\x00b"]
FILE_PATH_REFUSED = ["x/", "..", "dir/."]


def _commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and subcommand (``fleet run``), loaded through the lazy group."""
    ctx = click.Context(cli)

    def walk(path: tuple[str, ...], command: click.Command) -> Iterator[Any]:
        yield path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk((*path, name), sub)

    for name in _COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        yield from walk((name,), command)


def _options() -> list[Any]:
    found = []
    for path, command in _commands():
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "debug":
                continue
            label = " ".join(path) + " " + (param.opts[0] if param.opts else str(param.name))
            found.append(pytest.param(path, param.name, id=label))
    return found


def _refused(param: click.Parameter) -> list[str]:
    """Values the option's type must refuse while parsing."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return CHOICE_REFUSED
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return NUMBER_REFUSED
    if isinstance(kind, click.Path):
        return PATH_REFUSED + (FILE_PATH_REFUSED if isinstance(kind, FilePath) else [])
    return []


def _words(path: tuple[str, ...], param: click.Parameter, value: str) -> list[str]:
    # "--opt=value" and "-- value": a value like "-" or "--" is never read as an option
    if isinstance(param, click.Argument):
        return [*path, "--", value]
    return [*path, f"{param.opts[0]}={value}"]


@pytest.fixture
def bodies_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    def reached(**_kwargs: Any) -> None:
        raise SystemExit(0)

    for _path, command in _commands():
        if not isinstance(command, click.Group):
            monkeypatch.setattr(command, "callback", reached)


def _one(path: tuple[str, ...], param: click.Parameter, value: str) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = run(_words(path, param, value))
        except SystemExit as exc:  # the replaced body
            code = int(exc.code or 0)
    return code, err.getvalue()


@pytest.mark.parametrize(("path", "name"), _options())
def test_a_hostile_value_is_refused_in_one_line_or_parsed(
    path: tuple[str, ...], name: str, bodies_replaced: None
) -> None:
    command = dict(_commands())[path]
    param = next(p for p in command.params if p.name == name)
    refused = _refused(param)
    wrong = []
    for value in refused + ANY:
        code, err = _one(path, param, value)
        lines = err.splitlines()
        if value in refused and code != 2:
            wrong.append(f"{value[:40]!r} parsed (exit {code}); its type must refuse it")
        elif code not in (0, 2) or "Traceback" in err:
            wrong.append(f"{value[:40]!r}: exit {code}: {err[-300:]!r}")
        elif code == 2 and (len(lines) != 1 or not lines[0].startswith("gpudoctor: error: ")):
            wrong.append(f"{value[:40]!r}: not one 'gpudoctor: error:' line: {err[-300:]!r}")
    assert wrong == [], "\n".join(wrong)


def test_the_sweep_covers_every_command_and_kind_of_option() -> None:
    options = _options()
    commands = {p.values[0] for p in options}
    assert {("check",), ("make-env",), ("verify",), ("fleet", "run"), ("explain",)} <= commands
    kinds = set()
    for _path, command in _commands():
        kinds |= {type(p.type).__name__ for p in command.params if not getattr(p, "is_flag", 0)}
    assert {"Choice", "PlainIntRange", "FiniteFloatRange", "FilePath", "NonEmptyPath"} <= kinds


def test_a_nul_in_a_path_is_one_line_naming_the_option(cli: Cli) -> None:
    result = cli("check", "--from-report", "report\x00.json")
    assert result.exit_code == 2, result
    assert result.stderr == (
        "gpudoctor: error: Invalid value for '--from-report': 'report\\x00.json' holds a NUL "
        "byte, which no file name can (see 'gpudoctor check --help')\n"
    )
