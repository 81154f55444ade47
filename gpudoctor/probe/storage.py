"""Storage a person runs out of: home's space and inodes, the caches that fill it, the quota."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gpudoctor.model.report import CacheInfo, FsUsage, StorageInfo, Unavailable
from gpudoctor.probe.base import ProbeContext, bounded

StatVfs = Callable[[str], Any]
"""``os.statvfs`` or a fake: anything with f_frsize, f_blocks, f_bavail, f_files, f_favail."""

WALK_TIME_S = 0.5
"""How long one cache is walked at most; a cut walk reports "at least N"."""
WALK_ENTRIES = 50_000
"""How many directory entries one cache walk visits at most."""
STORAGE_TIMEOUT_S = 5.0
"""The whole storage probe's bound. statvfs, stat and a directory walk on a network file
system whose server is gone block in the kernel (no timeout of their own), so they run in a
thread that check stops waiting for."""
QUOTA_TIMEOUT_S = 2.0
"""``quota`` asks an NFS server's rquotad; a server that is down must not stall check."""

NETWORK_FS = frozenset(
    {"nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "ceph", "fuse.ceph", "panfs"}
)
"""File systems served over the network: slow for imports, hard links and many small files."""


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mounts``."""

    point: str
    fs_type: str


_OCTAL = re.compile(r"\\([0-7]{3})")
"""The kernel escapes a space, tab, newline and backslash in a mount point as ``\\040``
(fs/proc_namespace.c, mangle()); every other byte is written as it is."""


def parse_mounts(text: str | None) -> tuple[Mount, ...]:
    """``/proc/self/mounts`` -> mounts (octal escapes such as ``\\040`` decoded).

    Only those: Python's unicode_escape, used before, read the UTF-8 of ``/media/josé`` as
    Latin-1 (``/media/josÃ©``), and no path under it was found on its file system."""
    found = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 3:
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), parts[1])
            found.append(Mount(point, parts[2]))
    return tuple(found)


def mount_of(path: str, mounts: tuple[Mount, ...]) -> Mount | None:
    """The mount ``path`` lives on: the longest mount point above it (the last one wins)."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        inside = point in ("/", path) or path.startswith(point + "/")
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best


def walk_size(
    root: Path, *, time_s: float = WALK_TIME_S, entries: int = WALK_ENTRIES
) -> tuple[int, bool]:
    """Bytes allocated under ``root`` (symlinks not followed) and whether the walk finished.

    Allocated blocks, not file sizes: sparse files and hard links count as the disk sees them
    (a hard link twice, which errs towards "this cache is big").
    """
    deadline = time.monotonic() + time_s
    total, seen, stack = 0, 0, [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    seen += 1
                    if seen > entries or time.monotonic() > deadline:
                        return total, False
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += getattr(st, "st_blocks", 0) * 512 or st.st_size
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
        except OSError:
            continue
    return total, True


def cache_locations(env: Mapping[str, str], home: str) -> tuple[tuple[str, str, str], ...]:
    """(name, path, variable that moves it) for each cache, as the tools resolve them."""
    xdg = env.get("XDG_CACHE_HOME") or f"{home}/.cache"
    exe = env.get("CONDA_EXE")
    conda_root = str(PurePosixPath(exe).parent.parent) if exe else None
    conda = (env.get("CONDA_PKGS_DIRS") or "").split(",")[0] or (
        f"{conda_root}/pkgs" if conda_root else f"{home}/.conda/pkgs"
    )
    return (
        ("pip", env.get("PIP_CACHE_DIR") or f"{xdg}/pip", "PIP_CACHE_DIR"),
        ("uv", env.get("UV_CACHE_DIR") or f"{xdg}/uv", "UV_CACHE_DIR"),
        ("conda", conda, "CONDA_PKGS_DIRS"),
        ("huggingface", env.get("HF_HOME") or f"{xdg}/huggingface", "HF_HOME"),
        (
            "torch_extensions",
            env.get("TORCH_EXTENSIONS_DIR") or f"{xdg}/torch_extensions",
            "TORCH_EXTENSIONS_DIR",
        ),
        (
            "apptainer",
            env.get("APPTAINER_CACHEDIR")
            or env.get("SINGULARITY_CACHEDIR")
            or f"{home}/.apptainer/cache",
            "APPTAINER_CACHEDIR",
        ),
    )


def fs_usage(
    ctx: ProbeContext, path: str, mounts: tuple[Mount, ...], statvfs: StatVfs
) -> tuple[FsUsage, Unavailable | None]:
    """Space and inodes of the file system ``path`` is on."""
    mount = mount_of(path, mounts)
    usage = FsUsage(
        path=path,
        mount_point=mount.point if mount else None,
        fs_type=mount.fs_type if mount else None,
    )
    try:
        st = statvfs(str(ctx.path(path)))
    except OSError as exc:
        return usage, Unavailable(field=f"site.storage {path}", code="failed", message=str(exc))
    frsize = st.f_frsize or st.f_bsize
    return FsUsage(
        path=path,
        mount_point=usage.mount_point,
        fs_type=usage.fs_type,
        total_bytes=st.f_blocks * frsize,
        free_bytes=st.f_bavail * frsize,
        total_inodes=st.f_files or None,  # 0: the file system does not count inodes (btrfs)
        free_inodes=st.f_favail if st.f_files else None,
    ), None


def env_prefix(ctx: ProbeContext) -> str:
    """The environment of the inspected Python: ``…/env`` for ``…/env/bin/python``."""
    return str(PurePosixPath(ctx.python).parent.parent)


def quota_lines(ctx: ProbeContext) -> tuple[str, ...]:
    """``quota -s`` output where the command exists (bounded: an NFS rquotad may hang)."""
    if shutil.which("quota", path=ctx.env.get("PATH", "")) is None:
        return ()
    result = ctx.run(["quota", "-s"], timeout_s=QUOTA_TIMEOUT_S)
    text = result.stdout if result.returncode in (0, 1) else ""  # 1: over quota on some systems
    return tuple(line.rstrip() for line in text.splitlines() if line.strip())[:20]


def probe_storage(
    ctx: ProbeContext,
    statvfs: StatVfs = os.statvfs,
    *,
    walk_time_s: float = WALK_TIME_S,
    timeout_s: float = STORAGE_TIMEOUT_S,
) -> tuple[StorageInfo | None, tuple[Unavailable, ...]]:
    """Home, the environment and the caches; None without ``HOME``; bounded by ``timeout_s``
    (a hung file system becomes an Unavailable, and its daemon thread is left behind)."""
    finished, result = bounded(
        lambda: _probe_storage(ctx, statvfs, walk_time_s), timeout_s, "storage"
    )
    if finished and result is not None:
        return result
    message = (
        f"the home, environment or cache file systems gave no answer in {timeout_s:g} s "
        "(a network file system whose server does not answer?)"
    )
    return None, (Unavailable(field="site.storage", code="timeout", message=message),)


def _probe_storage(
    ctx: ProbeContext, statvfs: StatVfs, walk_time_s: float
) -> tuple[StorageInfo | None, tuple[Unavailable, ...]]:
    home = ctx.env.get("HOME")
    if not home or not home.startswith("/"):
        return None, ()
    mounts = parse_mounts(ctx.read_text("/proc/self/mounts"))
    errors: list[Unavailable] = []
    home_usage, error = fs_usage(ctx, home, mounts, statvfs)
    errors += [error] if error else []
    env_usage, error = fs_usage(ctx, env_prefix(ctx), mounts, statvfs)
    errors += [error] if error else []
    caches = []
    for name, path, variable in cache_locations(ctx.env, home):
        mount = mount_of(path, mounts)
        where = ctx.path(path)
        size, complete = walk_size(where, time_s=walk_time_s) if where.is_dir() else (None, True)
        caches.append(
            CacheInfo(
                name=name,
                path=path,
                variable=variable,
                size_bytes=size,
                complete=complete,
                fs_type=mount.fs_type if mount else None,
                mount_point=mount.point if mount else None,
            )
        )
    return StorageInfo(
        home=home_usage, environment=env_usage, caches=tuple(caches), quota=quota_lines(ctx)
    ), tuple(errors)
