"""The command line: the one place that wires probes, rules, planners and renderers together."""

from __future__ import annotations

import contextlib
import difflib
import errno
import importlib
import io
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

import click

from gpudoctor import __version__
from gpudoctor.cli.options import debug_option
from gpudoctor.errors import ExitCode, GpudoctorError

# Subcommands are imported only when invoked, so that ``gpudoctor --help`` stays fast.
_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("gpudoctor.cli.check", "Diagnose the driver, CUDA, cuDNN and the frameworks."),
    "make-env": (
        "gpudoctor.cli.make_env",
        "Write an environment (conda, uv, pixi or requirements) that fits a machine.",
    ),
    "models": ("gpudoctor.cli.models", "List the reference CNNs that verify runs."),
    "verify": ("gpudoctor.cli.verify", "Prove the install by running the reference CNNs."),
    "fleet": ("gpudoctor.cli.fleet", "Check every node of a SLURM cluster; compare node reports."),
    "history": ("gpudoctor.cli.history", "List the reports check and verify kept on this machine."),
    "diff": ("gpudoctor.cli.diff", "Show what changed since the last good report, or between two."),
    "onboard": (
        "gpudoctor.cli.onboard",
        "Set up a new account: check, create an environment, verify it, summarise.",
    ),
    "explain": ("gpudoctor.cli.explain", "Explain a finding (GD-XXX-NNN), offline."),
}


class ReaderGone(Exception):
    """Standard output's reader left (``gpudoctor check | head``), carried past Click.

    Click's ``main`` turns a ``BrokenPipeError`` into ``sys.exit(1)``, even with
    ``standalone_mode=False``: status 1, which means an error finding to ``check`` and a
    change to ``diff``. As another exception it reaches ``run()``, which answers 141.
    """


@contextlib.contextmanager
def _reader_gone_past_click() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError as exc:
        raise ReaderGone() from exc


class LazyGroup(click.Group):
    """A group whose subcommands live in their own modules and load on first use."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _reader_gone_past_click():  # `gpudoctor --help | head`
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _reader_gone_past_click():  # every subcommand, its --help included
            return super().invoke(ctx)

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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gpudoctor")
@debug_option
def cli() -> None:
    """Will deep learning work here, and if not, exactly why and how do I fix it?

    Start with `gpudoctor check`; `gpudoctor make-env` writes an environment that fits this
    machine; `gpudoctor verify` proves the install on GPU and CPU.
    """


def _fail(message: str, code: ExitCode, debug: bool) -> int:
    from gpudoctor.model.inert import inert

    if debug:
        traceback.print_exc()
    # Messages quote input (a report's keys and values, file names): one inert line. A huge
    # quoted value is cut in the middle, so that what the message says about it (at its end:
    # "is not like 3.12") still shows.
    if len(message) > _ERROR_CHARS:
        left_out = len(message) - _ERROR_HEAD - _ERROR_TAIL
        message = (
            f"{message[:_ERROR_HEAD]}… ({left_out:,} characters not shown) …"
            f"{message[-_ERROR_TAIL:]}"
        )
    click.echo(f"gpudoctor: error: {inert(message, limit=4000, one_line=True)}", err=True)
    return int(code)


_ERROR_CHARS = 2000
_ERROR_HEAD = 1200
_ERROR_TAIL = 400


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that it unwinds as Ctrl-C does.

    ``finally`` blocks and context managers then run: temporary folders are removed, a
    half-written output file is deleted, and every child process group is killed.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    _stop_children()  # first: the children die even if the unwinding below is slow
    if _TERMINATING:
        return  # already unwinding: a second signal must not cut the clean-up short
    _TERMINATING.append(signum)
    if not _held(Terminated(signum)):
        raise Terminated(signum)


_TERMINATING: list[int] = []


_LOST: list[int] = []
"""Signals whose Terminated Python dropped (see :func:`catching_lost_signals`)."""


@contextlib.contextmanager
def catching_lost_signals() -> Iterator[None]:
    """Note a Terminated that Python drops, for :func:`raise_if_terminated` to raise again.

    Python prints and drops an exception raised where it cannot propagate: a SIGTERM landing
    while the main thread ran a weakref callback (importlib's module-lock ``cb``, mid-import)
    raised Terminated into it, and check went on to write its report and exit 1. Such an
    exception reaches ``sys.unraisablehook``; one the command caught itself (fleet run then
    writes what it gathered) never does. Ctrl-C keeps Python's own handler, whose
    KeyboardInterrupt is dropped in the same places: it is noted as SIGINT.
    """
    import signal

    previous = sys.unraisablehook

    def hook(args: Any) -> None:
        if isinstance(args.exc_value, Terminated):
            _LOST.append(args.exc_value.signum)
            return
        if isinstance(args.exc_value, KeyboardInterrupt):
            _LOST.append(int(signal.SIGINT))
            return
        previous(args)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def raise_if_terminated() -> None:
    """Raise again the Ctrl-C, SIGTERM or SIGHUP that Python dropped; called before output is
    written and when a command returns."""
    import signal

    if not _LOST:
        return
    signum = _LOST.pop()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _on_interrupt(_signum: int, _frame: object) -> None:
    """Ctrl-C: the children first, then Python's own KeyboardInterrupt (a second Ctrl-C raises
    again, as without this handler).

    Python's handler only raises, and a KeyboardInterrupt raised inside a weakref callback
    (importlib's module-lock ``cb``, mid-import) is dropped: check then went on waiting for its
    probes' children until their time limits, past a 30 s test's patience. Stopped here, they
    end at once, and :func:`raise_if_terminated` raises the lost interrupt when check returns.
    """
    _stop_children()
    if not _held(KeyboardInterrupt()):
        raise KeyboardInterrupt


def install_signal_handlers() -> None:
    """End on SIGTERM and SIGHUP as on Ctrl-C, and stop the children on Ctrl-C itself (a
    handler that nohup or a shell set stays: an ignored SIGINT in a background job too)."""
    import signal

    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_signal)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)


def _stop_children() -> None:
    """Kill every child process gpudoctor started; none was if runcmd was never imported."""
    # A signal can land while runcmd is still being imported: then it has started no child.
    stop_all = getattr(sys.modules.get("gpudoctor.probe.runcmd"), "stop_all", None)
    if stop_all is not None:
        stop_all()


def _held(exc: BaseException) -> bool:
    """True when runcmd holds ``exc`` to raise it once the child it is starting is registered
    (raised as the child was forked, before its pid was known, it left the child running)."""
    hold = getattr(sys.modules.get("gpudoctor.probe.runcmd"), "hold_signal", None)
    return hold is not None and bool(hold(exc))


def _interrupted(exc: BaseException) -> int:
    """Ctrl-C, SIGTERM or SIGHUP: children killed, one line (if stderr is still there), 128+N."""
    import signal

    _stop_children()
    cause = exc if isinstance(exc, Terminated) else exc.__cause__ or exc.__context__
    signum = cause.signum if isinstance(cause, Terminated) else int(signal.SIGINT)
    word = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    with contextlib.suppress(OSError, ValueError):  # SIGHUP: the terminal may be gone
        click.echo(f"gpudoctor: {word}", err=True)
    _INTERRUPTED.append(signum)
    return 128 + signum


_INTERRUPTED: list[int] = []
"""The signal that stopped this run, once it has been handled (cleared by run())."""


def _command_path(args: list[str] | None) -> str:
    """``gpudoctor check`` (or ``gpudoctor fleet run``) from the words typed, for an error that
    Click's parser raises without a context (``check --from-report`` with no value)."""
    words: list[str] = ["gpudoctor"]
    command: click.Command = cli
    with click.Context(cli) as ctx:
        for arg in args if args is not None else sys.argv[1:]:
            if not isinstance(command, click.Group) or arg.startswith("-"):
                break
            sub = command.get_command(ctx, arg)  # loads only the named command's module
            if sub is None:
                break
            command = sub
            words.append(arg)
    return " ".join(words)


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting (tests call this)."""
    debug = "--debug" in (args if args is not None else sys.argv[1:])
    allow = getattr(sys.modules.get("gpudoctor.probe.runcmd"), "allow_children", None)
    if allow is not None:  # an earlier run in this process was interrupted
        allow()
    _TERMINATING.clear()
    _INTERRUPTED.clear()
    _LOST.clear()
    try:
        with catching_lost_signals():
            result = cli.main(args=args, prog_name="gpudoctor", standalone_mode=False)
            raise_if_terminated()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.UsageError as exc:
        # One line, like every other bad input; click's own form adds a usage block.
        where = exc.ctx.command_path if exc.ctx is not None else _command_path(args)
        elsewhere = _elsewhere(exc)
        if elsewhere is not None:  # the hint names the command to use, not this one
            message, where = elsewhere
        else:
            message = _format_flag_message(exc) or exc.format_message().rstrip(".")
        hint = f" (see '{where} --help')"
        return _fail(message + hint, ExitCode.BAD_INPUT, debug)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.Abort as exc:
        return _interrupted(exc)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except GpudoctorError as exc:
        return _fail(str(exc), exc.exit_code, debug)
    except (BrokenPipeError, ReaderGone):
        # `gpudoctor check | head`: the reader left; nothing more to say, and Python must not
        # complain again when it flushes stdout at exit. 128 + SIGPIPE, as a shell reports a
        # program that SIGPIPE ended: never 1, which would read as an error finding.
        _silence_stdout()
        return 141
    except OSError as exc:
        if exc.errno in _PATH_ERRNOS and exc.filename is not None:
            return _fail(f"{exc.filename}: {exc.strerror}", ExitCode.BAD_INPUT, debug)
        if exc.errno not in _OUTPUT_ERRNOS:
            return _internal(exc, debug)
        # A full disk or a closed terminal is the machine's state, not a gpudoctor bug: the
        # same status as an --output that cannot be written.
        code = _fail(f"cannot write the output: {exc.strerror}", ExitCode.BAD_INPUT, debug)
        _drop_unwritten_output()
        return code
    except RecursionError as exc:  # input nested deeper than any layer expected
        return _fail(f"the input is nested too deeply ({exc})", ExitCode.BAD_INPUT, debug)
    except Exception as exc:  # the last line of defence: one line, exit 3
        return _internal(exc, debug)
    finally:
        files = sys.modules.get("gpudoctor.cli.files")
        if files is not None:  # a FIFO held open for an output that never came
            files.release_held()
    return int(result) if isinstance(result, int) else 0


_FORMAT_FLAGS = {"--json": "json", "--markdown": "markdown", "--md": "markdown", "--text": "text"}


def _format_flag_message(exc: click.UsageError) -> str | None:
    """``--json`` where the command takes ``--format json``: Click would suggest the option
    whose name is closest in spelling (check: "Did you mean '--since'?")."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None:
        return None
    fmt = _FORMAT_FLAGS.get(exc.option_name)
    option = next((p for p in exc.ctx.command.params if "--format" in p.opts), None)
    if fmt is None or option is None or not isinstance(option.type, click.Choice):
        return None
    if fmt not in option.type.choices:
        return None
    return f"No such option '{exc.option_name}': the form is chosen with --format {fmt}"


_ELSEWHERE = {("gpudoctor fleet run", "--pairs"): "gpudoctor fleet pairs"}
"""Options asked of a command that another command does (``fleet run --pairs``, the words of
the issue that asked for ``fleet pairs``), and that command; none is in the first's --help."""


def _elsewhere(exc: click.UsageError) -> tuple[str, str] | None:
    """The message and the command that does what an unknown option asked for, where
    _ELSEWHERE names one: click would say only "No such option"."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None:
        return None
    where = _ELSEWHERE.get((exc.ctx.command_path, exc.option_name))
    if where is None:
        return None
    return f"No such option '{exc.option_name}' here: use '{where}'", where


_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE, errno.EBADF})
_PATH_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ELOOP}
)
"""A path the user named that the system refuses: bad input, whatever layer met it."""


def _internal(exc: BaseException, debug: bool) -> int:
    name = type(exc).__name__
    hint = "" if debug else " (run again with --debug for a traceback)"
    return _fail(f"internal error: {name}: {exc}{hint}", ExitCode.INTERNAL, debug)


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):  # no real file descriptor (a test harness)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _drop_unwritten_output() -> None:
    """After a failed write, send what standard output still holds to /dev/null.

    Some streams keep the text a failed flush could not write; Python would try again at exit
    and print its own "Exception ignored ... OSError" after our one line, exiting 120.
    """
    _silence_stdout()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()


def _tolerate_narrow_encodings() -> None:
    """Print ``?`` for what the terminal's encoding cannot show (LANG=C, PYTHONIOENCODING=ascii).

    The reports use a few symbols (✓, ·, →); losing them beats dying on UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a detached or odd stream
                reconfigure(errors="replace")


class _ClosedOutput(io.TextIOBase):
    """Standard output when file descriptor 1 was closed (``>&-``): writing to it fails."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


class _ClosedInput(io.TextIOBase):
    """Standard input when file descriptor 0 was closed (``<&-``): reading it fails."""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "closed")

    def read(self, size: int | None = -1) -> str:
        raise OSError(errno.EBADF, "closed")

    @property
    def buffer(self) -> BinaryIO:
        raise OSError(errno.EBADF, "closed")


def _guard_closed_streams() -> None:
    """Keep descriptors 0-2 taken, so a file gpudoctor opens never becomes "standard output".

    With ``>&-`` Python sets ``sys.stdout`` to None, which every print would trip over as an
    internal error; printing now fails as a closed stream should (one line, exit 2).
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
    if sys.stdin is None:
        sys.stdin = _ClosedInput()
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.stderr is None:  # nowhere to say anything: the exit status still tells
        sys.stderr = os.fdopen(2, "w", closefd=False)  # now /dev/null, see above


class InertStdout(io.TextIOBase):
    """A terminal as standard output: colour (SGR) codes go through, every other control shows.

    The renderers already make report, NVML and framework strings inert; this is the last
    guard for any command's text on a terminal, so that no string can retitle, clear or move
    it. Pipes and files are not wrapped: JSON must arrive exactly as written.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, s: str) -> int:
        from gpudoctor.model.inert import inert_keeping_colour

        self._stream.write(inert_keeping_colour(s))
        return len(s)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    @property
    def buffer(self) -> BinaryIO:
        return self._stream.buffer


def main() -> None:
    """Console-script entry point."""
    _guard_closed_streams()
    _tolerate_narrow_encodings()
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.isatty():
        sys.stdout = InertStdout(sys.stdout)  # pipes and files get the exact text
    install_signal_handlers()
    try:
        code = run()
    except KeyboardInterrupt as exc:  # a signal in the instant before run() could catch it
        code = _interrupted(exc)
    code = _flush_at_exit(code)
    if _INTERRUPTED:
        # Stopped, with the clean-up done as the stack unwound. CPython 3.11 marks a Ctrl-C
        # that lands inside exec() of source text (dataclasses build their methods so, while
        # check imports its rules) as unhandled even though it was handled, and would end
        # the process by SIGINT instead of exit status 130: leave at once, with the status
        # said. Nothing is left for the interpreter's own shutdown to clean up.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _flush_at_exit(code: int) -> int:
    """Flush standard output now, while a failure can still be one line and exit status 2."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        if code == 0:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            code = _fail(f"cannot write the output: {why}", ExitCode.BAD_INPUT, debug=False)
        _drop_unwritten_output()
    return code
