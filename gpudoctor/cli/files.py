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


def check_output(path: Path, *, force: bool) -> Path:
    """Refuse ``path`` as write_output would (exists, a directory, no folder); return its folder.

    Commands that take long call it before the work, so a bad ``--output`` fails at once.
    """
    if is_stdout(path):
        return Path()
    if path.is_symlink() and force:
        # --force replaces what the link points at, not the link: dotfile managers and shared
        # folders rely on links staying links.
        path = path.resolve()
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; use --force to overwrite it")
    if path.is_dir():
        raise BadInputError(f"{path} is a directory")
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise BadInputError(f"{folder}: no such directory")
    return folder


def write_output(path: Path, data: str | bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    An interrupted write leaves the old file (or no file) behind, never a partial one. A file
    replaced with --force keeps its permissions; a symbolic link keeps pointing at its target,
    which is what gets replaced. ``-`` writes to standard output instead.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if is_stdout(path):
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
        return
    check_output(path, force=force)
    if path.is_symlink():
        path = path.resolve()
    folder = path.parent
    try:
        old_mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        old_mode = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
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
        Path(tmp).replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
        raise
