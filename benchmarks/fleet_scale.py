"""fleet report at scale: wall time and peak memory of aggregating N node reports.

Method. Writes N node reports under node names gpu-00001..., plus a verify result
(tests/data/fleet/h200-verify-fp32.json) for every tenth node, into a temporary folder, then
runs ``gpudoctor fleet report DIR --format json`` in a fresh process ``--rounds`` times and
prints for each round: the wall time; the CPU time of the command and its worker processes
(user and system, from getrusage: less disturbed than the wall time by other work on a shared
machine, which the load average before each round shows); the largest process's peak resident
memory (ru_maxrss); and the peak of all its processes' proportional set size together (PSS
from /proc/PID/smaps_rollup, sampled every 50 ms: pages the forked workers share with the
command are counted once).

Node reports (``--reports``):

* ``real`` (the default): what a real eight-GPU H200 node writes, about 32 KB. Built from the
  recorded H200 report (tests/data/reports/linux-x86_64__nvidia-h200__590.48.01__load.json)
  by :func:`real_size_report`: its GPU repeated as eight GPUs (own index, PCI address, UUID,
  serial, memory use, temperature, three processes each and the three NVML errors the
  recording has), eight PCI functions, four NVSwitches and a running Fabric Manager,
  /dev/nvidia0-7, PyTorch seeing and smoke-testing eight devices, CUDA counting eight, and the
  SLURM job the check ran in (partition ``gpu``, the node's name). Every node differs in its
  hostname, process ids and memory use; the stack is the same (a fleet that agrees).
* ``small``: the recorded reports of tests/data/reports as they are, round-robin (one or two
  GPUs, many failures; about 8 KB): the benchmark's old form, kept to compare with old
  figures.

It also times decoding one real-size report (``serialize.report_from_bytes``: what every
``check --from-report``, ``make-env --from-report`` and ``diff`` pays before its rules run) in
this process: the median of ``--decode-runs`` runs.

    python benchmarks/fleet_scale.py [--nodes 10000] [--rounds 3] [--reports real|small]
        [--decode-runs 200] [--keep DIR]

The gpudoctor timed is the one on ``PYTHONPATH`` (this repository's when it is unset).
``--keep DIR`` writes the reports into DIR (or reuses what DIR holds) and keeps them, so that
another gpudoctor (``PYTHONPATH=/path/to/other``) can be timed on the same files.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted((ROOT / "tests" / "data" / "reports").glob("*.json"))
H200 = ROOT / "tests" / "data" / "reports" / "linux-x86_64__nvidia-h200__590.48.01__load.json"
VERIFY = ROOT / "tests" / "data" / "fleet" / "h200-verify-fp32.json"
GPUS = 8
CHILD: dict[str, Any] = {
    # The gpudoctor timed is the one on PYTHONPATH (this repository's when it is unset), never
    # the one that happens to be in the current folder: -m and -c look there first.
    "cwd": tempfile.gettempdir(),
    "env": dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH") or str(ROOT)),
}


def real_size_report(base: dict[str, Any], node: str, seed: int) -> dict[str, Any]:
    """An eight-GPU H200 node's report, from the recorded one-GPU H200 report ``base``."""
    doc = copy.deepcopy(base)
    doc["host"]["hostname"] = node
    one = base["nvml"]["gpus"][0]
    bus = [0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB]  # an HGX H200 board's layout
    gpus = []
    for i in range(GPUS):
        gpu = copy.deepcopy(one)
        pid = 10_000 + (seed * 37 + i * 11) % 50_000
        gpu.update(
            index=i,
            pci_bus_id=f"00000000:{bus[i]:02X}:00.0",
            uuid=f"GPU-{seed:08x}-{i:04x}-4000-8000-{seed * 8 + i:012x}",
            serial=f"{1650000000000 + seed * 8 + i}",
            temperature_c=40 + (seed + i) % 25,
            memory_used_mib=30_000 + (seed * 7 + i * 131) % 9_000,
            # one training process per GPU (a DDP job), and the monitoring agent on each
            processes=[
                {"name": "/usr/bin/python3", "pid": pid, "used_memory_mib": 27_000 + i},
                {"name": "/usr/bin/nv-hostengine", "pid": 900, "used_memory_mib": 80},
            ],
            errors=[
                dict(e, field=e["field"].replace("gpu[0]", f"gpu[{i}]")) for e in one["errors"]
            ],
            fabric_state="completed",
        )
        gpus.append(gpu)
    doc["nvml"]["gpus"] = gpus
    driver = doc["driver"]
    function = base["driver"]["pci_functions"][0]
    driver["pci_functions"] = [dict(function, address=f"0000:{b:02x}:00.0") for b in bus]
    driver["nvswitches"] = [
        {"address": f"0000:{b:02x}:00.0", "class_code": "0x068000", "device_id": "0x22a3",
         "driver": None}
        for b in (0x05, 0x06, 0x07, 0x08)
    ]  # fmt: skip
    driver["fabric_manager"] = {
        "how": "systemctl is-active nvidia-fabricmanager",
        "running": True,
        "version": driver["module_version"],
    }
    driver["dev_nodes"] = sorted(
        ["/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidiactl", "/dev/nvidia-nvswitchctl"]
        + [f"/dev/nvidia{i}" for i in range(GPUS)]
    )
    doc["cuda"]["device_count"] = GPUS
    for fw in doc["frameworks"]:
        if fw["devices"]:
            device = fw["devices"][0]
            fw["devices"] = [dict(device, index=i) for i in range(GPUS)]
            fw["device_count"] = GPUS
    doc["site"] = {
        "slurm_commands": True,
        "slurm_job": {
            "job_id": str(4_000_000 + seed),
            "step_id": "0",
            "partition": "gpu",
            "node": node,
            "gpu_variables": {"SLURM_GPUS_ON_NODE": "8", "SLURM_JOB_GPUS": "0,1,2,3,4,5,6,7"},
        },
        "shm_bytes": 1_081_101_176_832,
        "driver_gpus": [f"0000:{b:02x}:00.0" for b in bus],
    }
    return doc


def populate(folder: Path, nodes: int, kind: str) -> None:
    base = json.loads(H200.read_text())
    for i in range(1, nodes + 1):
        node = f"gpu-{i:05d}"
        if kind == "real":
            doc = real_size_report(base, node, i)
            # as check --format json writes it: indented, keys sorted
            (folder / f"{node}.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        else:
            shutil.copyfile(REPORTS[i % len(REPORTS)], folder / f"{node}.json")
        if i % 10 == 0:
            shutil.copyfile(VERIFY, folder / f"{node}.verify.json")


def one_round(folder: Path) -> tuple[float, float, int, int, int]:
    """Wall time, CPU time (user and system, all processes), the largest process's peak RSS
    (KiB), all processes' peak PSS (KiB), and the number of nodes reported."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gpudoctor", "fleet", "report", str(folder), "--format", "json"],
            stdout=out,
            stderr=subprocess.PIPE,
            **CHILD,
        )
        tree_peak = 0
        while proc.poll() is None:
            tree_peak = max(tree_peak, tree_pss_kib(proc.pid))
            time.sleep(0.05)
        took = time.perf_counter() - start
        stderr = proc.stderr.read() if proc.stderr else b""
        if proc.returncode not in (0, 1):
            raise SystemExit(f"fleet report failed ({proc.returncode}): {stderr.decode()[-500:]}")
        out.seek(0)
        count = len(json.loads(out.read())["nodes"])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return took, cpu, after.ru_maxrss, tree_peak, count


def tree_pss_kib(pid: int) -> int:
    """The proportional set size of ``pid`` and its children (pages the forks share counted
    once, split between them), from /proc; 0 where it cannot be read."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            todo += Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def decode_time(runs: int) -> tuple[int, float, float]:
    """The size of one real-size report, the seconds to decode it first in a fresh process
    (the converters are built then: what one ``check --from-report`` pays) and the median of
    ``runs`` decodes after that."""
    doc = real_size_report(json.loads(H200.read_text()), "gpu-00001", 1)
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(data)
        fh.flush()
        script = (
            "import sys, time\n"
            "from gpudoctor.model import serialize\n"
            "data = open(sys.argv[1], 'rb').read()\n"
            "start = time.perf_counter()\n"
            "serialize.report_from_bytes(data, sys.argv[1])\n"
            "took = time.perf_counter() - start\n"
            "times = []\n"
            "for _ in range(int(sys.argv[2])):\n"
            "    start = time.perf_counter()\n"
            "    serialize.report_from_bytes(data, sys.argv[1])\n"
            "    times.append(time.perf_counter() - start)\n"
            "print(took, sorted(times)[len(times) // 2])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, fh.name, str(runs)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
            **CHILD,
        )
    first, median = (float(x) for x in done.stdout.split())
    return len(data), first, median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reports", choices=("real", "small"), default="real")
    parser.add_argument("--decode-runs", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="write the reports here and keep them")
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.processor() or platform.platform()}"
    )
    size, first, median = decode_time(args.decode_runs)
    print(
        f"decode one real-size report ({size / 1000:.1f} KB): first in a fresh process "
        f"{first * 1000:.1f} ms, then {median * 1000:.2f} ms (median of {args.decode_runs})"
    )
    with tempfile.TemporaryDirectory(prefix="gpudoctor-fleet-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            populate(folder, args.nodes, args.reports)
        files = list(folder.iterdir())
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        checks = sum(1 for p in files if not p.name.endswith(".verify.json"))
        print(
            f"{checks} {args.reports} node reports, {len(files) - checks} verify results, "
            f"{size_mb:.0f} MB"
        )
        times = []
        for r in range(args.rounds):
            load = os.getloadavg()[0]
            took, cpu, peak_kib, tree_kib, count = one_round(folder)
            times.append(took)
            print(
                f"round {r + 1}: {took:.1f} s ({cpu:.1f} s of CPU), {count} nodes, largest "
                f"process's peak RSS so far {peak_kib / 1024:.0f} MiB, all processes' peak PSS "
                f"{tree_kib / 1024:.0f} MiB, load average before {load:.2f}"
            )
        print(f"median {statistics.median(times):.1f} s over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
