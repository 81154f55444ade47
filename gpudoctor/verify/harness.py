"""The parent side of verify: one child per framework, its JSON lines turned into measurements."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from gpudoctor.errors import BadInputError, ReportFormatError
from gpudoctor.model.serialize import from_dict
from gpudoctor.model.times import utc_stamp
from gpudoctor.probe.runcmd import CmdResult, how_it_ended, stream_cmd
from gpudoctor.verify import plan
from gpudoctor.verify.model import (
    Comparison,
    FrameworkEnv,
    HarnessError,
    Peak,
    Run,
    Settings,
    VerifyResult,
)

_MODULES = {"torch": "torch", "tensorflow": "tensorflow"}
STARTUP_ALLOWANCE_S = 300.0
PER_MODEL_ALLOWANCE_S = 120.0
"""Building VGG-16 or ResNet-152, the correctness pass and the weight files, per model."""

Streamer = Callable[..., CmdResult]


class Progress(Protocol):
    """Where the harness reports what it is doing (progress.py has the terminal ones)."""

    def event(self, framework: str, event: dict[str, Any]) -> None: ...


@dataclass
class _Collected:
    framework: str
    env: FrameworkEnv | None = None
    devices: list[str] = field(default_factory=list)
    peaks: list[Peak] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    errors: list[HarnessError] = field(default_factory=list)
    fatal: str | None = None
    done: bool = False


def cpu_threads() -> int:
    """Every core this process may use (affinity and cgroup CPU sets included)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def child_timeout(settings: Settings) -> float:
    """A generous deadline for one framework child: budgets for every device, plus build time."""
    per_model = PER_MODEL_ALLOWANCE_S + 4 * settings.time_budget_s
    return STARTUP_ALLOWANCE_S + len(settings.models) * per_model


def child_env() -> dict[str, str]:
    """The parent's environment, with TensorFlow quiet and CUDA ordinals in NVML's (PCI) order."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_verify(
    settings: Settings,
    progress: Progress,
    *,
    python: str = sys.executable,
    stream: Streamer = stream_cmd,
) -> VerifyResult:
    """Run every framework's child in turn and gather what they measured."""
    started, t0 = dt.datetime.now(dt.timezone.utc), time.monotonic()
    collected: list[_Collected] = []
    with tempfile.TemporaryDirectory(prefix="gpudoctor-verify-") as parity_dir:
        installed = {fw for fw in settings.frameworks if importlib.util.find_spec(_MODULES[fw])}
        both = installed == set(_MODULES)
        for fw in settings.frameworks:
            if fw not in installed:
                col = _Collected(fw, env=FrameworkEnv(framework=fw, installed=False))
                progress.event(fw, {"event": "missing"})
                collected.append(col)
                continue
            parity = ("write" if fw == "torch" else "read") if both else None
            config = {
                "models": list(settings.models),
                "device": settings.device,
                "mode": settings.mode,
                "precision": settings.precision,
                "layout": settings.layout,
                "batch_size": settings.batch_size,
                "budget_s": settings.time_budget_s,
                "cpu_budget_s": settings.cpu_budget_s,
                "max_blocks": plan.max_blocks_for(settings.quick),
                "threads": cpu_threads(),
                "parity": parity,
                "parity_dir": parity_dir if parity else None,
            }
            argv = [python, "-m", "gpudoctor.verify.children", fw, json.dumps(config)]
            col = _Collected(fw)
            collected.append(col)
            progress.event(fw, {"event": "start"})
            result = stream(
                argv,
                timeout_s=child_timeout(settings),
                on_line=lambda line, c=col: _on_line(c, line, settings, progress),
                env=child_env(),
            )
            _finish(col, result, settings)
            progress.event(fw, {"event": "end"})
    return VerifyResult(
        settings=settings,
        frameworks=tuple(c.env for c in collected if c.env is not None),
        peaks=tuple(p for c in collected for p in c.peaks),
        runs=tuple(r for c in collected for r in c.runs),
        comparisons=tuple(x for c in collected for x in c.comparisons),
        errors=tuple(e for c in collected for e in c.errors),
        cpu_count=cpu_threads(),
        started_at=utc_stamp(started),
        duration_s=round(time.monotonic() - t0, 2),
    )


def _on_line(col: _Collected, line: str, settings: Settings, progress: Progress) -> None:
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        # not ours: a library wrote to the protocol stream before it was redirected (a number
        # of 4,300+ digits and deep nesting raise these, not JSONDecodeError)
        return
    if not isinstance(event, dict):
        return
    kind = event.get("event")
    try:
        if kind == "env":
            col.env = from_dict(FrameworkEnv, event["env"])
            col.devices = [str(d) for d in event.get("devices", [])]
            _check_index(settings.device, col.env)
        elif kind == "peak":
            col.peaks.append(from_dict(Peak, event["peak"]))
        elif kind == "run":
            col.runs.append(from_dict(Run, event["run"]))
        elif kind == "comparison":
            col.comparisons.append(from_dict(Comparison, event["comparison"]))
        elif kind == "error":
            col.errors.append(from_dict(HarnessError, event["error"]))
        elif kind == "fatal":
            col.fatal = str(event.get("message", "unknown failure"))
        elif kind == "done":
            col.done = True
    except (ReportFormatError, KeyError) as exc:
        col.errors.append(
            HarnessError(framework=col.framework, phase="protocol", message=f"bad event: {exc}")
        )
        return
    progress.event(col.framework, event)


def _check_index(device: str, env: FrameworkEnv) -> None:
    """``cuda:N`` past the last GPU is a typo, not a broken install: say so and stop."""
    if not device.startswith("cuda:") or not env.gpus:
        return
    if device not in {g.device for g in env.gpus}:
        have = ", ".join(g.device for g in env.gpus)
        raise BadInputError(f"no device {device}: {env.framework} sees {have}")


def _finish(col: _Collected, result: CmdResult, settings: Settings) -> None:
    """Turn a child that crashed, timed out or gave up into a framework-level error."""
    why = None
    if result.start_error:
        why = f"could not start: {result.start_error}"
    elif result.timed_out:
        # "timed out after 780 s" said neither where the limit came from nor what to do
        why = (
            f"timed out after {result.duration_s:.0f} s, verify's deadline for it "
            f"({STARTUP_ALLOWANCE_S:.0f} s to start, then {PER_MODEL_ALLOWANCE_S:.0f} s + "
            f"4 x --time-budget ({settings.time_budget_s:g} s) a model)"
            + (" and would not die (left behind)" if result.abandoned else "")
            + ": a GPU or driver that stopped answering, or an import that hung; "
            "`gpudoctor check` looks at both"
        )
    elif col.fatal:
        why = col.fatal
    elif not col.done:
        why = how_it_ended(result.returncode, " before finishing")
    if why is None:
        return
    tail = result.stderr.strip().splitlines()[-1:] if result.stderr else []
    if tail and not col.fatal:
        why += f" ({tail[0][:300]})"
    env = col.env or FrameworkEnv(framework=col.framework)
    col.env = replace(env, error=why, stderr_tail=result.stderr[-2000:])
