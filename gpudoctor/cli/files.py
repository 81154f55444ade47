"""Writing the user's files: never over an existing one without --force, always atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from gpudoctor.errors import BadInputError, OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STDOUT = "-"
"""``--output -`` means standard output, as for most Unix tools."""


def is_stdout(path: Path | None) -> bool:
    """Whether ``--output`` names standard output."""
    return path is not None and str(path) == STDOUT


def _target(path: Path) -> Path:
    """The file a write to ``path`` lands in: a symbolic link is followed, and stays a link.

    Dotfile managers and shared folders rely on links staying links, so --force replaces what
    the link points at, never the link.
    """
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=False)
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError before Python 3.13
        raise BadInputError(f"{path}: cannot follow the link ({exc})") from None


def _is_special(path: Path) -> bool:
    """A device or a FIFO (``/dev/null``, a named pipe): written in place, never replaced."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_output(path: Path, *, force: bool) -> Path:
    """Refuse ``path`` as write_output would (exists, a directory, no folder); return its folder.

    Commands that take long call it before the work, so a bad ``--output`` fails at once.
    """
    if is_stdout(path):
        return Path()
    if str(path) in ("", "."):
        raise BadInputError("--output needs a file name")
    target = _target(path)
    if _is_special(target):
        return target.parent  # nothing to lose: a device or pipe holds no file to overwrite
    if target.exists() and not force:
        raise OutputExistsError(f"{path} exists; use --force to overwrite it")
    if target.is_dir():
        raise BadInputError(f"{path} is a directory")
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise BadInputError(f"{folder}: no such directory")
    return folder


def write_output(path: Path, data: str | bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    An interrupted write leaves the old file (or no file) behind, never a partial one. A file
    replaced with --force keeps its permissions; a symbolic link keeps pointing at its target,
    which is what gets replaced; a device or FIFO is written in place. ``-`` writes to standard
    output instead.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if is_stdout(path):
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
        return
    folder = check_output(path, force=force)
    target = _target(path)
    if _is_special(target):
        try:
            with target.open("wb") as fh:
                fh.write(payload)
        except OSError as exc:
            raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
        return
    try:
        old_mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        old_mode = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
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
        Path(tmp).replace(target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
        raise
