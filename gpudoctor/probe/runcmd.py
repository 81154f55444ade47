"""The single place that starts a child process: argv only, always a timeout, never a hang.

:func:`run_cmd` gives a child's output when it ends; :func:`stream_cmd` hands its stdout lines
over as they are written (verify's children). Both register the child, kill its process group
and give up on one that will not die in the same way.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

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
    overflowed: bool = False
    """True when stdout or stderr passed ``max_output_bytes``: the child was stopped and the
    output is cut at the cap."""

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
    """Register a started child so that :func:`stop_all` ends it; False when late.

    Every child gpudoctor starts is registered, so that Ctrl-C, SIGTERM or SIGHUP ends the
    whole tree at once instead of leaving it to run to its own timeout. A child started as
    :func:`stop_all` ran is not registered: its caller stops it as stop_all would have.
    """
    with _children_lock:
        if not _stopping.is_set():
            _children[proc] = term_grace_s
            return True
    return False


def untrack(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Forget a child that has ended (or been abandoned)."""
    with _children_lock:
        _children.pop(proc, None)


class _Starting:
    """The main thread is starting a child: a signal handler's exception is held until the
    child is registered, then raised where the child is stopped as on any interrupt.

    Raised at once, it landed inside Popen after the fork and before Popen had the child's
    pid (15 of 400 Ctrl-Cs sent within 4 ms of a start, on a 2-core VM), and the child ran on,
    held by nobody, to its own end (srun: its job).
    """

    active = False
    held: BaseException | None = None


def hold_signal(exc: BaseException) -> bool:
    """For a signal handler (main thread): True when ``exc`` is held, to be raised once the
    child being started is registered; False when the handler is to raise it itself."""
    if not _Starting.active or threading.current_thread() is not threading.main_thread():
        return False
    if _Starting.held is None:  # a second signal meanwhile: the first is raised
        _Starting.held = exc
    return True


def _popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Popen in a session of its own; in the main thread, signals are held (see
    :func:`hold_signal`) until the caller calls :func:`_raise_held` once it registered it."""
    if threading.current_thread() is threading.main_thread():
        _Starting.active = True
    try:
        return subprocess.Popen(list(argv), start_new_session=True, **kwargs)
    except BaseException:
        _raise_held()
        raise


def _release() -> BaseException | None:
    """End the hold of :func:`_popen`; the signal's exception held during it, if any."""
    if threading.current_thread() is not threading.main_thread():
        return None
    held, _Starting.held, _Starting.active = _Starting.held, None, False
    return held


def _raise_held() -> None:
    """End the hold of :func:`_popen` and raise the signal's exception held during it."""
    held = _release()
    if held is not None:
        raise held


def _end(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Kill the child's group and close its pipes: reaped when it dies at once, never waited
    on (the caller is on its way out with an exception)."""
    kill_tree(proc)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_SLICE_S)
    _close_pipes(proc)


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


def how_it_ended(returncode: int | None, when: str = "") -> str:
    """A child's end in words, ``when`` after the verb: ``exited with status 1 before
    finishing``, or the signal that killed it.

    A negative status is subprocess's way of naming a signal: 'exited with status -9' read as
    an exit code, where the kernel's out-of-memory killer had sent SIGKILL.
    """
    if returncode is None or returncode >= 0:
        return f"exited with status {returncode}{when}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"killed by signal {-returncode}{when}"
    if -returncode == signal.SIGKILL:
        return (
            f"killed by {name}{when} (the kernel's out-of-memory killer sends it, as do a "
            "job's memory limit and kill -9)"
        )
    return f"killed by {name}{when}"


def run_cmd(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    cancel: threading.Event | None = None,
    term_grace_s: float = 0.0,
    max_output_bytes: int | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
) -> CmdResult:
    """Run ``argv`` in its own process group; kill the group at ``timeout_s``.

    A child stuck in uninterruptible sleep (an NVIDIA driver that hangs) cannot be reaped;
    after :data:`KILL_GRACE_S` we stop waiting for it and report it as abandoned. ``cancel``
    (set from another thread) stops the child early. With ``term_grace_s`` the group first gets
    SIGTERM and that long to exit: srun, for one, cancels its job step on SIGTERM, never on
    SIGKILL. With ``max_output_bytes`` (POSIX, no ``stdin``) at most that many bytes of stdout
    and of stderr are kept; a child that writes more is stopped as at a timeout (its pipes
    still drained, so it cannot block on a full one) and the result is ``overflowed``.
    ``on_stderr_line`` (with ``max_output_bytes`` only) is called with each stderr line as the
    child writes it, past the cap too (srun's "queued and waiting for resources" while the
    child runs, where the result would give it only at the end). ``on_stdout_line`` is the
    same for stdout: a caller interrupted (Ctrl-C raises here, and the result is lost) still
    has what the child printed until then, and with ``term_grace_s`` what it printed while it
    stopped (read until it exits or the grace is up).
    """
    start = time.monotonic()
    if max_output_bytes is not None and (stdin is not None or os.name != "posix"):
        raise ValueError("max_output_bytes works on POSIX and without stdin")
    if (on_stderr_line or on_stdout_line) is not None and max_output_bytes is None:
        raise ValueError("on_stderr_line and on_stdout_line work with max_output_bytes")
    if _stopping.is_set():
        return CmdResult(argv=tuple(argv), returncode=None, start_error=_EXITING, cancelled=True)
    capped = max_output_bytes is not None
    try:
        proc = _popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            # Capped output is read as bytes, a bounded chunk at a time, and decoded at the end.
            text=not capped,
            errors=None if capped else "replace",
        )
    except OSError as exc:
        return CmdResult(argv=tuple(argv), returncode=None, start_error=str(exc))
    try:
        # False when stop_all ran as the child started: the wait below sees it and stops the
        # child as stop_all would have, with the SIGTERM grace it asked for (SIGKILLed here,
        # srun left its job step running)
        track(proc, term_grace_s)
        _raise_held()
    except BaseException:
        _release()
        # Ctrl-C before the child was registered: stopped as one interrupted while waited on
        try:
            _stop_interrupted(proc, term_grace_s, max_output_bytes, on_stderr_line, on_stdout_line)
        finally:
            _end(proc)
        raise
    try:
        if max_output_bytes is not None:
            return _wait_capped(
                proc,
                argv,
                start,
                timeout_s,
                cancel,
                term_grace_s,
                max(0, max_output_bytes),
                on_stderr_line,
                on_stdout_line,
            )
        return _wait(proc, argv, start, timeout_s, stdin, cancel, term_grace_s)
    except BaseException:
        # Ctrl-C (or SIGTERM, raised as an exception) in the thread that waits: the child must
        # not outlive us. One that asked for SIGTERM gets its grace here too: killed at once, a
        # gpudoctor child (onboard's check) left its temporary folder, srun its job step.
        try:
            if term_grace_s > 0 and max_output_bytes is None:  # _wait_capped gave its grace
                _stop(proc, term_grace_s)
        finally:
            _end(proc)
        raise
    finally:
        untrack(proc)


_EXITING = "not started: gpudoctor is exiting"


def _stop_interrupted(
    proc: subprocess.Popen[Any],
    term_grace_s: float,
    max_output_bytes: int | None,
    on_stderr_line: Callable[[str], None] | None,
    on_stdout_line: Callable[[str], None] | None,
) -> None:
    """Stop a child whose caller was interrupted before waiting on it, as :func:`_wait_capped`
    does one interrupted in its wait: its SIGTERM grace, and what it printed, until it ended or
    the grace was up, handed on (onboard's step log lost it: the pipes were closed unread)."""
    if max_output_bytes is None:
        if term_grace_s > 0:
            _stop(proc, term_grace_s)
        return
    pipes = _CappedPipes(proc, max(0, max_output_bytes), on_stderr_line, on_stdout_line)
    try:
        if term_grace_s > 0 and os.name == "posix":
            _stop_capped(proc, pipes, term_grace_s)
        pipes.drain()
    finally:
        pipes.close()


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


def _close_pipes(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Let go of an abandoned child: close its pipes, and reap it if it did die after all.

    (Its pipes may stay open because a grandchild in another session holds them.)
    """
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=0.05)


_READ_CHUNK = 1 << 16
_DRAIN_READS = 16
"""At most this many reads of each pipe (64 KiB each) once the caller was interrupted."""
_LINE_MAX = 4096
"""What is kept of an unfinished line for ``on_stderr_line`` and ``on_stdout_line``."""


class _CappedPipes:
    """A child's stdout and stderr, read as they come; bytes past the cap are read and dropped.

    Reading on past the cap keeps the child from blocking on a full pipe, so SIGTERM (srun
    cancelling its step) still works; memory stays at the cap per stream.
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        limit: int,
        on_stderr_line: Callable[[str], None] | None = None,
        on_stdout_line: Callable[[str], None] | None = None,
    ) -> None:
        self._selector = selectors.DefaultSelector()
        self._on_line: dict[int, Callable[[str], None]] = {}
        self._partial: dict[int, bytearray] = {}
        """Each stream's unfinished last line (at most ``_LINE_MAX`` bytes of it)."""
        for pipe, on_line in ((proc.stdout, on_stdout_line), (proc.stderr, on_stderr_line)):
            if pipe is not None and on_line is not None:
                self._on_line[pipe.fileno()] = on_line
                self._partial[pipe.fileno()] = bytearray()
        self._bufs: dict[int, bytearray] = {}
        self._order: list[int] = []
        self._pipes = [p for p in (proc.stdout, proc.stderr) if p is not None]
        for pipe in self._pipes:
            self._selector.register(pipe, selectors.EVENT_READ)
            self._bufs[pipe.fileno()] = bytearray()
            self._order.append(pipe.fileno())
        self._limit = limit
        self.over = False

    @property
    def open(self) -> bool:
        """True while a pipe has not reached its end."""
        return bool(self._selector.get_map())

    def read(self, timeout_s: float) -> bool:
        """Read what arrives within ``timeout_s`` (returns at the first data or end of a pipe);
        False when nothing did."""
        ready = self._selector.select(max(0.0, timeout_s))
        for key, _ in ready:
            try:
                data = os.read(key.fd, _READ_CHUNK)
            except OSError:
                data = b""
            if key.fd in self._on_line:
                self._lines(key.fd, data)
            if not data:
                self._selector.unregister(key.fileobj)
                continue
            buf = self._bufs[key.fd]
            room = self._limit - len(buf)
            if len(data) > room:
                self.over = True
            if room > 0:
                buf += data[:room]
        return bool(ready)

    def drain(self) -> None:
        """Hand on what the child has written so far, its unfinished last lines too: the caller
        was interrupted (Ctrl-C), and what was still in the pipes is the last thing the child
        said. Bounded: a child that keeps writing is not followed."""
        for _ in range(_DRAIN_READS):
            if not self.open or not self.read(0):
                break
        for fd, partial in self._partial.items():
            if partial:
                self._partial[fd] = bytearray()
                self._on_line[fd](bytes(partial).decode("utf-8", "replace"))

    def _lines(self, fd: int, data: bytes) -> None:
        """Hand each finished line of ``fd`` on; ``b""`` (the end) flushes the last one."""
        partial = self._partial[fd] + data
        *done, rest = partial.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        if not data and rest:
            done, rest = [*done, rest], bytearray()
        self._partial[fd] = bytearray(rest[-_LINE_MAX:])
        for line in done:
            self._on_line[fd](line.decode("utf-8", "replace"))

    def until(self, proc: subprocess.Popen[bytes], deadline: float) -> bool:
        """Drain until both pipes end and the child exits; False when ``deadline`` came first."""
        while True:
            left = deadline - time.monotonic()
            if self.open:
                if left <= 0:
                    return False
                self.read(min(left, _SLICE_S))
                continue
            try:
                proc.wait(timeout=max(0.0, left))
            except subprocess.TimeoutExpired:
                return False
            return True

    def text(self, index: int) -> str:
        """Stream ``index`` (0 stdout, 1 stderr) as text mode would give it."""
        if index >= len(self._order):
            return ""
        raw = bytes(self._bufs[self._order[index]])
        return raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")

    def close(self) -> None:
        """Let go of the selector and the pipes (as ``communicate`` does at the end)."""
        self._selector.close()
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.close()


def _wait_capped(
    proc: subprocess.Popen[bytes],
    argv: Sequence[str],
    start: float,
    timeout_s: float,
    cancel: threading.Event | None,
    term_grace_s: float,
    limit: int,
    on_stderr_line: Callable[[str], None] | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
) -> CmdResult:
    """:func:`_wait` for a child whose output is capped: read in slices, never past the cap."""
    deadline = start + timeout_s
    pipes = _CappedPipes(proc, limit, on_stderr_line, on_stdout_line)
    grace_ends: float | None = None
    """When the SIGTERM grace given so far ends: one interrupted in it is not given another."""
    try:
        while True:
            now = time.monotonic()
            stopped = (cancel is not None and cancel.is_set()) or _stopping.is_set()
            if stopped or pipes.over or now >= deadline:
                grace_ends = now + term_grace_s
                abandoned = not _stop_capped(proc, pipes, term_grace_s)
                return CmdResult(
                    argv=tuple(argv),
                    returncode=None,
                    stdout=pipes.text(0),
                    stderr=pipes.text(1),
                    timed_out=not stopped and not pipes.over,
                    cancelled=stopped,
                    overflowed=pipes.over and not stopped,
                    abandoned=abandoned,
                    duration_s=time.monotonic() - start,
                )
            slice_s = min(deadline - now, _SLICE_S)
            if pipes.open:
                pipes.read(slice_s)
                continue
            try:
                proc.wait(timeout=max(0.0, slice_s))
            except subprocess.TimeoutExpired:
                continue  # pipes closed, child still running: look at cancel and the clock
            return CmdResult(
                argv=tuple(argv),
                returncode=proc.returncode,
                stdout=pipes.text(0),
                stderr=pipes.text(1),
                duration_s=time.monotonic() - start,
            )
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): a child with a SIGTERM grace is stopped here, its
        # pipes read until it ends or the grace is up, since what it says then is its last
        # word (srun's "Job step aborted"); closed first, that was lost, and its writes failed.
        # A second interrupt cuts the grace short; the child is then killed in run_cmd.
        with contextlib.suppress(Exception):
            if term_grace_s > 0 and os.name == "posix":
                left = term_grace_s if grace_ends is None else grace_ends - time.monotonic()
                _stop_capped(proc, pipes, max(0.0, left))
            pipes.drain()
        raise
    finally:
        pipes.close()


def _stop_capped(proc: subprocess.Popen[bytes], pipes: _CappedPipes, term_grace_s: float) -> bool:
    """:func:`_stop` while draining the pipes; False when the child had to be abandoned."""
    if term_grace_s > 0 and os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        if pipes.until(proc, time.monotonic() + term_grace_s):
            return True
    kill_tree(proc)
    grace = _SLICE_S if _stopping.is_set() else KILL_GRACE_S
    if pipes.until(proc, time.monotonic() + grace):
        return True
    _close_pipes(proc)
    return False


STDERR_TAIL_CHARS = 4000
"""How much of a streamed child's stderr is kept (its end, where the error is)."""


def stream_cmd(
    argv: Sequence[str],
    *,
    timeout_s: float,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> CmdResult:
    """Run ``argv`` in its own process group, calling ``on_line`` for each stdout line.

    The whole group is killed at ``timeout_s``, and also when ``on_line`` raises or the parent
    is interrupted (Ctrl-C), so that no child outlives gpudoctor. stderr goes to a temporary
    file (it can be large: TensorFlow logs there) and only its tail is kept.
    """
    start = time.monotonic()
    with tempfile.TemporaryFile() as err_file:
        try:
            proc = _popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err_file,
                env=dict(env) if env is not None else None,
            )
        except OSError as exc:
            return CmdResult(argv=tuple(argv), returncode=None, start_error=str(exc))
        if proc.stdout is None:  # pragma: no cover - stdout=PIPE always gives one
            raise RuntimeError("no stdout pipe")
        # Registered like every run_cmd child, so SIGTERM or SIGHUP (stop_all) ends it at once;
        # when gpudoctor is already exiting, it is killed here and the pump below sees EOF.
        try:
            if not track(proc):
                kill_tree(proc)
            _raise_held()
        except BaseException:  # Ctrl-C before it was registered
            _release()
            _end(proc)
            raise
        timed_out = abandoned = False
        try:
            timed_out = not _pump(proc.stdout, on_line, start + timeout_s)
            if not timed_out:
                timed_out = not _wait_exit(proc, start + timeout_s)
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


def _wait_exit(proc: subprocess.Popen[bytes], deadline: float) -> bool:
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
