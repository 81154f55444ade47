"""check's live probe line: shown on a terminal only, lists what is still running, then vanishes."""

from __future__ import annotations

import io

from gpudoctor.cli.probe_progress import describe, make_probe_progress
from gpudoctor.model.report import ProbeRun


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_describe_names_the_pending_probes_and_the_limit():
    assert describe(["nvml", "torch"], 60) == "checking NVML, PyTorch (limit 60 s each)"
    assert describe([], 60) == "diagnosing"


def test_nothing_is_written_to_a_pipe():
    out = io.StringIO()
    assert make_probe_progress(["nvml"], out, timeout_s=60) is None
    assert out.getvalue() == ""


def test_a_terminal_sees_the_pending_probes_shrink(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = FakeTerminal()
    progress = make_probe_progress(["nvml", "torch", "tensorflow"], out, timeout_s=30)
    assert progress is not None
    progress.done(ProbeRun(name="nvml", status="ok", duration_s=0.1))
    progress._progress.refresh()
    progress.done(ProbeRun(name="torch", status="ok", duration_s=0.1))
    progress._progress.refresh()
    progress.close()
    shown = out.getvalue()
    assert "checking NVML, PyTorch, TensorFlow (limit 30 s each)" in shown
    assert "checking PyTorch, TensorFlow" in shown
    assert "checking TensorFlow (limit 30 s each)" in shown
    # transient: at the end rich shows the cursor again (ESC[?25h), goes back up to the probe
    # line (CR, ESC[1A) and erases it (ESC[2K), so the report starts on a clean line
    assert shown.endswith("\x1b[?25h\r\x1b[1A\x1b[2K")


def test_at_80_columns_the_line_is_cut_and_keeps_its_spinner_and_elapsed_time(monkeypatch):
    # the first line, every probe pending, was wider than 80 columns: rich dropped the spinner
    # and the elapsed time and cut the text before its "(limit 60 s each)"
    from rich.console import Console

    monkeypatch.setenv("COLUMNS", "80")
    names = ["host", "kernel_driver", "nvml", "hardware", "cuda", "torch", "tensorflow"]
    progress = make_probe_progress(names, FakeTerminal(), timeout_s=60)
    assert progress is not None
    seen = io.StringIO()
    Console(file=seen, width=80, color_system=None).print(progress._progress.get_renderable())
    progress.close()
    line = seen.getvalue().rstrip("\n")
    assert len(line) <= 80 and line.startswith(("⠋ checking host", "⠙ checking host")), line
    # the names give way first ("+N more"), so the limit survives: it was cut at 80 columns
    assert line.endswith(" more (limit 60 s each) 0:00:00") and "…" not in line, line


def test_a_dumb_terminal_gets_no_live_line(monkeypatch):
    # TERM=dumb: rich drew nothing but left a blank line before the report
    monkeypatch.setenv("TERM", "dumb")
    out = FakeTerminal()
    assert make_probe_progress(["nvml"], out, timeout_s=60) is None
    assert out.getvalue() == ""


def test_describe_shortens_the_names_before_the_limit_to_fit_its_room():
    names = ["host", "kernel_driver", "nvml", "hardware", "cuda", "torch", "tensorflow"]
    full = describe(names, 60)
    assert describe(names, 60, room=len(full)) == full
    short = describe(names, 60, room=60)
    assert short == "checking host, kernel driver, NVML +4 more (limit 60 s each)", short
    assert describe(names, 60, room=20) == "checking host +6 more (limit 60 s each)"  # cut later


def test_the_probe_line_follows_the_terminal_when_it_is_resized(resize_terminal):
    # narrowed from 120 to 60 columns, the line lost its spinner, elapsed time and limit
    from rich.console import Console

    def shown(width: int) -> str:
        resize_terminal(width)
        seen = io.StringIO()
        Console(file=seen, width=width, color_system=None).print(
            progress._progress.get_renderable()
        )
        return seen.getvalue().rstrip("\n")

    resize_terminal(120)
    names = ["host", "kernel_driver", "nvml", "hardware", "cuda", "torch", "tensorflow"]
    progress = make_probe_progress(names, FakeTerminal(), timeout_s=60)
    assert progress is not None
    wide, narrow = shown(120), shown(60)
    progress.close()
    assert "TensorFlow (limit 60 s each) 0:00:00" in wide, wide
    assert len(narrow) <= 60 and narrow.endswith(" more (limit 60 s each) 0:00:00"), narrow
