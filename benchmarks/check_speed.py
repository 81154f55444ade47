"""How long `gpudoctor check` takes, next to importing each framework alone, side by side.

Method: each command runs as a fresh child process of this interpreter (so interpreter start-up
and every import are counted, as a user would see them), one untimed warm-up round first (so
the page cache is warm for all of them alike), then N timed rounds; within a round the commands
run one after another, so that load from elsewhere on the machine falls on all of them alike.
The wall time of each run is measured around the child (``gpudoctor.probe.runcmd.run_cmd``);
the median and the minimum are reported. The figure that matters is the full check's median
minus the slowest framework import's median: what gpudoctor adds on top of importing the
frameworks it inspects (the goal is at most 0.3 s). Commands:

  import torch            python -c "import torch"                    (skipped without torch)
  import tensorflow       python -c "import tensorflow"               (skipped without TF)
  ... no teardown         the same, leaving with os._exit(0) as check's children do: the
                          stricter baseline (a plain import also pays for unloading)
  check --no-frameworks   python -m gpudoctor check --no-frameworks   (host, driver, NVML, CUDA)
  check                   python -m gpudoctor check                   (+ PyTorch and TensorFlow)
  torch collect_env       python -m torch.utils.collect_env           (skipped without torch)

Usage: python benchmarks/check_speed.py [-n RUNS] [--no-collect-env]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys

from gpudoctor.probe.runcmd import run_cmd

TIMEOUT_S = 300.0
GOAL_S = 0.3
"""How much the full check may add to the slowest framework import."""


def commands(collect_env: bool) -> dict[str, list[str]]:
    py = sys.executable
    cmds: dict[str, list[str]] = {}
    for module in ("torch", "tensorflow"):
        if importlib.util.find_spec(module) is not None:
            cmds[f"import {module}"] = [py, "-c", f"import {module}"]
            cmds[f"import {module}, no teardown"] = [
                py,
                "-c",
                f"import os, {module}; os._exit(0)",
            ]
    cmds["check --no-frameworks"] = [py, "-m", "gpudoctor", "check", "--no-frameworks"]
    cmds["check"] = [py, "-m", "gpudoctor", "check"]
    if collect_env and importlib.util.find_spec("torch") is not None:
        cmds["torch collect_env"] = [py, "-m", "torch.utils.collect_env"]
    return cmds


def run_once(argv: list[str]) -> float:
    # TF's INFO lines would be on stderr only; the level is the one check's TF child uses.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"}
    result = run_cmd(argv, timeout_s=TIMEOUT_S, env=env)
    if result.timed_out or result.start_error:
        raise SystemExit(f"{argv}: did not finish ({result.start_error or 'timeout'})")
    return result.duration_s


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--no-collect-env", action="store_true", help="skip torch's collect_env")
    args = parser.parse_args()
    cmds = commands(not args.no_collect_env)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {args.runs} rounds"
    )
    for argv in cmds.values():  # warm-up round, not counted
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.runs):
        for name, argv in cmds.items():
            times[name].append(run_once(argv))
    print(f"{'command':32s} {'median s':>9s} {'min s':>7s}")
    for name, values in times.items():
        print(f"{name:32s} {statistics.median(values):9.2f} {min(values):7.2f}")
    check = statistics.median(times["check"])
    for label, teardown in (("", False), (", no teardown", True)):
        imports = [
            statistics.median(v)
            for n, v in times.items()
            if n.startswith("import ") and n.endswith("no teardown") == teardown
        ]
        if imports:
            extra = check - max(imports)
            verdict = "within" if extra <= GOAL_S else "over"
            print(
                f"check minus the slowest framework import{label}: {extra:+.2f} s (median; "
                f"{verdict} the {GOAL_S} s goal)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
