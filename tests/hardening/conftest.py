"""Helpers for fault tests that run gpudoctor as a real process: fake interpreters, liveness."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

HANGING_PYTHON = """#!/bin/sh
# Answers gpudoctor's "are you Python 3?" question; every probe it runs after that hangs, in a
# process of its own and a grandchild, whose pids go to {pids}.
case "$*" in
  *gpudoctor-python*) exec {python} "$@" ;;
esac
sleep 300 &
echo $! >> {pids}
echo $$ >> {pids}
wait
"""


def hanging_python(tmp_path: Path) -> tuple[Path, Path]:
    """A fake interpreter whose probes hang, and the file where their pids appear."""
    pids = tmp_path / "pids"
    fake = tmp_path / "python-that-hangs"
    fake.write_text(HANGING_PYTHON.format(python=sys.executable, pids=pids))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake, pids


def wait_for_pids(pids: Path, at_least: int, timeout_s: float = 30.0) -> list[int]:
    """The pids written to ``pids`` once there are ``at_least`` of them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pids.exists():
            found = [int(x) for x in pids.read_text().split()]
            if len(found) >= at_least:
                return found
        time.sleep(0.05)
    raise AssertionError(f"the fake probes never started ({pids})")


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_dead(pids: list[int], timeout_s: float = 5.0) -> list[int]:
    """The pids still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(extra)
    return env
