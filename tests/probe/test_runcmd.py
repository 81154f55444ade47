"""run_cmd: cancelling from another thread, and SIGTERM before SIGKILL when asked."""

from __future__ import annotations

import sys
import threading
import time

import pytest

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


# --- max_output_bytes ------------------------------------------------------------------------

MIB = 1 << 20
FLOOD = (  # writes MB mebibytes, a mebibyte at a time, then exits 0
    "import sys\nfor _ in range({mb}):\n    sys.stdout.buffer.write(b'x' * (1 << 20))\n"
)


def test_capped_output_within_the_cap_is_what_text_mode_gives():
    program = (
        "import sys; print('out\\u00e9\\r\\nline'); print('err', file=sys.stderr); sys.exit(3)"
    )
    plain = run_cmd([sys.executable, "-c", program], timeout_s=30)
    capped = run_cmd([sys.executable, "-c", program], timeout_s=30, max_output_bytes=MIB)
    assert (capped.stdout, capped.stderr, capped.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert capped.returncode == 3 and not capped.overflowed


def test_output_past_the_cap_is_cut_and_the_child_stopped_with_memory_bounded():
    import tracemalloc

    tracemalloc.start()
    try:
        start = time.monotonic()
        result = run_cmd(
            [sys.executable, "-c", FLOOD.format(mb=64)],
            timeout_s=60,
            max_output_bytes=MIB,
            term_grace_s=5,
        )
        took = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.overflowed and not result.timed_out and not result.cancelled
    assert result.returncode is None and not result.abandoned
    assert len(result.stdout) == MIB
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB held for 64 MiB of output"
    assert took < 30


def test_a_child_that_never_stops_writing_is_stopped_at_the_cap_not_the_timeout():
    forever = "import sys\nwhile True:\n    sys.stdout.buffer.write(b'y' * 65536)\n"
    start = time.monotonic()
    result = run_cmd([sys.executable, "-c", forever], timeout_s=120, max_output_bytes=MIB)
    assert time.monotonic() - start < 30
    assert result.overflowed and len(result.stdout) == MIB


def test_a_flood_on_stderr_counts_too():
    program = "import sys\nfor _ in range(8):\n    sys.stderr.buffer.write(b'e' * (1 << 20))\n"
    result = run_cmd([sys.executable, "-c", program], timeout_s=60, max_output_bytes=MIB)
    assert result.overflowed and len(result.stderr) == MIB and result.stdout == ""


def test_capped_timeout_and_cancel_behave_as_uncapped():
    sleeper = [sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)"]
    timed = run_cmd(sleeper, timeout_s=0.8, max_output_bytes=MIB)
    assert timed.timed_out and not timed.overflowed and timed.stdout == "up\n"
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    stopped = run_cmd(sleeper, timeout_s=30, cancel=cancel, max_output_bytes=MIB)
    assert stopped.cancelled and not stopped.timed_out and time.monotonic() - start < 5
    trapped = run_cmd(
        [sys.executable, "-c", TRAP_TERM], timeout_s=1.5, term_grace_s=5, max_output_bytes=MIB
    )
    assert trapped.timed_out and "got TERM" in trapped.stdout


def test_stderr_lines_are_handed_on_while_the_child_runs():
    # onboard's verify job waited in the SLURM queue for up to an hour: srun's "queued and
    # waiting for resources" came only with the result, when the job had ended
    code = (
        "import sys, time; sys.stderr.write('srun: job 7 queued and waiting\\r\\nnext'); "
        "sys.stderr.flush(); time.sleep(30)"
    )
    heard: list[str] = []
    gate = threading.Event()

    def said(line: str) -> None:
        heard.append(line)
        gate.set()

    result = run_cmd(
        [sys.executable, "-c", code], timeout_s=30, cancel=gate, max_output_bytes=1 << 16,
        on_stderr_line=said,
    )  # fmt: skip
    assert result.cancelled and result.duration_s < 20  # heard while the child was running
    assert heard == ["srun: job 7 queued and waiting", "next"]  # the unfinished one at the end
    assert result.stderr == "srun: job 7 queued and waiting\nnext"


# --- interrupted while waiting: the child's last words during its SIGTERM grace ----------------

LAST_WORDS = (  # srun on SIGTERM: it takes a while to cancel its step, then says so
    "import signal, sys, time\n"
    "def term(*a):\n"
    "    time.sleep(0.5)\n"
    "    print('srun: Job step aborted: Waiting up to 32 seconds', file=sys.stderr, flush=True)\n"
    "    print('srun: error: Force Terminated job 12', file=sys.stderr, flush=True)\n"
    "    sys.stdout.write('unfinished'); sys.stdout.flush()\n"
    "    sys.exit(143)\n"
    "signal.signal(signal.SIGTERM, term)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def _interrupted(program: str, *, term_grace_s: float, again: str | None = None):
    """run_cmd interrupted (as Ctrl-C does, in the waiting thread) once the child is ready;
    with ``again``, interrupted once more when the child writes that line."""
    err: list[str] = []
    out: list[str] = []

    def on_out(line: str) -> None:
        out.append(line)
        if line == "ready":
            raise KeyboardInterrupt

    def on_err(line: str) -> None:
        err.append(line)
        if line == again:
            raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_cmd(
            [sys.executable, "-c", program],
            timeout_s=60,
            term_grace_s=term_grace_s,
            max_output_bytes=MIB,
            on_stderr_line=on_err,
            on_stdout_line=on_out,
        )
    return out, err, time.monotonic() - start


def test_what_the_child_says_in_its_grace_after_an_interrupt_is_heard():
    # the pipes were closed as the interrupt left run_cmd, before SIGTERM's grace: srun's
    # "Job step aborted" was never read, and onboard's log of the stopped step lacked it
    out, err, took = _interrupted(LAST_WORDS, term_grace_s=10)
    assert err == [
        "srun: Job step aborted: Waiting up to 32 seconds",
        "srun: error: Force Terminated job 12",
    ]
    assert out == ["ready", "unfinished"]
    assert took < 5  # it exited: the grace is not waited out


def test_the_grace_after_an_interrupt_is_bounded_by_the_grace():
    # a child that keeps talking after SIGTERM and never exits is followed for the grace only
    program = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: None)\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    print('still here', file=sys.stderr, flush=True); time.sleep(0.05)\n"
    )
    _, err, took = _interrupted(program, term_grace_s=1)
    assert "still here" in err
    assert took < 1 + 2 + 2  # the grace, then SIGKILL and its wait


def test_a_second_interrupt_cuts_the_grace_short():
    program = LAST_WORDS.replace("time.sleep(0.5)", "print('term 1', file=sys.stderr, "
                                 "flush=True); time.sleep(30)")  # fmt: skip
    _, err, took = _interrupted(program, term_grace_s=20, again="term 1")
    assert err == ["term 1"] and took < 5


def test_an_interrupt_in_the_grace_of_a_timeout_gives_no_second_grace():
    # timed out, the child got SIGTERM and its grace; Ctrl-C then must not start another
    program = LAST_WORDS.replace("time.sleep(0.5)", "print('term 1', file=sys.stderr, "
                                 "flush=True); time.sleep(30)")  # fmt: skip

    heard: list[str] = []

    def on_err(line: str) -> None:
        heard.append(line)
        if heard == ["term 1"]:  # once: Ctrl-C well into the grace
            time.sleep(2.5)
            raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_cmd(
            [sys.executable, "-c", program],
            timeout_s=1,
            term_grace_s=4,
            max_output_bytes=MIB,
            on_stderr_line=on_err,
        )
    # one grace, then SIGKILL: 5 s; a second grace from the interrupt on made it 7.5 s
    assert time.monotonic() - start < 6.5
