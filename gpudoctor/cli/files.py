"""Writing the user's files: never over an existing one without --force, always atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gpudoctor.errors import BadInputError, OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: Path, *, force: bool) -> Path:
    """Refuse ``path`` as write_output would (exists, a directory, no folder); return its folder.

    Commands that take long call it before the work, so a bad ``--output`` fails at once.
    """
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

    An interrupted write leaves the old file (or no file) behind, never a partial one.
    """
    folder = check_output(path, force=force)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot write there ({exc.strerror})") from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        Path(tmp).chmod(0o666 & ~_umask())
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
