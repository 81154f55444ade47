"""Framework probes: import PyTorch / TensorFlow in a child of the inspected interpreter."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.report import FrameworkInfo, LibraryInfo
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import hung_message, run_json_child
from gpudoctor.probe.runcmd import KILL_GRACE_S

SCRIPTS = {"torch": "torch_probe.py", "tensorflow": "tf_probe.py"}
GATE_ENV = "GPUDOCTOR_PROBE_GATE"
"""The file a framework child waits for between its import and its first CUDA call."""


@dataclass
class Gate:
    """Lets a framework child import its framework at once but touch the GPU only when told.

    The import is most of a child's time; NVML must have finished before any child creates a
    CUDA context (it would list the child as a process holding GPU memory), and on a GPU in an
    exclusive compute mode the children take turns. The parent writes ``go`` or ``skip``
    (NVML hung: CUDA would hang too) into the file; the child polls for it.
    """

    path: Path
    budget_s: float | None = None
    """The child's own time limit, counted from the opening: waiting at the gate does not use
    it up (the child's overall limit is this plus the longest the gate can stay shut)."""
    opened: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    _timer: threading.Timer | None = None

    def open(self, verdict: str = "go") -> None:
        """Let the child go on (``go``) or stop before the GPU (``skip``); only the first call
        counts. ``go`` starts the child's budget."""
        if self.opened:
            return
        self.opened = True
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(verdict, encoding="ascii")
        tmp.replace(self.path)  # atomic: the child never reads half a word
        if verdict == "go" and self.budget_s is not None:
            self._timer = threading.Timer(self.budget_s, self.cancel.set)
            self._timer.daemon = True
            self._timer.start()

    def close(self) -> None:
        """Stop the budget's timer (the child has answered)."""
        if self._timer is not None:
            self._timer.cancel()

    def wait(self, timeout_s: float) -> str:
        """What the child does (used by in-process fakes): the verdict, or ``skip`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while not self.path.exists():
            if time.monotonic() > deadline:
                return "skip"
            time.sleep(0.01)
        return self.path.read_text(encoding="ascii").strip() or "go"


# Level 1 drops TF's INFO chatter but keeps the W-level lines that name the libraries it could
# not dlopen ("Could not load dynamic library ...", "Cannot dlopen some GPU libraries"); level 2
# would hide exactly those. Allow-growth keeps TF's 64x64 smoke test from reserving nearly all
# of every GPU's memory (its default) while the user's own jobs may be running.
TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}

_COULD_NOT_LOAD = re.compile(r"Could not load dynamic library '([^']+)'; dlerror: (.*)")
_CANNOT_DLOPEN = re.compile(r"(Cannot dlopen some GPU libraries.*?)(?:\s+Skipping registering.*)?$")


def parse_tf_stderr(stderr: str) -> tuple[tuple[LibraryInfo, ...], str | None]:
    """Libraries TF's loader named as missing, and its summary line, from TF's log output."""
    failed: list[LibraryInfo] = []
    summary = None
    for line in stderr.splitlines():
        m = _COULD_NOT_LOAD.search(line)
        if m:
            soname = m.group(1)
            failed.append(
                LibraryInfo(name=_library_name(soname), soname=soname, error=m.group(2).strip())
            )
            continue
        m = _CANNOT_DLOPEN.search(line)
        if m and summary is None:
            summary = m.group(1).strip()
    return tuple(failed), summary


def _library_name(soname: str) -> str:
    base = soname.split(".so", maxsplit=1)[0].split(".dll", maxsplit=1)[0].removeprefix("lib")
    return re.sub(r"64_\d+$", "", base).lower()


def probe_framework(ctx: ProbeContext, name: str, gate: Gate | None = None) -> FrameworkInfo:
    """One framework as a fresh ``python`` of the inspected environment sees it; with ``gate``
    the child imports at once and waits for it before its first CUDA call."""
    extra = dict(TF_ENV) if name == "tensorflow" else {}
    if gate is None:
        outcome = run_json_child(ctx, ctx.python, SCRIPTS[name], extra_env=extra)
    else:
        extra[GATE_ENV] = str(gate.path)
        # the gate stays shut at most as long as NVML may take (its timeout and the grace to
        # kill it); after it opens, the child has its own ctx.timeout_s, as when it started
        # only after NVML
        outcome = run_json_child(
            ctx,
            ctx.python,
            SCRIPTS[name],
            extra_env=extra,
            timeout_s=2 * ctx.timeout_s + KILL_GRACE_S,
            cancel=gate.cancel,
        )
        gate.close()
    if outcome.timed_out:
        what = f"import {name} (and a tiny GPU computation)"
        return FrameworkInfo(
            name=name,
            status="timeout",
            message=hung_message(what, ctx.timeout_s, abandoned=outcome.result.abandoned),
            duration_s=outcome.result.duration_s,
        )
    if outcome.data is None:
        return FrameworkInfo(
            name=name,
            status="crashed",
            message=f"the {name} probe crashed: {outcome.error}",
            duration_s=outcome.result.duration_s,
        )
    try:
        info = from_dict(FrameworkInfo, outcome.data)
    except ReportFormatError as exc:
        return FrameworkInfo(name=name, status="crashed", message=f"bad probe output: {exc}")
    if name == "tensorflow":
        info = _merge_tf_log(info, outcome.result.stderr)
    return info


def _merge_tf_log(info: FrameworkInfo, stderr: str) -> FrameworkInfo:
    logged, summary = parse_tf_stderr(stderr)
    known = {lib.soname for lib in info.failed_libraries}
    failed = info.failed_libraries + tuple(lib for lib in logged if lib.soname not in known)
    return dataclasses.replace(info, failed_libraries=failed, init_error=info.init_error or summary)
