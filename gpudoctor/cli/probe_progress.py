"""What check shows on a terminal's stderr while its probes run: which are still going, how long."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from gpudoctor.model.report import ProbeRun

LABELS = {
    "host": "host",
    "kernel_driver": "kernel driver",
    "nvml": "NVML",
    "cuda": "CUDA libraries",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
}


def describe(pending: Iterable[str], timeout_s: float) -> str:
    """The live line: the probes still running, and when gpudoctor gives up on one."""
    names = [LABELS.get(name, name) for name in pending]
    if not names:
        return "diagnosing"
    return f"checking {', '.join(names)} (limit {timeout_s:.0f} s each)"


class ProbeProgress:
    """A transient spinner line; a slow NVML or framework import is then visibly slow, not hung."""

    def __init__(self, names: Iterable[str], out: TextIO, *, timeout_s: float) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

        from gpudoctor.liveline import fitted_text

        self._pending = list(names)
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        console = Console(file=out)
        self._progress = Progress(
            SpinnerColumn(),
            fitted_text(console.width, reserve=12),  # the spinner and the elapsed time
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(describe(self._pending, timeout_s), total=None)
        self._progress.start()

    def done(self, run: ProbeRun) -> None:
        """Drop a finished probe from the line (called from the probes' worker threads)."""
        with self._lock:
            if run.name in self._pending:
                self._pending.remove(run.name)
            text = describe(self._pending, self._timeout_s)
        self._progress.update(self._task, description=text)

    def close(self) -> None:
        """Remove the line before the report is printed."""
        self._progress.stop()


def make_probe_progress(
    names: Iterable[str], out: TextIO, *, timeout_s: float
) -> ProbeProgress | None:
    """A live line when ``out`` is a terminal; None for pipes and logs, which get nothing."""
    from gpudoctor.liveline import live_terminal

    if not live_terminal(out):  # a TERM=dumb terminal draws no live line
        return None
    return ProbeProgress(names, out, timeout_s=timeout_s)
