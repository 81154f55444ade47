"""The progress display: plain lines off a terminal, a live line on one, and the time left."""

from __future__ import annotations

import io

from gpudoctor.verify.model import Settings
from gpudoctor.verify.progress import Estimate, PlainProgress, RichProgress, make_progress

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
    assert est.total == 2 * 1 + 2 * 2
    left = est.remaining()
    est.update("torch", RUN)
    now[0] = 5.0
    assert est.done == 1 and est.remaining() < left and est.elapsed() == 5.0
    est.update("tensorflow", {"event": "missing"})
    assert est.total == 2


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
