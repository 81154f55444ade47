"""Writing the user's files: never over an existing one without --force, always atomically."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from gpudoctor.errors import BadInputError, OutputExistsError
from gpudoctor.model.inert import inert, inert_keeping_colour
from gpudoctor.userfiles.read import file_kind, read_capped

__all__ = [
    "STDOUT",
    "check_output",
    "emit",
    "is_stdout",
    "read_capped",
    "shown",
    "write_output",
    "wrote",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STDOUT = "-"
"""``--output -`` means standard output, as for most Unix tools."""


def is_stdout(path: Path | None) -> bool:
    """Whether ``--output`` names standard output: ``-``, or ``/dev/stdout`` (any link that
    leads to the file standard output is), which every command treats exactly as ``-``: the
    same text, unredacted where ``-`` is, and no ``wrote`` line."""
    return path is not None and (str(path) == STDOUT or _names_stdout(path))


def _target(path: Path, *, force: bool = True) -> Path:
    """The file a write to ``path`` lands in: a symbolic link is followed, and stays a link.

    Dotfile managers and shared folders rely on links staying links, so --force replaces what
    the link points at, never the link. A link to nothing is followed only with ``force``:
    without it, ``-o report.json`` would create a file in some other folder.
    """
    if not path.is_symlink():
        return path
    mode = _mode_or_none(path)  # a loop: resolve() below says so
    if mode is not None and _in_place(mode):
        # /dev/stderr, /proc/self/fd/N: the kernel's links lead to "pipe:[...]", which no path
        # resolves to; opening the link itself reaches the device or pipe.
        return path
    try:
        target = path.resolve(strict=False)
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError before Python 3.13
        raise BadInputError(f"{path}: cannot follow the link ({exc})") from None
    dangling = not target.exists() and not target.is_symlink() and target.parent.is_dir()
    if dangling and not force:
        raise BadInputError(
            f"{path} is a symbolic link to {target}, which does not exist; "
            "use --force to create it there"
        )
    return target


def _mode(path: Path) -> int | None:
    """The mode of what ``path`` names (links followed), or None when nothing is there."""
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None


def _same_as(mode_path: Path, fd: int) -> bool:
    """Whether ``mode_path`` is the file open as ``fd`` (``-o /dev/stdout``)."""
    try:
        a, b = mode_path.stat(), os.fstat(fd)
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _names_stdout(path: Path) -> bool:
    """``-o /dev/stdout`` (or ``/proc/self/fd/1``): a link that leads to standard output.

    It behaves as ``-o -`` whatever standard output is (a pipe, a terminal, a file the shell
    opened with ``>``).
    """
    try:
        if not path.is_symlink():
            return False
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or a harness without a descriptor
        return False
    return _same_as(path, fd)


def _in_place(mode: int) -> bool:
    """A character device (``/dev/null``, a terminal) or a FIFO: written in place, never replaced.

    A FIFO is written only when a reader has it open (see :func:`_open_in_place`). Sockets,
    block devices and directories are refused.
    """
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_output(path: Path, *, force: bool) -> Path:
    """Refuse ``path`` as write_output would (exists, a directory, no folder); return its folder.

    Commands that take long call it before the work, so a bad ``--output`` fails at once.
    """
    try:
        return _check_output(path, force=force)
    except OSError as exc:  # a name too long, a component that is a file, no permission
        raise BadInputError(f"{_shortened(path)}: {exc.strerror or exc}") from None


def _shortened(path: Path) -> str:
    """``path`` for a message, shortened when it is absurdly long (ENAMETOOLONG)."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-40:]}"


def _check_output(path: Path, *, force: bool) -> Path:
    if is_stdout(path):
        return Path()
    if str(path) in ("", "."):
        raise BadInputError("--output needs a file name")
    target = _target(path, force=force)
    mode = _mode(target)
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISFIFO(mode) and target not in _held:
            # Opened now, so that a pipe no program reads fails before the work, not after;
            # kept open (closing it would tell the reader the data has ended).
            _held[target] = _open_in_place(target, path)
        if _in_place(mode):
            return target.parent  # nothing to lose: a device or pipe holds no file to overwrite
        if stat.S_ISDIR(mode):
            raise BadInputError(f"{path} is a directory")
        raise BadInputError(f"{path} is {file_kind(mode)}, not a file gpudoctor can write")
    if mode is not None and not force:
        raise OutputExistsError(f"{path} exists; use --force to overwrite it")
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise BadInputError(f"{folder}: no such directory")
    return folder


_held: dict[Path, int] = {}
"""FIFOs opened by check_output, kept for write_output."""


def release_held() -> None:
    """Close FIFOs check_output opened that were never written (the command failed)."""
    while _held:
        _, fd = _held.popitem()
        with contextlib.suppress(OSError):
            os.close(fd)


def _open_in_place(target: Path, path: Path) -> int:
    """Open a device or FIFO for writing without ever blocking in open()."""
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO that no one reads: open() would wait forever
            raise BadInputError(
                f"{path} is a named pipe that no program is reading; start the reader first, "
                "or use -o - and a shell pipe"
            ) from None
        raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not _in_place(mode):  # swapped for something else since check_output looked
        os.close(fd)
        raise BadInputError(f"{path} changed while gpudoctor was writing; try again")
    # Blocking again for the writes: a slow reader is waited for, as on standard output.
    os.set_blocking(fd, True)
    return fd


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def _stdout_is_a_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, OSError, ValueError):
        return False


def _write_stdout(payload: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(payload)
    sys.stdout.buffer.flush()


def write_output(path: Path, data: str | bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    An interrupted write leaves the old file (or no file) behind, never a partial one. A file
    replaced with --force keeps its permissions; a symbolic link keeps pointing at its target,
    which is what gets replaced; a character device is written in place, and so is a FIFO
    that a program is reading (one that none reads is refused rather than waited on). ``-``
    and ``/dev/stdout`` write to standard output instead.
    """
    if is_stdout(path):
        if isinstance(data, str) and _stdout_is_a_terminal():
            data = inert_keeping_colour(data)  # no string from a report drives the terminal
        _write_stdout(data.encode("utf-8") if isinstance(data, str) else data)
        return
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = check_output(path, force=force)
    target = _target(path, force=force)
    mode = _mode_or_none(target)
    if mode is not None and _in_place(mode):
        fd = _held.pop(target, None)
        if fd is None:
            fd = _open_in_place(target, path)
        try:
            _write_all(fd, payload)
        except OSError as exc:
            raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
        finally:
            os.close(fd)
        return
    try:
        old_mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        old_mode = None
    try:
        # A short prefix: the name itself may be near the 255-byte limit.
        prefix = f".{target.name[:64]}."
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would, or the
        # mode the replaced file had (a private report stays private).
        Path(tmp).chmod(old_mode if old_mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if not force:  # check_output saw nothing there: keep it that way
            _link_new(Path(tmp), target, path)
        else:
            Path(tmp).replace(target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
        raise


def _link_new(tmp: Path, target: Path, path: Path) -> None:
    """Put ``tmp`` at ``target`` only if nothing is there, even a file made a moment ago.

    A rename would replace a file another program created since check_output looked; a hard
    link fails instead. File systems without hard links fall back to the rename.
    """
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(f"{path} exists; use --force to overwrite it") from None
    except OSError:  # no hard links here (FAT, some FUSE and network file systems)
        tmp.replace(target)
        return
    tmp.unlink()


def _mode_or_none(path: Path) -> int | None:
    try:
        return _mode(path)
    except OSError:
        return None


def shown(path: Path | str) -> str:
    """A file name as typed, for a line on stderr: its control and bidi characters (an OSC
    title sequence in ``-o``'s name) shown as escapes, on one line."""
    return inert(str(path), one_line=True)


def wrote(path: Path) -> str:
    """The line on stderr after a file is written: stdout stays free for the data (``-o -``)."""
    return f"wrote {shown(path)}"


def emit(
    text: str, output: Path | None, *, force: bool, note: Callable[[Path], str] | None = wrote
) -> None:
    """Every command's last step: print ``text``, or write it to ``output`` and say so.

    ``output`` None prints through click (the terminal's encoding, as every message); a path
    is written by :func:`write_output`, ``-`` as the exact UTF-8 bytes on standard output.
    ``note`` is the line for stderr once a file is written (None: nothing, as the health
    gate's one line has always been written).
    """
    from gpudoctor.cli import raise_if_terminated

    raise_if_terminated()  # a signal whose raise was lost must not leave a finished-looking file
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text, force=force)
    if note is not None and not is_stdout(output):
        click.echo(note(output), err=True)
