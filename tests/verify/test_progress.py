"""The progress display: plain lines off a terminal, a live line on one, and the time left."""

from __future__ import annotations

import io
import re
from dataclasses import replace

from gpudoctor.verify.model import Settings
from gpudoctor.verify.progress import (
    FRAMEWORK_STARTUP_S,
    MODEL_OVERHEAD_S,
    Estimate,
    PlainProgress,
    RichProgress,
    describe,
    make_progress,
)

SETTINGS = Settings(models=("lenet5", "resnet50"), framework="all", device="all", time_budget_s=4.0)
RUN = {
    "event": "run",
    "run": {
        "model": "lenet5",
        "device": "cpu",
        "role": "main",
        "status": "ok",
        "images_per_second": 1234.5,
        "spread": 0.02,
        "batch_size": 32,
    },
}
SKIP = {
    "event": "run",
    "run": {
        "model": "resnet50",
        "device": "cpu",
        "role": "main",
        "status": "skipped",
        "message": "skipped: projected 9 s [x]",
    },
}


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_estimate_counts_units_as_devices_become_known():
    now = [0.0]
    est = Estimate(SETTINGS, clock=lambda: now[0])
    assert est.total == 2 * 2 * 2  # 2 models x (cpu + a GPU guessed) x 2 frameworks
    est.update("torch", {"event": "start"})
    est.update("torch", {"event": "env", "devices": ["cpu"]})
    assert est.total == 2 * 1 + 2 * 1  # TensorFlow is assumed to see what torch saw
    left = est.remaining()
    est.update("torch", RUN)
    now[0] = 5.0
    assert est.done == 1 and est.remaining() < left and est.elapsed() == 5.0
    est.update("tensorflow", {"event": "missing"})
    assert est.total == 2


QUICK_CPU = Settings(
    models=("lenet5", "vgg16"),
    framework="all",
    device="all",
    quick=True,
    time_budget_s=4.0,
    cpu_time_budget_s=1.5,
    gpu_required=False,
)
ENV_CPU = {"event": "env", "devices": ["cpu"], "env": {"cpu_matmul_flops": 40e9}}


def test_the_estimate_charges_what_will_run_at_each_devices_budget():
    # verify --quick on a CPU said "~2:23 left" for a 24 s run: every unit was charged the
    # GPU's 4 s, and the CPU runs the plan skips were charged in full
    now = [0.0]
    est = Estimate(QUICK_CPU, clock=lambda: now[0])
    est.update("torch", {"event": "start"})
    assert est.left() == "?"  # the devices and the CPU's speed are not known yet
    est.update("torch", ENV_CPU)
    assert est.left() == "0:00:19"
    # at 40 GFLOP/s VGG-16 (31 GFLOP an image) cannot fit 1.5 s even at batch 8: skipped, so
    # only LeNet-5 runs, at the CPU's 1.5 s, in each framework; TensorFlow has yet to start
    per_run = 1.5 + MODEL_OVERHEAD_S
    assert est.remaining() == per_run + FRAMEWORK_STARTUP_S + per_run
    assert est.cost(("torch", "vgg16", "cpu")) == 0.0
    timing = {"event": "phase", "phase": "timing", "model": "lenet5", "device": "cpu"}
    est.update("torch", timing)
    now[0] = 1.0  # one second into LeNet-5's timing: that second is no longer left
    assert est.remaining() == per_run - 1.0 + FRAMEWORK_STARTUP_S + per_run
    now[0] = 30.0  # a run past its budget is charged nothing more, never less than nothing
    assert est.remaining() == FRAMEWORK_STARTUP_S + per_run
    est.update("torch", {"event": "run", "run": {"model": "lenet5", "device": "cpu"}})
    est.update("torch", {"event": "run", "run": {"model": "vgg16", "device": "cpu"}})
    est.update("torch", {"event": "end"})
    assert (est.done, est.total) == (2, 4)
    assert est.remaining() == FRAMEWORK_STARTUP_S + per_run
    est.update("tensorflow", {"event": "start"})
    # the child has started, but importing TensorFlow still takes its time
    assert est.remaining() == FRAMEWORK_STARTUP_S + per_run
    est.update("tensorflow", ENV_CPU)
    assert est.remaining() == per_run
    est.update("tensorflow", {"event": "fatal", "message": "boom"})
    assert est.remaining() == 0.0 and est.done == est.total


def test_with_every_framework_missing_nothing_is_left():
    est = Estimate(QUICK_CPU)
    est.update("torch", {"event": "missing"})
    est.update("tensorflow", {"event": "missing"})
    assert (est.left(), est.total) == ("0:00:00", 0)


def test_a_gpu_unit_is_charged_the_gpu_budget_and_a_cpu_unit_the_cpus():
    est = Estimate(replace(QUICK_CPU, models=("lenet5",), framework="torch"))
    est.update("torch", {"event": "start"})
    # before the child reports, one GPU and the CPU are assumed, every run fitting
    guess = (4.0 + MODEL_OVERHEAD_S) + (1.5 + MODEL_OVERHEAD_S)
    assert est.remaining() == FRAMEWORK_STARTUP_S + guess
    est.update("torch", {**ENV_CPU, "devices": ["cuda:0", "cuda:1", "cpu"]})
    assert est.remaining() == 2 * (4.0 + MODEL_OVERHEAD_S) + (1.5 + MODEL_OVERHEAD_S)
    est.update("torch", {"event": "error", "error": {"model": "lenet5", "device": None}})
    assert est.remaining() == 0.0  # the build failed: nothing of that model will run


def test_plain_lines_name_the_step_and_the_time():
    out = io.StringIO()
    progress = make_progress(SETTINGS, out)
    assert isinstance(progress, PlainProgress)
    progress.event(
        "torch",
        {
            "event": "phase",
            "model": "lenet5",
            "device": "cpu",
            "phase": "timing",
            "batch": 32,
            "budget_s": 4.0,
        },
    )
    progress.event("torch", RUN)
    progress.event("torch", SKIP)
    progress.event("torch", {"event": "peak"})  # no line for it
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("verify: torch lenet5 cpu: timing at batch 32 (up to 4 s) [0:00:0")
    assert "1,234.5 images/s at batch 32 (spread 2%)" in lines[1]
    assert "elapsed, ~" in lines[1] and lines[1].endswith("left]")
    assert "projected 9 s [x]" in lines[2]


def test_on_a_terminal_finished_runs_stay_above_the_live_line():
    out = Tty()
    progress = make_progress(SETTINGS, out)
    assert isinstance(progress, RichProgress)
    progress.event("torch", {"event": "start"})
    progress.event("torch", RUN)
    progress.event("torch", SKIP)
    progress.close()
    text = out.getvalue()
    assert "verify: torch lenet5 cpu: 1,234.5 images/s" in text
    assert "projected 9 s [x]" in text  # brackets printed, not parsed as markup


def _shown(progress: RichProgress, width: int) -> str:
    """The live line as a terminal ``width`` columns wide shows it, colours left out."""
    from rich.console import Console

    seen = io.StringIO()
    Console(file=seen, width=width, color_system=None).print(progress.progress.get_renderable())
    return seen.getvalue()


def test_at_80_columns_a_long_step_is_cut_not_the_counts_and_the_times(monkeypatch):
    # rich squeezed the other columns for the description: "... timing at batch 32 (up to
    # 1.5 s) ━━━━ 1… 0… ~0:00:04 left", the 1/2 and the elapsed time cut to "1…" and "0…"
    monkeypatch.setenv("COLUMNS", "80")
    progress = make_progress(SETTINGS, Tty())
    assert isinstance(progress, RichProgress)
    timing = {"event": "phase", "phase": "timing", "model": "lenet5", "device": "cpu"}
    progress.event("tensorflow", {**timing, "batch": 32, "budget_s": 1.5})
    line = _shown(progress, 80).rstrip("\n")
    progress.close()
    assert len(line) <= 80 and "tensorflow lenet5" in line and "…" in line, line
    assert " 0/8 0:00:00 ~? left" in line, line


def test_a_long_line_above_the_live_line_is_not_cut_at_the_terminal_width(monkeypatch):
    # console.print wrapped an error's message at 80 columns: a path in it, copied, broke
    monkeypatch.setenv("COLUMNS", "80")
    out = Tty()
    progress = make_progress(SETTINGS, out)
    path = "/scratch/a-rather-long-folder-name/another-long-folder-name/weights/resnet50.pt"
    error = {"event": "error", "error": {"model": "resnet50", "device": "cpu", "message": path}}
    progress.event("torch", error)
    progress.close()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert f"verify: torch resnet50 cpu: {path}\n" in shown, shown


def test_a_dumb_terminal_gets_the_plain_lines(monkeypatch):
    # TERM=dumb (Emacs' shell): rich draws no live line there, and verify showed nothing but
    # the finished runs for the whole of its run
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_progress(SETTINGS, Tty()), PlainProgress)
    monkeypatch.setenv("TERM", "xterm-256color")
    progress = make_progress(SETTINGS, Tty())
    assert isinstance(progress, RichProgress)
    progress.close()


def test_a_long_budget_reads_in_seconds_not_in_exponent_notation():
    # --time-budget 2400: the live line read "timing at batch 8 (up to 2.4e+03 s)"
    timing = {"event": "phase", "phase": "timing", "model": "vgg16", "device": "cpu", "batch": 8}
    assert describe("torch", {**timing, "budget_s": 2400.0}).endswith("(up to 2,400 s)")
    assert describe("torch", {**timing, "budget_s": 4 * 2 / 3}).endswith("(up to 2.67 s)")


def test_the_live_line_follows_the_terminal_when_it_is_resized(resize_terminal):
    # the width was read once: narrowed from 120 to 60 columns mid-run, the line squeezed
    # out its spinner, counts and elapsed time ("… (up to 1.5… ~? le…"); widened, it stayed cut
    resize_terminal(120)
    progress = make_progress(SETTINGS, Tty())
    assert isinstance(progress, RichProgress)
    timing = {"event": "phase", "phase": "timing", "model": "lenet5", "device": "cpu"}
    progress.event("tensorflow", {**timing, "batch": 32, "budget_s": 1.5})
    wide = _shown(progress, 120).rstrip("\n")
    resize_terminal(60)
    narrow = _shown(progress, 60).rstrip("\n")
    resize_terminal(200)
    wider = _shown(progress, 200).rstrip("\n")
    progress.close()
    assert "(up to 1.5 s)" in wide and "…" not in wide, wide
    assert len(narrow) <= 60 and "…" in narrow, narrow
    assert narrow.endswith(" 0/8 0:00:00 ~? left"), narrow
    assert "(up to 1.5 s)" in wider and "…" not in wider, wider

    def bar(line: str) -> int:  # the bar's columns: between the text and the 0/8, less a space
        return len(line.rsplit("(up to 1.5 s)", 1)[-1].split(" 0/8", 1)[0]) - 1

    assert bar(wide) == 15 and bar(wider) == 25, (wide, wider)  # the bar follows too
