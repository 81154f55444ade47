"""What verify shows on stderr while it runs: a live display on a terminal, plain lines else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from gpudoctor.liveline import fitted_bar, fitted_text, live_terminal
from gpudoctor.verify.model import Settings

FRAMEWORK_STARTUP_S = 10.0
MODEL_OVERHEAD_S = 3.0
"""Build and correctness pass per model and device, on top of its time budget."""

Unit = tuple[str, str, str]
"""(framework, model, device): one timed run."""


def _clock(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _seconds(value: float) -> str:
    """A budget as it reads: ``2.67``, ``2,400`` (``.3g`` alone wrote 2400 as ``2.4e+03``)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _bar_width(width: int) -> int:
    """The live line's bar at a terminal width."""
    return min(40, max(10, width // 8))


def _guess_devices(device: str) -> list[str]:
    """The devices a framework will run before it says which it sees: one GPU assumed."""
    if device == "cpu":
        return ["cpu"]
    if device.startswith("cuda:"):
        return [device]
    return ["cuda:0"] if device == "cuda" else ["cuda:0", "cpu"]


class Estimate:
    """Units of work (a model on a device in a framework) done and left, and the time left.

    The time left charges each unit what will really run: a GPU unit the GPU budget, a CPU unit
    the CPU's (1.5 s under ``--quick``), and a CPU unit that the plan skips nothing (the child
    plans from the matmul rate in its ``env`` event, and so does this); the unit being timed is
    charged only what is left of its budget.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self._clock, self.start = settings, clock, clock()
        self.devices = {fw: _guess_devices(settings.device) for fw in settings.frameworks}
        self.known: set[str] = set()
        """Frameworks that said which devices they see (their ``env``)."""
        self.cpu_flops: dict[str, float] = {}
        self.ended: set[str] = set()
        self.finished: set[Unit] = set()
        self.timing: tuple[Unit, float] | None = None
        """The unit being timed, and since when."""

    def _units(self, framework: str) -> list[Unit]:
        return [(framework, m, d) for m in self.settings.models for d in self.devices[framework]]

    @property
    def total(self) -> int:
        """Units planned so far (GPU counts are known once a child reports them)."""
        return sum(len(self._units(fw)) for fw in self.devices)

    @property
    def done(self) -> int:
        """Units finished, or abandoned with their framework."""
        return sum(
            1
            for fw in self.devices
            for unit in self._units(fw)
            if fw in self.ended or unit in self.finished
        )

    def elapsed(self) -> float:
        """Seconds since verify started."""
        return self._clock() - self.start

    def cost(self, unit: Unit) -> float:
        """Seconds ``unit`` will take: its device's budget and the build, or 0 when skipped."""
        framework, model, device = unit
        if device != "cpu":
            return self.settings.time_budget_s + MODEL_OVERHEAD_S
        if self._cpu_skipped(framework, model):
            return 0.0
        return self.settings.cpu_budget_s + MODEL_OVERHEAD_S

    def _cpu_skipped(self, framework: str, model: str) -> bool:
        # The framework's own matmul rate once it is known, another's meanwhile (the same CPU);
        # with none known yet, every CPU run is assumed to fit.
        rates = [self.cpu_flops.get(framework), *self.cpu_flops.values()]
        rate = next((r for r in rates if r), None)
        if rate is None:
            return False
        from gpudoctor.refmodels import get_spec
        from gpudoctor.verify import plan

        flops = 2.0 * get_spec(model).macs * (3 if self.settings.mode == "training" else 1)
        cpu = plan.plan_cpu(
            flops, rate, self.settings.cpu_budget_s, override=self.settings.batch_size
        )
        return cpu.batch is None

    def remaining(self) -> float:
        """Seconds left: every unit still to run at its cost, the one being timed at what is
        left of it, and the start-up of each framework that has not reported its devices."""
        left = 0.0
        for fw in self.devices:
            if fw in self.ended:
                continue
            if fw not in self.known:  # started is not enough: the imports take the time
                left += FRAMEWORK_STARTUP_S
            left += sum(self.cost(u) for u in self._units(fw) if u not in self.finished)
        if self.timing is not None and self.timing[0] not in self.finished:
            unit, since = self.timing
            if unit[0] not in self.ended:
                left -= min(self._clock() - since, self.cost(unit))
        return max(left, 0.0)

    def left(self) -> str:
        """``remaining`` as ``H:MM:SS``, or ``?`` until a child has said which devices it sees
        and how fast the CPU multiplies: before that the devices and the skips are guesses."""
        if not self.known and not self.ended.issuperset(self.devices):
            return "?"
        return _clock(self.remaining())

    def update(self, framework: str, event: dict[str, Any]) -> None:
        """Count what the event finished."""
        kind = event.get("event")
        if kind == "missing":
            self.ended.add(framework)
            self.devices[framework] = []
        elif kind == "env":
            self.devices[framework] = [str(d) for d in event.get("devices", [])]
            self.known.add(framework)
            rate = (event.get("env") or {}).get("cpu_matmul_flops")
            if isinstance(rate, int | float) and rate > 0:
                self.cpu_flops[framework] = float(rate)
            for fw in self.devices:  # the others will most likely see the same devices
                if fw not in self.known and fw not in self.ended:
                    self.devices[fw] = list(self.devices[framework])
        elif kind == "phase" and event.get("phase") == "timing":
            unit = (framework, str(event.get("model")), str(event.get("device")))
            if self.timing is None or self.timing[0] != unit:  # a GPU's common batch: same unit
                self.timing = (unit, self._clock())
        elif kind == "run" and event["run"].get("role", "main") == "main":
            run = event["run"]
            self.finished.add((framework, str(run.get("model")), str(run.get("device"))))
        elif kind == "error":
            err = event["error"]
            model, device = err.get("model"), err.get("device")
            if model and device:
                self.finished.add((framework, str(model), str(device)))
            elif model:  # the model failed before any device ran: none of its units will
                self.finished.update(u for u in self._units(framework) if u[1] == model)
        elif kind in ("end", "fatal"):
            self.ended.add(framework)


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
            budget = _seconds(event.get("budget_s", 0))
            return f"{head} at batch {event.get('batch')} (up to {budget} s)"
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
        self.out.write(f"verify: {line} [{_clock(e.elapsed())} elapsed, ~{e.left()} left]\n")
        self.out.flush()

    def close(self) -> None:
        """Nothing to tear down."""


class RichProgress:
    """A live line with a bar: model, framework, device, step, elapsed and remaining."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
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
            # the spinner, the bar, 12/12, the elapsed and the time left keep their room
            fitted_text(self.console, reserve=lambda width: _bar_width(width) + 36),
            fitted_bar(self.console, _bar_width),
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
            # soft_wrap: a long line (an error naming a path) is not cut at the terminal's width
            self.progress.console.print(Text("verify: ", style="dim") + Text(line), soft_wrap=True)
        elif line is not None:
            self.progress.update(self.task, description=line)
        e = self.estimate
        self.progress.update(self.task, total=e.total, completed=e.done, left=e.left())

    def close(self) -> None:
        """Remove the live line."""
        self.progress.stop()


def make_progress(settings: Settings, out: TextIO) -> PlainProgress | RichProgress:
    """The live display on a terminal, plain lines otherwise (a ``TERM=dumb`` one included)."""
    if live_terminal(out):
        return RichProgress(settings, out)
    return PlainProgress(settings, out)
