"""Run one of the probe scripts in gpudoctor/probe/children and read the JSON it prints."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.runcmd import CmdResult, how_it_ended, stopping

CHILDREN = Path(__file__).resolve().parent / "children"


def script(name: str) -> str:
    """The absolute path of a child script, e.g. ``cuda_probe.py``."""
    return str(CHILDREN / name)


def hung_message(what: str, timeout_s: float, *, abandoned: bool) -> str:
    """What a probe child that ran out of time did, as fact; the rules judge why it happened.

    The rules read the two phrases ("did not answer within", "could not be killed").
    """
    text = f"{what} did not answer within {timeout_s:.0f} s"
    if abandoned:
        text += " (the probe process could not be killed: it is stuck inside the kernel)"
    return text


@dataclass(frozen=True)
class ChildOutcome:
    """What a probe child printed, or why it printed nothing usable."""

    data: dict[str, Any] | None
    result: CmdResult
    error: str | None = None
    """``None`` when ``data`` is set; else a one-line reason (start failure, crash, bad JSON)."""

    @property
    def timed_out(self) -> bool:
        return self.result.timed_out


def run_json_child(
    ctx: ProbeContext,
    python: str,
    name: str,
    *,
    timeout_s: float | None = None,
    extra_env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> ChildOutcome:
    """Run ``python children/<name>`` with the user's environment; parse its last JSON line.

    ``cancel``, when set from another thread, ends the child like a timeout (a deadline that
    started late, see gpudoctor.probe.frameworks.Gate); not when gpudoctor itself is exiting.
    """
    env = dict(ctx.env)
    env.update(extra_env or {})
    argv = [python, script(name)]
    limit = timeout_s or ctx.timeout_s
    if cancel is None:
        result = ctx.run(argv, timeout_s=limit, env=env)
    else:
        result = ctx.run(argv, timeout_s=limit, env=env, cancel=cancel)
        if result.cancelled and cancel.is_set() and not stopping():
            result = dataclasses.replace(result, timed_out=True, cancelled=False)
    if result.timed_out:
        return ChildOutcome(None, result, "timeout")
    if result.start_error is not None:
        return ChildOutcome(None, result, f"could not start {python}: {result.start_error}")
    # Libraries sometimes print to stdout on import; the child's JSON is its last line.
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):  # not JSON; 4,300+ digits; nested too deep
                break
            if isinstance(data, dict):
                return ChildOutcome(data, result)
            break
    tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
    return ChildOutcome(None, result, f"the probe process {_ended(result.returncode)}: {tail[0]}")


def _ended(returncode: int | None) -> str:
    """``exited with status 1``, or ``was killed by SIGILL`` (a status of -4 read as an exit
    code, where the kernel had stopped the framework for an instruction the CPU lacks)."""
    ended = how_it_ended(returncode)
    return ended if ended.startswith("exited") else f"was {ended}"
