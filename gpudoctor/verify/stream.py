"""A child whose stdout lines arrive as written: argv only, a deadline, a process-group kill."""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from gpudoctor.probe.runcmd import KILL_GRACE_S, CmdResult, kill_tree, track, untrack

STDERR_TAIL_CHARS = 4000


def stream_cmd(
    argv: Sequence[str],
    *,
    timeout_s: float,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> CmdResult:
    """Run ``argv`` in its own process group, calling ``on_line`` for each stdout line.

    The whole group is killed at ``timeout_s``, and also when ``on_line`` raises or the parent
    is interrupted (Ctrl-C), so that no child outlives verify. stderr goes to a temporary
    file (it can be large: TensorFlow logs there) and only its tail is kept.
    """
    start = time.monotonic()
    with tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err_file,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            return CmdResult(argv=tuple(argv), returncode=None, start_error=str(exc))
        if proc.stdout is None:  # pragma: no cover - stdout=PIPE always gives one
            raise RuntimeError("no stdout pipe")
        # Registered like every run_cmd child, so SIGTERM or SIGHUP (stop_all) ends it at once;
        # when gpudoctor is already exiting, track() kills it and the pump below sees EOF.
        track(proc)
        timed_out = abandoned = False
        try:
            timed_out = not _pump(proc.stdout, on_line, start + timeout_s)
            if not timed_out:
                timed_out = not _wait(proc, start + timeout_s)
        finally:
            if timed_out or proc.poll() is None:
                abandoned = _kill_group(proc)
            untrack(proc)
            proc.stdout.close()
        err_file.seek(max(0, os.fstat(err_file.fileno()).st_size - STDERR_TAIL_CHARS))
        tail = err_file.read().decode("utf-8", "replace")
    return CmdResult(
        argv=tuple(argv),
        returncode=None if timed_out else proc.returncode,
        stderr=tail,
        timed_out=timed_out,
        abandoned=abandoned,
        duration_s=time.monotonic() - start,
    )


def _pump(stdout: IO[bytes], on_line: Callable[[str], None], deadline: float) -> bool:
    """Feed complete lines to ``on_line`` until EOF (True) or the deadline (False).

    A reader thread does the blocking reads, so this works on every platform (select() does
    not take pipes on Windows) and the deadline holds even when the child writes nothing.
    """
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        try:
            for raw in iter(stdout.readline, b""):
                lines.put(raw)
        except (OSError, ValueError):  # the pipe was closed under us after a kill
            pass
        lines.put(None)

    threading.Thread(target=read, name="verify-child-stdout", daemon=True).start()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            raw = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if raw is None:
            return True
        on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait for a child that closed its stdout to exit; False at the deadline."""
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the child's group; True when it would not die (left behind, never waited for)."""
    kill_tree(proc)
    try:
        proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        return True
    return False
