"""stop_all: every child of run_cmd ends at once, and none starts after it (exit paths)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gpudoctor.probe import runcmd
from gpudoctor.probe.runcmd import CmdResult, run_cmd
from tests.hardening.conftest import wait_dead, wait_for_pids

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


@pytest.fixture(autouse=True)
def _children_allowed():
    runcmd.allow_children()
    yield
    runcmd.allow_children()


class Tracked:
    """How many children run_cmd and stream_cmd have registered (track), to wait for.

    A child can say it is ready before the thread that started it has registered it: under
    load that thread waits for a core between Popen's return and track(). stop_all then found
    nothing to stop (0, not 1), and track() killed the child late with SIGKILL, not SIGTERM.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._changed = threading.Condition()
        original = runcmd.track

        def track(proc: subprocess.Popen[str], term_grace_s: float = 0.0) -> bool:
            registered = original(proc, term_grace_s)
            with self._changed:
                self.count += 1
                self._changed.notify_all()
            return registered

        monkeypatch.setattr(runcmd, "track", track)

    def wait(self, count: int = 1, timeout_s: float = 30.0) -> None:
        with self._changed:
            done = self._changed.wait_for(lambda: self.count >= count, timeout_s)
        assert done, f"{self.count} of {count} children registered after {timeout_s:.0f} s"


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> Tracked:
    return Tracked(monkeypatch)


def _in_thread(argv: list[str]) -> tuple[threading.Thread, list[CmdResult]]:
    box: list[CmdResult] = []
    thread = threading.Thread(target=lambda: box.append(run_cmd(argv, timeout_s=120)))
    thread.start()
    return thread, box


def test_stop_all_kills_the_child_and_its_children_at_once(
    tmp_path: Path, tracked: Tracked
) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    thread, box = _in_thread(["/bin/sh", "-c", script])
    started = wait_for_pids(pids, 2)
    tracked.wait()
    begin = time.monotonic()
    assert runcmd.stop_all() == 1
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - begin < 3
    assert box[0].returncode is not None or box[0].cancelled
    assert wait_dead(started) == []


@pytest.mark.parametrize("start", ["run_cmd", "stream_cmd"])
def test_ctrl_c_before_the_child_is_registered_still_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    # Ctrl-C raised in the starting thread between Popen and track() (onboard's check step
    # as it started, under load): stop_all had found nothing and the child ran on, untracked.
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"

    def interrupted(proc: subprocess.Popen[str], term_grace_s: float = 0.0) -> bool:
        wait_for_pids(pids, 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(runcmd, "track", interrupted)
    started: list[int] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            if start == "run_cmd":
                run_cmd(["/bin/sh", "-c", script], timeout_s=120, term_grace_s=2)
            else:
                runcmd.stream_cmd(["/bin/sh", "-c", script], timeout_s=120, on_line=print)
        started = wait_for_pids(pids, 2)
        assert wait_dead(started) == []
    finally:
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_wait_ends_even_when_the_pipe_outlives_the_child(
    tmp_path: Path, tracked: Tracked
) -> None:
    """As with a child stuck in the kernel: its pipes never close, and run_cmd must not care."""
    pids = tmp_path / "pids"
    # The grandchild leaves the group (a new session) and keeps stdout open.
    code = (
        "import os, subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        f"open({str(pids)!r}, 'a').write(f'{{p.pid}}\\n')\n"
        "time.sleep(300)\n"
    )
    thread, box = _in_thread([sys.executable, "-c", code])
    (escaped,) = wait_for_pids(pids, 1)
    tracked.wait()
    try:
        begin = time.monotonic()
        runcmd.stop_all()
        thread.join(timeout=10)
        assert not thread.is_alive() and time.monotonic() - begin < 3
        assert box[0].cancelled
    finally:
        os.kill(escaped, signal.SIGKILL)


def test_no_child_starts_once_stopping(tmp_path: Path) -> None:
    runcmd.stop_all()
    marker = tmp_path / "ran"
    result = run_cmd(["/bin/sh", "-c", f"touch {marker}"], timeout_s=10)
    assert result.start_error == "not started: gpudoctor is exiting" and result.cancelled
    assert not marker.exists()
    runcmd.allow_children()
    assert run_cmd(["/bin/sh", "-c", f"touch {marker}"], timeout_s=10).ok and marker.exists()


def _term_recorder(said: Path) -> str:
    """A child that writes ``ready`` to ``said``, then ``TERM`` when SIGTERM comes, and exits."""
    return (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *a: (open({str(said)!r}, 'w').write('TERM'),"
        " sys.exit(0)))\n"
        f"open({str(said)!r}, 'w').write('ready')\n"
        "time.sleep(300)\n"
    )


def test_a_child_that_asked_for_sigterm_gets_it_first(tmp_path: Path, tracked: Tracked) -> None:
    said = tmp_path / "said"
    code = _term_recorder(said)
    box: list[CmdResult] = []
    thread = threading.Thread(
        target=lambda: box.append(
            run_cmd([sys.executable, "-c", code], timeout_s=120, term_grace_s=5)
        )
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not (said.exists() and said.read_text() == "ready") and time.monotonic() < deadline:
        time.sleep(0.05)
    tracked.wait()
    runcmd.stop_all()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert said.read_text() == "TERM"  # srun cancels its job step only on SIGTERM


def test_stop_all_ends_a_streamed_child_too(tmp_path: Path, tracked: Tracked) -> None:
    """stream_cmd (verify's children) shares run_cmd's registry: stop_all ends it at once."""
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; echo ready; wait"
    box: list[CmdResult] = []

    def stream() -> None:
        box.append(runcmd.stream_cmd(["/bin/sh", "-c", script], timeout_s=120, on_line=print))

    thread = threading.Thread(target=stream)
    thread.start()
    started = wait_for_pids(pids, 2)
    tracked.wait()
    begin = time.monotonic()
    assert runcmd.stop_all() == 1
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - begin < 5
    assert not box[0].timed_out
    assert wait_dead(started) == []


def test_ctrl_c_in_the_waiting_thread_still_gives_the_sigterm_grace(
    tmp_path: Path, tracked: Tracked
) -> None:
    # onboard waits for its `check` child in the main thread: Ctrl-C raised there and the child
    # was SIGKILLed at once, leaving its /tmp/gpudoctor-* folder (srun: its job step)
    import _thread

    said = tmp_path / "said"
    code = _term_recorder(said)

    def interrupt_once_ready() -> None:
        deadline = time.monotonic() + 30
        while not (said.exists() and said.read_text() == "ready") and time.monotonic() < deadline:
            time.sleep(0.05)
        tracked.wait()
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_ready, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_cmd([sys.executable, "-c", code], timeout_s=120, term_grace_s=5)
    assert said.read_text() == "TERM"


def _when_ready(said: Path) -> None:
    deadline = time.monotonic() + 30
    while not (said.exists() and said.read_text() == "ready") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("capped", [False, True])
def test_a_child_started_as_stopping_began_still_gets_its_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capped: bool
) -> None:
    # stop_all() landing between Popen and track() (SIGTERM to gpudoctor as fleet pairs started
    # its next srun): track() SIGKILLed the late child, and srun cancels its step only on SIGTERM
    said = tmp_path / "said"
    original = runcmd.track

    def stopped_first(proc: subprocess.Popen[str], term_grace_s: float = 0.0) -> bool:
        _when_ready(said)
        runcmd.stop_all()
        return original(proc, term_grace_s)

    monkeypatch.setattr(runcmd, "track", stopped_first)
    begin = time.monotonic()
    result = run_cmd(
        [sys.executable, "-c", _term_recorder(said)],
        timeout_s=120,
        term_grace_s=5,
        max_output_bytes=1000 if capped else None,
    )
    assert said.read_text() == "TERM"
    assert result.cancelled and result.returncode is None
    assert time.monotonic() - begin < 30


def test_ctrl_c_before_the_child_is_registered_keeps_what_it_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # onboard's step log (on_stdout_line, on_stderr_line): Ctrl-C between Popen and track()
    # ended the child with its pipes closed unread, so its log lost what it had printed and
    # what it said as it stopped
    said = tmp_path / "said"
    code = (
        "import signal, sys, time\n"
        "def bye(*a):\n"
        "    print('stopping', flush=True); print('step aborted', file=sys.stderr, flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('started', flush=True)\n"
        f"open({str(said)!r}, 'w').write('ready')\n"
        "time.sleep(300)\n"
    )

    def interrupted(proc: subprocess.Popen[str], term_grace_s: float = 0.0) -> bool:
        _when_ready(said)
        raise KeyboardInterrupt

    monkeypatch.setattr(runcmd, "track", interrupted)
    out: list[str] = []
    err: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_cmd(
            [sys.executable, "-c", code],
            timeout_s=120,
            term_grace_s=5,
            max_output_bytes=1000,
            on_stdout_line=out.append,
            on_stderr_line=err.append,
        )
    assert out == ["started", "stopping"] and err == ["step aborted"]


def _our_children() -> set[int]:
    """The processes this one started and has not reaped (ppid: set at the fork, before the
    exec gives a child its command line)."""
    found = set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if entry.name.isdigit():
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                if int(ppid) == os.getpid():
                    found.add(int(entry.name))
    return found


@pytest.mark.parametrize("start", ["run_cmd", "stream_cmd"])
def test_ctrl_c_while_popen_starts_the_child_ends_it(
    monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    # A real Ctrl-C arriving as the child is forked (gpudoctor's handler installed): Python
    # raised it as the fork returned, inside Popen before it had the child's pid, and the
    # child ran on, held by nobody (15 of 400 Ctrl-Cs sent within 4 ms of a start, 2-core VM).
    # subprocess._fork_exec is private: patched here only to send the signal at that moment.
    from gpudoctor import cli

    real_fork_exec = subprocess._fork_exec  # type: ignore[attr-defined]

    def fork_exec(*args: object) -> int:
        pid = real_fork_exec(*args)
        os.kill(os.getpid(), signal.SIGINT)
        return int(pid)

    before = _our_children()
    previous = signal.signal(signal.SIGINT, cli._on_interrupt)
    monkeypatch.setattr(subprocess, "_fork_exec", fork_exec)
    started: list[int] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            if start == "run_cmd":
                run_cmd(["sleep", "300"], timeout_s=120)
            else:
                runcmd.stream_cmd(["sleep", "300"], timeout_s=120, on_line=print)
        started = sorted(_our_children() - before)
        assert wait_dead(started) == []
    finally:
        signal.signal(signal.SIGINT, previous)
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
