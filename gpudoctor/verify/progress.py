"""What verify shows on stderr while it runs: a live display on a terminal, plain lines else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from gpudoctor.verify.model import Settings

FRAMEWORK_STARTUP_S = 10.0
MODEL_OVERHEAD_S = 3.0
"""Build and correctness pass per model and device, on top of its time budget."""


def _clock(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Estimate:
    """Units of work (a model on a device in a framework) done and left, and the time left."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self._clock, self.start = settings, clock, clock()
        guess = 2 if settings.device == "all" else 1
        self.devices = dict.fromkeys(settings.frameworks, guess)
        self.started: set[str] = set()
        self.done = 0

    @property
    def total(self) -> int:
        """Units planned so far (GPU counts are known once a child reports them)."""
        return len(self.settings.models) * sum(self.devices.values())

    def elapsed(self) -> float:
        """Seconds since verify started."""
        return self._clock() - self.start

    def remaining(self) -> float:
        """Seconds left if every remaining unit uses its budget."""
        units = max(self.total - self.done, 0)
        pending = len(set(self.devices) - self.started)
        per_unit = self.settings.time_budget_s + MODEL_OVERHEAD_S
        return units * per_unit + pending * FRAMEWORK_STARTUP_S

    def update(self, framework: str, event: dict[str, Any]) -> None:
        """Count what the event finished."""
        kind = event.get("event")
        if kind == "start":
            self.started.add(framework)
        elif kind == "missing":
            self.started.add(framework)
            self.devices[framework] = 0
        elif kind == "env":
            self.devices[framework] = len(event.get("devices", [])) or 0
        elif _finishes_unit(kind, event):
            self.done += 1


def _finishes_unit(kind: object, event: dict[str, Any]) -> bool:
    if kind == "run":
        return bool(event["run"].get("role") == "main")
    return kind == "error" and bool(event["error"].get("device"))


def describe(framework: str, event: dict[str, Any]) -> str | None:
    """One line for the events worth a line; None for the others."""
    kind = event.get("event")
    if kind == "start":
        return f"{framework}: starting"
    if kind == "missing":
        return f"{framework}: not installed, skipped"
    if kind == "phase":
        what = event.get("phase", "")
        head = f"{framework} {event.get('model')} {event.get('device')}: {what}"
        if what == "timing":
            return f"{head} at batch {event.get('batch')} (up to {event.get('budget_s', 0):.3g} s)"
        return head
    if kind == "run":
        run = event["run"]
        head = f"{framework} {run['model']} {run['device']}"
        if run.get("status") == "skipped":
            return f"{head}: {run.get('message')}"
        ips, spread = run.get("images_per_second") or 0.0, run.get("spread") or 0.0
        return f"{head}: {ips:,.1f} images/s at batch {run['batch_size']} (spread {spread:.0%})"
    if kind == "error":
        err = event["error"]
        return f"{framework} {err.get('model') or ''} {err.get('device') or ''}: {err['message']}"
    if kind == "fatal":
        return f"{framework}: failed: {event.get('message')}"
    return None


class PlainProgress:
    """One line per step, for logs and pipes."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        self.estimate, self.out = Estimate(settings), out

    def event(self, framework: str, event: dict[str, Any]) -> None:
        """Print the event's line with the elapsed and remaining time."""
        self.estimate.update(framework, event)
        line = describe(framework, event)
        if line is None:
            return
        e = self.estimate
        self.out.write(
            f"verify: {line} [{_clock(e.elapsed())} elapsed, ~{_clock(e.remaining())} left]\n"
        )
        self.out.flush()

    def close(self) -> None:
        """Nothing to tear down."""


class RichProgress:
    """A live line with a bar: model, framework, device, step, elapsed and remaining."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.estimate = Estimate(settings)
        self.console = Console(file=out)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("~{task.fields[left]} left"),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=self.estimate.total, left="?")
        self.progress.start()

    def event(self, framework: str, event: dict[str, Any]) -> None:
        """Update the live line; keep finished runs, skips and errors above it."""
        self.estimate.update(framework, event)
        line = describe(framework, event)
        kind = event.get("event")
        if line is not None and kind in ("run", "error", "fatal", "missing"):
            from rich.text import Text

            # Text, not markup: error messages may hold brackets rich would parse.
            self.progress.console.print(Text("verify: ", style="dim") + Text(line))
        elif line is not None:
            self.progress.update(self.task, description=line)
        e = self.estimate
        self.progress.update(self.task, total=e.total, completed=e.done, left=_clock(e.remaining()))

    def close(self) -> None:
        """Remove the live line."""
        self.progress.stop()


def make_progress(settings: Settings, out: TextIO) -> PlainProgress | RichProgress:
    """The live display on a terminal, plain lines otherwise."""
    if out.isatty():
        return RichProgress(settings, out)
    return PlainProgress(settings, out)
