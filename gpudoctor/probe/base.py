"""What every probe gets: a context to read the host through, fakeable in tests."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gpudoctor.probe.runcmd import CmdResult, run_cmd

RunCmd = Callable[..., CmdResult]
T = TypeVar("T")


def bounded(work: Callable[[], T], timeout_s: float, name: str) -> tuple[bool, T | None]:
    """``(True, work())``, or ``(False, None)`` when it has not returned in ``timeout_s``.

    For reads that block in the kernel with no timeout of their own (``statvfs``, ``open`` and
    ``read`` on a network file system whose server is gone): the work runs in a daemon thread
    that is left behind when it hangs, so the process can still exit. An exception the work
    raises is raised here, as if it ran in the caller's thread.
    """
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except Exception as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, name=f"gpudoctor-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if failed:
        raise failed[0]
    return (True, done[0]) if done else (False, None)


@dataclass(frozen=True, kw_only=True)
class ProbeContext:
    """The host as probes see it.

    Tests point ``root`` at a fake file tree (``/proc``, ``/sys``, ``/dev``), pass a dict for
    ``env`` and a fake ``run`` so that no probe reads the real machine.
    """

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    root: Path = Path("/")
    """Prefix for every absolute path a probe reads."""
    run: RunCmd = run_cmd
    python: str = sys.executable
    """The interpreter whose environment the framework and CUDA probes inspect."""
    timeout_s: float = 30.0
    """Upper bound for any one child process."""
    log_window_s: float = 72 * 3600.0
    """How far back the kernel log is searched for Xid errors (``check --since``)."""

    def path(self, absolute: str) -> Path:
        """The host path ``absolute`` under :attr:`root`."""
        return self.root / absolute.lstrip("/")

    def read_text(self, absolute: str) -> str | None:
        """The content of a host file, or None when it is absent or unreadable."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
