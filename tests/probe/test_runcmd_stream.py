"""The streaming child runner: lines as they come, a deadline, and no child left behind."""

from __future__ import annotations

import os
import sys
import time

import pytest

from gpudoctor.probe.runcmd import stream_cmd

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (already dead, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_lines_arrive_while_the_child_runs():
    seen: list[tuple[str, float]] = []
    code = "import time\nprint('one', flush=True)\ntime.sleep(0.5)\nprint('two', flush=True)"
    result = stream_cmd(
        [PY, "-c", code], timeout_s=30, on_line=lambda line: seen.append((line, time.monotonic()))
    )
    assert result.ok
    assert [s[0] for s in seen] == ["one", "two"]
    assert seen[1][1] - seen[0][1] >= 0.4  # "one" came before the child slept, not at exit


def test_stderr_keeps_its_tail_and_a_partial_last_line_is_delivered():
    code = "import sys\nsys.stderr.write('x' * 10000 + 'END')\nsys.stdout.write('partial')"
    seen: list[str] = []
    result = stream_cmd([PY, "-c", code], timeout_s=30, on_line=seen.append)
    assert seen == ["partial"]
    assert result.stderr.endswith("END") and len(result.stderr) <= 4000


def test_the_deadline_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    result = stream_cmd([PY, "-c", code], timeout_s=2, on_line=lambda line: None)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - start < 10
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_an_error_in_the_handler_kills_the_child_and_propagates(tmp_path):
    pidfile = tmp_path / "child"
    code = (
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "print('hello', flush=True)\ntime.sleep(60)\n"
    )

    def boom(line: str) -> None:
        raise KeyboardInterrupt  # what Ctrl-C looks like inside the loop

    with pytest.raises(KeyboardInterrupt):
        stream_cmd([PY, "-c", code], timeout_s=30, on_line=boom)
    assert not _alive(int(pidfile.read_text()))


def test_a_missing_program_is_a_start_error():
    result = stream_cmd(["/nonexistent/program"], timeout_s=5, on_line=lambda line: None)
    assert result.start_error and not result.ok
