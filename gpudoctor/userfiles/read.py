"""Reading a file the user named: never blocking in open(), never more than a stated size.

The model parses what is read here (``serialize.report_from_bytes``); it never reads itself.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gpudoctor.errors import BadInputError, ReportFormatError

if TYPE_CHECKING:
    from gpudoctor.model.report import Report

STDIN = "-"
"""The name that means standard input."""

_CHUNK = 1 << 20


def describe_size(n: int) -> str:
    """``16 MiB``, ``512 KiB`` or ``100 bytes``: how a limit is stated in messages."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words (``a named pipe``, ``a device``)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_file(st: os.stat_result, fd: int) -> bool:
    """Whether ``st`` is the file open as ``fd`` (``/dev/stdin`` is standard input)."""
    try:
        other = os.fstat(fd)
    except OSError:  # closed
        return False
    return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


def _too_large(name: str, limit: int, what: str) -> str:
    return f"{name} is larger than {describe_size(limit)}, the most a {what} may be"


def _read_fd(fd: int, *, limit: int, name: str, what: str) -> bytes:
    """At most ``limit`` bytes from ``fd``; one byte more is refused as too large."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise BadInputError(_too_large(name, limit, what))


def _not_regular(name: str, mode: int, what: str) -> str:
    hint = ""
    if stat.S_ISFIFO(mode):
        hint = f" (to read from a pipe, give - and send the {what} to standard input)"
    return f"{name} is {file_kind(mode)}, not a {what} file{hint}"


def read_stdin(*, limit: int, what: str) -> bytes:
    """Standard input, up to ``limit`` bytes (``< /dev/zero`` ends at the limit, not in swap)."""
    if sys.stdin is None:
        raise BadInputError("standard input is closed")
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or a harness without a descriptor
        try:
            data = sys.stdin.buffer.read(limit + 1)
        except (AttributeError, OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or "closed"
            raise BadInputError(f"standard input: cannot read ({reason})") from None
        if len(data) > limit:
            raise BadInputError(_too_large("standard input", limit, what)) from None
        return bytes(data)
    if os.isatty(fd):  # reading would wait for someone to type a report
        raise BadInputError(f"standard input is a terminal: pipe the {what} in, or name the file")
    try:
        return _read_fd(fd, limit=limit, name="standard input", what=what)
    except BlockingIOError:  # a non-blocking descriptor inherited from the shell
        raise BadInputError("standard input has nothing to read (a non-blocking pipe)") from None
    except OSError as exc:
        raise BadInputError(f"standard input: cannot read ({exc.strerror})") from None


def read_capped(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (``-`` or ``/dev/stdin``: standard input).

    Opened with O_NONBLOCK, so that a FIFO without a writer, a tape or a serial line cannot
    hang the open; anything but a regular file is refused before it is opened and checked
    again on the open descriptor (it may have been swapped in between). More than ``limit``
    bytes is bad input whose message states the limit; ``what`` names the kind of file
    (``report``) in messages.
    """
    name = str(path)
    if name == STDIN:
        return read_stdin(limit=limit, what=what)
    try:
        st = Path(path).stat()
        if not stat.S_ISREG(st.st_mode):
            if _same_file(st, 0):  # /dev/stdin, /proc/self/fd/0
                return read_stdin(limit=limit, what=what)
            raise BadInputError(_not_regular(name, st.st_mode, what))
        if st.st_size > limit:
            raise BadInputError(_too_large(name, limit, what))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BadInputError(f"{name}: no such file") from None
    except OSError as exc:
        raise BadInputError(f"{name}: cannot read ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BadInputError(_not_regular(name, mode, what))
        return _read_fd(fd, limit=limit, name=name, what=what)
    except OSError as exc:
        raise BadInputError(f"{name}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def load_report(path: Path) -> Report:
    """Read and parse a report file; missing, unreadable, foreign or huge files are bad input.

    ``-`` (or ``/dev/stdin``) reads standard input. Nothing but a regular file is opened, and
    never more than ``serialize.MAX_REPORT_BYTES`` is read (see :func:`read_capped`).
    """
    # Here, not at the top: every command reads or writes files through cli/files, and the
    # report model (its dataclasses take some 40 ms to build) is not needed by --help or make-env.
    from gpudoctor.model import serialize

    try:
        # Looked up now, not at import: a test may lower the limit.
        data = read_capped(path, limit=serialize.MAX_REPORT_BYTES, what="report")
    except ReportFormatError:
        raise
    except BadInputError as exc:
        raise ReportFormatError(str(exc)) from None
    return serialize.report_from_bytes(data, "standard input" if str(path) == STDIN else str(path))
