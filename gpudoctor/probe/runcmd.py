"""The single place that starts a child process: argv only, always a timeout, never a hang."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
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
    cancelled: bool = False
    """True when the caller's ``cancel`` event stopped the child before it finished."""

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
    cancel: threading.Event | None = None,
    term_grace_s: float = 0.0,
) -> CmdResult:
    """Run ``argv`` in its own process group; kill the group at ``timeout_s``.

    A child stuck in uninterruptible sleep (an NVIDIA driver that hangs) cannot be reaped;
    after :data:`KILL_GRACE_S` we stop waiting for it and report it as abandoned. ``cancel``
    (set from another thread) stops the child early. With ``term_grace_s`` the group first gets
    SIGTERM and that long to exit: srun, for one, cancels its job step on SIGTERM, never on
    SIGKILL.
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
    deadline = start + timeout_s
    pending_input = stdin
    while True:
        remaining = deadline - time.monotonic()
        # Polled in short slices only when someone may cancel; else one wait.
        wait_s = max(0.0, min(remaining, 0.2) if cancel is not None else remaining)
        try:
            out, err = proc.communicate(input=pending_input, timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            pending_input = None  # communicate() keeps what it has not sent yet
            stopped = cancel is not None and cancel.is_set()
            if stopped or time.monotonic() >= deadline:
                out, err, abandoned = _stop(proc, term_grace_s)
                return CmdResult(
                    argv=tuple(argv),
                    returncode=None,
                    stdout=out,
                    stderr=err,
                    timed_out=not stopped,
                    cancelled=stopped,
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


def _stop(proc: subprocess.Popen[str], term_grace_s: float) -> tuple[str, str, bool]:
    """End the child's group (SIGTERM first when a grace is given); its output and abandonment."""
    if term_grace_s > 0 and os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=term_grace_s)
            return out or "", err or "", False
        except subprocess.TimeoutExpired:
            pass
    kill_tree(proc)
    try:
        out, err = proc.communicate(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        return "", "", True
    return out or "", err or "", False
