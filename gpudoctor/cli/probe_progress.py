"""What check shows on a terminal's stderr while its probes run: which are still going, how long."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Task

    from gpudoctor.model.report import ProbeRun

LABELS = {
    "host": "host",
    "kernel_driver": "kernel driver",
    "nvml": "NVML",
    "cuda": "CUDA libraries",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
}


def describe(pending: Iterable[str], timeout_s: float, room: int | None = None) -> str:
    """The live line: the probes still running, and when gpudoctor gives up on one.

    Within ``room`` columns the names give way first (``+N more``): cut at its end, the line
    lost the limit, the part that says how long a slow probe may still take.
    """
    names = [LABELS.get(name, name) for name in pending]
    if not names:
        return "diagnosing"
    limit = f" (limit {timeout_s:.0f} s each)"
    text = ""
    for shown in range(len(names), 0, -1):
        more = f" +{len(names) - shown} more" if shown < len(names) else ""
        text = f"checking {', '.join(names[:shown])}{more}{limit}"
        if room is None or len(text) <= room:
            break
    return text  # one name and the limit still too wide: the live line cuts it at its end


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

        def words(task: Task, room: int) -> str:  # fitted at every redraw, to its width then
            return describe(task.fields["pending"], timeout_s, room)

        self._progress = Progress(
            SpinnerColumn(),
            fitted_text(console, reserve=12, words=words),  # the spinner and the elapsed time
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(
            describe(self._pending, timeout_s), total=None, pending=tuple(self._pending)
        )
        self._progress.start()

    def done(self, run: ProbeRun) -> None:
        """Drop a finished probe from the line (called from the probes' worker threads)."""
        with self._lock:
            if run.name in self._pending:
                self._pending.remove(run.name)
            text, pending = describe(self._pending, self._timeout_s), tuple(self._pending)
        self._progress.update(self._task, description=text, pending=pending)

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
