"""run_cmd: cancelling from another thread, and SIGTERM before SIGKILL when asked."""

from __future__ import annotations

import sys
import threading
import time

from gpudoctor.probe.runcmd import run_cmd

TRAP_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(5)))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_cancel_stops_the_child_at_once():
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    result = run_cmd(
        [sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=30, cancel=cancel
    )
    assert time.monotonic() - start < 5
    assert result.cancelled and not result.timed_out and result.returncode is None


def test_timeout_with_a_cancel_event_still_times_out():
    result = run_cmd(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        timeout_s=0.5,
        cancel=threading.Event(),
    )
    assert result.timed_out and not result.cancelled


def test_term_grace_lets_the_child_clean_up():
    result = run_cmd([sys.executable, "-c", TRAP_TERM], timeout_s=1.5, term_grace_s=5)
    assert result.timed_out
    assert "got TERM" in result.stdout  # it ran its handler: SIGTERM came first


def test_without_grace_the_child_is_killed_outright():
    result = run_cmd([sys.executable, "-c", TRAP_TERM], timeout_s=1.5)
    assert result.timed_out and "got TERM" not in result.stdout


def test_input_and_output_still_flow_with_a_cancel_event():
    result = run_cmd(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
        timeout_s=20,
        stdin="hello",
        cancel=threading.Event(),
    )
    assert result.ok and result.stdout.strip() == "HELLO"
