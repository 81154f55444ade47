"""``make-env --solve``: solve the plan's conda part for the target's virtual packages (py-rattler).

Only repodata is read, never a package, so an unsolvable plan is reported before any download.
The pip section is not solved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpudoctor.envplan.types import SOLVE_TIMEOUT_S, Plan
from gpudoctor.errors import BadInputError, PlanError, UnreachableError
from gpudoctor.kb import KnowledgeBase

SETTLE_S = 0.5
"""How long a failed channel read waits for rattler's other requests of it to end. py-rattler
(0.28) leaves them running on its own threads; one that ends while the interpreter exits
aborts it ("Fatal Python error: PyGILState_Release", exit 134 or 139 after the one-line
error): 4 runs in 18 against a refused port, none in 40 with this wait (2-core VM, no GPU,
shared with other jobs, 2026-12-07)."""

DEFAULT_GLIBC = "2.28"
"""The glibc assumed for a target given on the command line (RHEL 8 / Ubuntu 18.10 era)."""


@dataclass(frozen=True, kw_only=True)
class SolveResult:
    """A successful solve: the virtual packages used and the records picked."""

    virtual_packages: tuple[str, ...]
    """``__cuda=12.4``, ``__cuda_arch=8.6``, ..."""
    records: tuple[str, ...]
    """``name version build``, sorted by name."""


def virtual_packages(kb: KnowledgeBase, plan: Plan) -> list[tuple[str, str, str]]:
    """(name, version, build) of the virtual packages the target machine would expose."""
    target = plan.target
    out: list[tuple[str, str, str]] = []
    if target.driver is not None:
        max_cuda = kb.max_cuda_for_driver(target.driver, target.driver_os)
        if max_cuda is not None:
            out.append(("__cuda", max_cuda, "0"))
        if target.cc is not None:
            out.append(("__cuda_arch", target.cc, "0"))
    if target.os == "linux":
        out += [
            ("__unix", "0", "0"),
            ("__linux", "5.15", "0"),
            ("__glibc", target.glibc or DEFAULT_GLIBC, "0"),
        ]
    else:
        out.append(("__win", "0", "0"))
    out.append(("__archspec", "1", target.arch))
    return out


def _is_path(channel: str) -> bool:
    """``channel`` names a folder here (``./chan``, ``/srv/chan``, ``file:///srv/chan``), not a
    channel name or URL."""
    return channel.startswith(("/", ".", "~", "file:")) or Path(channel).exists()


def _check_folder(channel: str) -> None:
    """Refuse a --solve-channel folder that is not a conda channel before rattler reads it (its
    error for one left reader threads behind that could abort the interpreter at exit)."""
    if not _is_path(channel) or channel.startswith("file:"):
        return
    folder = Path(channel).expanduser()
    if not folder.is_dir():
        raise BadInputError(f"--solve-channel {channel}: not a conda channel: no such folder")
    if not (folder / "noarch").is_dir():
        raise BadInputError(
            f"--solve-channel {channel}: not a conda channel: it has no noarch/ folder"
        )


def _channel_url(channel: str) -> str:
    path = Path(channel)
    if "://" not in channel and path.exists():
        return path.resolve().as_uri()
    return channel


def solve_plan(
    kb: KnowledgeBase,
    plan: Plan,
    channels: Sequence[str] = (),
    *,
    cache_dir: Path | None = None,
    timeout_s: float = SOLVE_TIMEOUT_S,
    starting: Callable[[str], None] | None = None,
) -> SolveResult:
    """Solve the conda dependencies of ``plan``; raise PlanError when they cannot be solved.

    ``channels`` (names, URLs or local folders) replace the plan's own channels. ``starting``
    is given one line as the channels are read (after the input is checked): reading
    conda-forge can take up to ``timeout_s``, which without it passed with no output at all.
    """
    try:
        import rattler
        from rattler.exceptions import SolverError
    except ImportError:
        raise BadInputError("--solve needs py-rattler: pip install 'gpudoctor[solve]'") from None
    for channel in channels:
        _check_folder(channel)
    sources = [_channel_url(c) for c in (channels or plan.channels) if c != "nodefaults"]
    vps = virtual_packages(kb, plan)
    packages = [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )
        for name, version, build in vps
    ]
    try:
        specs = [rattler.MatchSpec(pin.spec) for pin in plan.conda]
    except Exception as exc:  # rattler raises its own parse errors
        raise PlanError(f"--solve: a spec does not parse: {exc}") from None

    platforms: list[Any] = [plan.target.platform, "noarch"]

    async def run() -> list[Any]:
        gateway = rattler.Gateway(cache_dir=cache_dir) if cache_dir else rattler.Gateway()
        solving = rattler.solve(
            sources=sources,
            specs=specs,
            gateway=gateway,
            platforms=platforms,
            virtual_packages=packages,
            timeout=dt.timedelta(seconds=timeout_s),
        )
        # rattler's timeout bounds the solver only: a channel that took the connection and
        # never answered kept make-env waiting, silent, for minutes (3 min 16 s until killed)
        records: list[Any] = await asyncio.wait_for(solving, timeout=timeout_s)
        return records

    shown = tuple(f"{n}={v}" if n != "__archspec" else f"{n}={b}" for n, v, b in vps)
    if starting is not None:
        names = ", ".join(c for c in (channels or plan.channels) if c != "nodefaults")
        starting(
            f"solving with rattler against {names} (at most {timeout_s:g} s, --solve-timeout) ..."
        )
    try:
        records = asyncio.run(run())
    except SolverError as exc:
        detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise PlanError(
            f"--solve: {plan.name} cannot be solved for {plan.target.platform} with "
            f"{', '.join(shown)}: {detail}"
        ) from None
    except asyncio.TimeoutError:
        time.sleep(SETTLE_S)
        names = ", ".join(c for c in (channels or plan.channels) if c != "nodefaults")
        # a busy mirror that answers slowly ends here too: "did not answer" alone was not true
        # of it, and named no way to wait longer
        raise UnreachableError(
            f"--solve: reading the channel {names} and solving took more than {timeout_s:g} s "
            "(--solve-timeout); the plan was not solved and no file was written (rerun with a "
            "longer --solve-timeout, with --solve-channel naming a mirror or a local copy, or "
            "without --solve)"
        ) from None
    except Exception as exc:  # network and channel errors
        time.sleep(SETTLE_S)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        names = ", ".join(c for c in (channels or plan.channels) if c != "nodefaults")
        if channels and all(_is_path(c) for c in channels):
            # a folder the user named that is not a channel: their input (the file's own
            # conda-forge, a name, was taken for one: a network error said "--solve-channel
            # conda-forge: not a conda channel", exit 2, with no --solve-channel given)
            raise BadInputError(f"--solve-channel {names}: not a conda channel: {first}") from None
        # a channel that did not answer is the network's state, not bad input (exit 1): the
        # plan could not be checked, so it is not written
        raise UnreachableError(
            f"--solve: could not read the channel {names}: {first}; the plan was not solved and "
            "no file was written (rerun when the channel answers, with --solve-channel naming "
            "a mirror or a local copy, or without --solve)"
        ) from None
    picked = sorted(f"{r.name.normalized} {r.version} {r.build}" for r in records)
    return SolveResult(virtual_packages=shown, records=tuple(picked))
