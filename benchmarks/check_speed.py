"""How long `gpudoctor check` takes, next to PyTorch's own `python -m torch.utils.collect_env`.

Method: each command runs as a fresh child process of this interpreter (so interpreter start-up
and every import are counted, as a user would see them), one untimed warm-up run first (so the
page cache is warm for all of them alike), then N timed runs one after another; the wall time
of each run is measured around the child (``gpudoctor.probe.runcmd.run_cmd``), and the median
and the minimum are reported. The minimum is the least disturbed by other load on the machine;
the median is what to expect. Commands:

  check --no-frameworks   python -m gpudoctor check --no-frameworks   (host, driver, NVML, CUDA)
  check                   python -m gpudoctor check                   (+ PyTorch and TensorFlow)
  torch collect_env       python -m torch.utils.collect_env           (skipped without torch)

Usage: python benchmarks/check_speed.py [-n RUNS]
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys

from gpudoctor.probe.runcmd import run_cmd

TIMEOUT_S = 300.0


def commands() -> dict[str, list[str]]:
    py = sys.executable
    cmds = {
        "check --no-frameworks": [py, "-m", "gpudoctor", "check", "--no-frameworks"],
        "check": [py, "-m", "gpudoctor", "check"],
    }
    if importlib.util.find_spec("torch") is not None:
        cmds["torch collect_env"] = [py, "-m", "torch.utils.collect_env"]
    return cmds


def time_command(argv: list[str], runs: int) -> list[float]:
    run_cmd(argv, timeout_s=TIMEOUT_S)  # warm-up, not counted
    times = []
    for _ in range(runs):
        result = run_cmd(argv, timeout_s=TIMEOUT_S)
        if result.timed_out or result.start_error:
            raise SystemExit(f"{argv}: did not finish ({result.start_error or 'timeout'})")
        times.append(result.duration_s)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {args.runs} runs each"
    )
    print(f"{'command':24s} {'median s':>9s} {'min s':>7s}")
    for name, argv in commands().items():
        times = time_command(argv, args.runs)
        print(f"{name:24s} {statistics.median(times):9.2f} {min(times):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
