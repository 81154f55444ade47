"""Environment modules (Lmod, Tcl modules) loaded in this shell, and the prefixes they install."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import PurePosixPath

from gpudoctor.model.report import LoadedModule, Unavailable
from gpudoctor.probe.base import ProbeContext, bounded

MAX_MODULES = 64
MAX_MODULEFILE_BYTES = 64 * 1024
"""A modulefile is a few hundred bytes; a bigger file is read only this far."""
MODULES_TIMEOUT_S = 3.0
"""All modulefiles together: they often sit on NFS, whose reads block when the server is gone."""

# An absolute path in Lua (`"/sw/cuda/12.4"`) or Tcl (`/sw/cuda/12.4`) modulefile syntax.
_PATH = re.compile(r"(?<![\w$.])(/[A-Za-z0-9._+@%=,:~-][^\s\"'(){}\[\];,]*)")
# A whole-line comment: Lua `--`, Tcl `#` (`#%Module1.0` too).
_COMMENT = re.compile(r"^\s*(?:--|#).*$", re.MULTILINE)
_LIB_DIRS = ("lib64", "lib", "lib32", "x86_64-linux-gnu", "aarch64-linux-gnu", "stubs")
# Prefixes every module could name (PATH=/usr/bin ...): matching them would blame any module.
_TOO_GENERAL = frozenset(
    {"/", "/usr", "/usr/local", "/opt", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/tmp", "/var"}  # noqa: S108
)


def module_prefixes(text: str) -> tuple[str, ...]:
    """The install prefixes a modulefile names: each absolute path, ``lib``/``bin`` stripped.

    We match libraries to modules by prefix, not by evaluating the modulefile: Lua and Tcl
    modulefiles compute paths (``pathJoin(base, "lib64")``, ``$root/lib64``), but the base is
    a literal somewhere in the file, and a library under it came from that module.
    """
    found: dict[str, None] = {}
    # Comments name paths a module does not set (`-- built from /sw/src`, `# was /sw`): a
    # prefix taken from them would blame the module for libraries it never put anywhere.
    for match in _PATH.finditer(_COMMENT.sub("", text)):
        path = PurePosixPath(match.group(1).rstrip("/") or "/")
        while path.name in (*_LIB_DIRS, "bin", "include", "share", "man"):
            path = path.parent
        shown = str(path)
        if shown not in _TOO_GENERAL and not shown.startswith(("/usr/share", "/etc/")):
            found[shown] = None
    return tuple(found)[:32]


def _read_head(ctx: ProbeContext, path: str) -> str | None:
    # Only a regular file: `_LMFILES_` is the user's to set, and opening a FIFO blocks forever.
    where = ctx.path(path)
    try:
        if not stat.S_ISREG(where.stat().st_mode):
            return None
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read(MAX_MODULEFILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def probe_modules(
    ctx: ProbeContext,
    env: Mapping[str, str] | None = None,
    *,
    timeout_s: float = MODULES_TIMEOUT_S,
) -> tuple[tuple[LoadedModule, ...], tuple[Unavailable, ...]]:
    """The modules ``LOADEDMODULES`` lists, each with its ``_LMFILES_`` file and prefixes.

    Both Lmod and Environment Modules (Tcl) keep these two colon-separated lists in step.
    When the modulefiles give no answer in ``timeout_s`` the modules are listed without their
    prefixes, and an Unavailable says why.
    """
    env = ctx.env if env is None else env
    names = [n for n in env.get("LOADEDMODULES", "").split(":") if n][:MAX_MODULES]
    files = [f for f in env.get("_LMFILES_", "").split(":") if f]
    paired = [
        (name, files[i] if i < len(files) and len(files) == len(names) else None)
        for i, name in enumerate(names)
    ]

    def read_all() -> tuple[LoadedModule, ...]:
        modules = []
        for name, file in paired:
            text = _read_head(ctx, file) if file else None
            prefixes = module_prefixes(text) if text else ()
            modules.append(LoadedModule(name=name, file=file, prefixes=prefixes))
        return tuple(modules)

    finished, modules = bounded(read_all, timeout_s, "modules")
    if finished and modules is not None:
        return modules, ()
    message = (
        f"the loaded modulefiles could not be read in {timeout_s:g} s (a network file system "
        "whose server does not answer?); modules are listed without their prefixes"
    )
    return (
        tuple(LoadedModule(name=name, file=file, prefixes=()) for name, file in paired),
        (Unavailable(field="site.modules", code="timeout", message=message),),
    )
