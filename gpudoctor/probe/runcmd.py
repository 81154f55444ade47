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


_children: dict[subprocess.Popen[str] | subprocess.Popen[bytes], float] = {}
"""Every running child, with the SIGTERM grace it asked for (srun needs SIGTERM to cancel)."""
_children_lock = threading.RLock()  # re-entrant: a signal handler may run while it is held
_stopping = threading.Event()
"""Set by :func:`stop_all`: gpudoctor is exiting, so no new child starts and waits end."""

_SLICE_S = 0.2
"""How often a wait looks at a cancel event or :func:`stop_all` (a killed child ends it sooner)."""


def track(proc: subprocess.Popen[str] | subprocess.Popen[bytes], term_grace_s: float = 0.0) -> bool:
    """Register a started child so that :func:`stop_all` ends it; False (and killed) when late.

    Every child gpudoctor starts is registered, so that Ctrl-C, SIGTERM or SIGHUP ends the
    whole tree at once instead of leaving it to run to its own timeout.
    """
    with _children_lock:
        if not _stopping.is_set():
            _children[proc] = term_grace_s
            return True
    kill_tree(proc)
    return False


def untrack(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Forget a child that has ended (or been abandoned)."""
    with _children_lock:
        _children.pop(proc, None)


def stop_all() -> int:
    """Kill the process group of every running child and refuse new ones; how many were killed.

    Safe to call from a signal handler and more than once. Threads waiting in :func:`run_cmd`
    return within a fraction of a second, even for a child the kernel will not let die; a
    child started with a SIGTERM grace gets SIGTERM now and SIGKILL after that grace.
    """
    with _children_lock:
        _stopping.set()
        running = list(_children.items())
    for proc, grace in running:
        if grace > 0 and os.name == "posix":
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
        else:
            kill_tree(proc)
    return len(running)


def allow_children() -> None:
    """Undo :func:`stop_all` (a test harness runs several commands in one process)."""
    _stopping.clear()


def stopping() -> bool:
    """True once :func:`stop_all` was called: the process is on its way out."""
    return _stopping.is_set()


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
    if _stopping.is_set():
        return CmdResult(argv=tuple(argv), returncode=None, start_error=_EXITING, cancelled=True)
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
    if not track(proc, term_grace_s):
        return CmdResult(argv=tuple(argv), returncode=None, start_error=_EXITING, cancelled=True)
    try:
        return _wait(proc, argv, start, timeout_s, stdin, cancel, term_grace_s)
    except BaseException:
        kill_tree(proc)  # Ctrl-C in the thread that waits: the child must not outlive us
        raise
    finally:
        untrack(proc)


_EXITING = "not started: gpudoctor is exiting"


def _wait(
    proc: subprocess.Popen[str],
    argv: Sequence[str],
    start: float,
    timeout_s: float,
    stdin: str | None,
    cancel: threading.Event | None,
    term_grace_s: float,
) -> CmdResult:
    deadline = start + timeout_s
    pending_input = stdin
    while True:
        remaining = deadline - time.monotonic()
        # Short slices, so that a cancel event or stop_all() is seen even when the child
        # cannot die (a wedged driver keeps its pipes open).
        wait_s = max(0.0, min(remaining, _SLICE_S))
        try:
            out, err = proc.communicate(input=pending_input, timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            pending_input = None  # communicate() keeps what it has not sent yet
            stopped = (cancel is not None and cancel.is_set()) or _stopping.is_set()
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
        # When gpudoctor is exiting, a child stuck in the kernel is not worth waiting for.
        out, err = proc.communicate(timeout=_SLICE_S if _stopping.is_set() else KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        _close_pipes(proc)  # abandoned: nothing more will be read from it
        return "", "", True
    return out or "", err or "", False


def _close_pipes(proc: subprocess.Popen[str]) -> None:
    """Let go of an abandoned child: close its pipes, and reap it if it did die after all.

    (Its pipes may stay open because a grandchild in another session holds them.)
    """
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=0.05)
