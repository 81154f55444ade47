"""The single place that starts a child process: argv only, always a timeout, never a hang."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KILL_GRACE_S = 2.0
"""How long a killed child gets to exit before we abandon it (a wedged driver: D state)."""


@dataclass(frozen=True, kw_only=True)
class CmdResult:
    """The outcome of one child process."""

    argv: tuple[str, ...]
    returncode: int | None
    """None when the child timed out or could not be started."""
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    abandoned: bool = False
    """True when the child did not die after SIGKILL and was left behind."""
    start_error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the child ran to completion with status 0."""
        return self.returncode == 0


def kill_tree(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Kill the child and, on POSIX, every process it started (its own session)."""
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


def run_cmd(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> CmdResult:
    """Run ``argv`` in its own process group; kill the group at ``timeout_s``.

    A child stuck in uninterruptible sleep (an NVIDIA driver that hangs) cannot be reaped;
    after :data:`KILL_GRACE_S` we stop waiting for it and report it as abandoned.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return CmdResult(argv=tuple(argv), returncode=None, start_error=str(exc))
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        try:
            out, err = proc.communicate(timeout=KILL_GRACE_S)
            abandoned = False
        except subprocess.TimeoutExpired:
            out, err, abandoned = "", "", True
        return CmdResult(
            argv=tuple(argv),
            returncode=None,
            stdout=out or "",
            stderr=err or "",
            timed_out=True,
            abandoned=abandoned,
            duration_s=time.monotonic() - start,
        )
    return CmdResult(
        argv=tuple(argv),
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        duration_s=time.monotonic() - start,
    )
