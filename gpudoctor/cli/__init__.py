"""The command line: the one place that wires probes, rules, planners and renderers together."""

from __future__ import annotations

import contextlib
import difflib
import errno
import importlib
import os
import sys
import traceback

import click

from gpudoctor import __version__
from gpudoctor.errors import ExitCode, GpudoctorError

# Subcommands are imported only when invoked, so that ``gpudoctor --help`` stays fast.
_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("gpudoctor.cli.check", "Diagnose the driver, CUDA, cuDNN and the frameworks."),
    "make-env": ("gpudoctor.cli.make_env", "Write an environment.yml that works on a machine."),
    "models": ("gpudoctor.cli.models", "List the reference CNNs that verify runs."),
    "verify": ("gpudoctor.cli.verify", "Prove the install by running the reference CNNs."),
    "fleet": ("gpudoctor.cli.fleet", "Check every node of a SLURM cluster; compare node reports."),
    "explain": ("gpudoctor.cli.explain", "Explain a finding (GD-XXX-NNN), offline."),
}


class LazyGroup(click.Group):
    """A group whose subcommands live in their own modules and load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        # resilient_parsing: shell completion asks as the user types; it must not print errors
        if (
            name
            and not name.startswith("-")
            and name not in _COMMANDS
            and not ctx.resilient_parsing
        ):
            close = difflib.get_close_matches(name, list(_COMMANDS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"no such command '{name}'{hint}", ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in _COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gpudoctor")
@debug_option
def cli() -> None:
    """Will deep learning work here, and if not, exactly why and how do I fix it?

    Start with `gpudoctor check`; `gpudoctor make-env` writes an environment that fits this
    machine; `gpudoctor verify` proves the install on GPU and CPU.
    """


def _fail(message: str, code: ExitCode, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    click.echo(f"gpudoctor: error: {message}", err=True)
    return int(code)


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting (tests call this)."""
    debug = "--debug" in (args if args is not None else sys.argv[1:])
    try:
        result = cli.main(args=args, prog_name="gpudoctor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.UsageError as exc:
        # One line, like every other bad input; click's own form adds a usage block.
        where = exc.ctx.command_path if exc.ctx is not None else "gpudoctor"
        hint = f" (see '{where} --help')"
        return _fail(exc.format_message().rstrip(".") + hint, ExitCode.BAD_INPUT, debug)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.Abort:
        click.echo("gpudoctor: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("gpudoctor: interrupted", err=True)
        return 130
    except GpudoctorError as exc:
        return _fail(str(exc), exc.exit_code, debug)
    except BrokenPipeError:
        # `gpudoctor check | head`: the reader left; nothing more to say, and Python must not
        # complain again when it flushes stdout at exit.
        _silence_stdout()
        return 141
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            return _internal(exc, debug)
        # A full disk or a closed terminal is the machine's state, not a gpudoctor bug: the
        # same status as an --output that cannot be written.
        return _fail(f"cannot write the output: {exc.strerror}", ExitCode.BAD_INPUT, debug)
    except Exception as exc:  # the last line of defence: one line, exit 3
        return _internal(exc, debug)
    return int(result) if isinstance(result, int) else 0


_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE})


def _internal(exc: BaseException, debug: bool) -> int:
    name = type(exc).__name__
    hint = "" if debug else " (run again with --debug for a traceback)"
    return _fail(f"internal error: {name}: {exc}{hint}", ExitCode.INTERNAL, debug)


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):  # no real file descriptor (a test harness)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _tolerate_narrow_encodings() -> None:
    """Print ``?`` for what the terminal's encoding cannot show (LANG=C, PYTHONIOENCODING=ascii).

    The reports use a few symbols (✓, ·, →); losing them beats dying on UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a detached or odd stream
                reconfigure(errors="replace")


def main() -> None:
    """Console-script entry point."""
    _tolerate_narrow_encodings()
    sys.exit(run())
