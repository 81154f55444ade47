"""Fake sinfo, srun and scontrol: small Python programs on PATH, driven by one JSON state file.

The fleet code runs them as real child processes (argv, timeouts, process groups), so the
same paths run here as against the real SLURM of test_slurm_e2e.py. Each node's entry says
what srun does there:
  {"state": "idle", "reason": "", "partitions": ["gpu"], "gres": "gpu:h100:8" (sinfo's %G),
   "srun": "report" | "run" | "busy" | "partition_config" | "launch_fail" | "hang" | "garbage" |
           "crash" | "flood",
   "report": "<path of a JSON file to print>", "verify": "<path>", "bytes": 100000000}
``run`` executes the command srun was given; ``flood`` prints ``bytes`` bytes (1 MiB at a
time, so that the fake itself stays small) and exits 0; scontrol updates the state file.
Top-level keys break SLURM itself: "controller_down" (sinfo fails as with slurmctld stopped),
"sinfo": "hang" | "no_config" (no answer; the latter after a missing-config complaint),
"scontrol_down" (scontrol fails as sinfo does with "controller_down").
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

SINFO = r"""
import json, os, sys
state = json.load(open(os.environ["FAKE_SLURM_STATE"]))
args = sys.argv[1:]
part = args[args.index("-p") + 1] if "-p" in args else None
names = None
if "-n" in args:
    import hostlist
    names = set(hostlist.expand_hostlist(args[args.index("-n") + 1]))
if state.get("controller_down"):
    print("slurm_load_partitions: Unable to contact slurm controller (connect failure)",
          file=sys.stderr)
    sys.exit(1)
if state.get("sinfo") == "no_config":  # what sinfo 22.05 says before retrying for 60 s
    print("sinfo: error: s_p_parse_file: cannot stat file /etc/slurm/slurm.conf: No such file "
          "or directory, retrying in 1sec up to 60sec", file=sys.stderr, flush=True)
if state.get("sinfo") in ("hang", "no_config"):
    import time
    time.sleep(600)
if "-o" in args and args[args.index("-o") + 1] == "%P":  # the partitions' names
    seen = [p for node in state["nodes"].values() for p in node.get("partitions", ["gpu"])]
    print("\n".join(dict.fromkeys(seen)))
    sys.exit(0)
fmt = args[args.index("-o") + 1] if "-o" in args else ""
for name, node in state["nodes"].items():
    if names is not None and name not in names:
        continue
    for p in node.get("partitions", ["gpu"]):
        if part and p != part:
            continue
        gres = f"{node.get('gres') or '(null)'}|" if "%G" in fmt else ""
        print(f"{name}|{node.get('state', 'idle')}|{p}|{gres}{node.get('reason') or 'none'}")
"""

SRUN = r"""
import json, os, subprocess, sys, time
state = json.load(open(os.environ["FAKE_SLURM_STATE"]))
args = sys.argv[1:]
with open(os.environ["FAKE_SLURM_STATE"] + ".calls", "a") as log:
    log.write(json.dumps(args) + "\n")
i = 0
while i < len(args) and args[i].startswith("-"):
    i += 1
opts, command = args[:i], args[i:]
node = next(a.split("=", 1)[1] for a in opts if a.startswith("--nodelist="))
entry = state["nodes"][node]
mode = entry.get("srun", "report")
verify = "verify" in command
if mode == "report":
    print(open(entry["verify" if verify else "report"]).read(), end="")
    sys.exit(entry.get("exit", 0))
if mode == "run":
    env = dict(os.environ, SLURMD_NODENAME=node)
    code = subprocess.call(command, env=env)
    if code:  # as srun 22.05 says it after the task's own stderr
        print(f"srun: error: {node}: task 0: Exited with exit code {code}", file=sys.stderr)
    sys.exit(code)
if mode == "busy":
    print("srun: error: Unable to allocate resources: Requested nodes are busy", file=sys.stderr)
    sys.exit(1)
if mode == "partition_config":  # srun 22.05 --immediate when the partition refuses the account
    print("srun: Requested partition configuration not available now", file=sys.stderr)
    print("srun: job 7 queued and waiting for resources", file=sys.stderr)
    print("srun: error: Unable to allocate resources: Requested nodes are busy", file=sys.stderr)
    sys.exit(1)
if mode == "launch_fail":
    print(f"srun: error: Task launch for StepId=3.0 failed on node {node}: Communication "
          "connection failure", file=sys.stderr)
    print("srun: error: Application launch failed: Communication connection failure",
          file=sys.stderr)
    sys.exit(233)
if mode == "garbage":
    print("this is not JSON")
    sys.exit(0)
if mode == "flood":
    left, chunk = entry["bytes"], b"x" * (1 << 20)
    while left > 0:
        sys.stdout.buffer.write(chunk[:left])
        left -= len(chunk)
    sys.exit(0)
if mode == "crash":
    print("/usr/bin/python3: No module named gpudoctor", file=sys.stderr)
    print(f"srun: error: {node}: task 0: Exited with exit code 1", file=sys.stderr)
    sys.exit(1)
time.sleep(600)  # hang
"""

SCONTROL = r"""
import json, os, sys
path = os.environ["FAKE_SLURM_STATE"]
state = json.load(open(path))
with open(path + ".calls", "a") as log:
    log.write(json.dumps(["scontrol", *sys.argv[1:]]) + "\n")
if state.get("scontrol_down"):
    print("slurm_update error: Unable to contact slurm controller (connect failure)",
          file=sys.stderr)
    sys.exit(1)
kv = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
node = state["nodes"][kv["nodename"]]
if kv["state"] == "drain":
    node["state"], node["reason"] = "drained", kv["reason"]
elif kv["state"] == "resume":
    node["state"], node["reason"] = "idle", ""
json.dump(state, open(path, "w"))
"""


class FakeSlurm:
    """A folder of fake SLURM commands and the state file they share."""

    def __init__(self, root: Path, nodes: dict[str, dict[str, Any]]) -> None:
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        self.state_file = root / "state.json"
        self.save({"nodes": nodes})
        for name, body in (("sinfo", SINFO), ("srun", SRUN), ("scontrol", SCONTROL)):
            path = self.bin / name
            path.write_text(f"#!{sys.executable}\n{body}")
            path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def save(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def load(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def calls(self) -> list[list[str]]:
        log = Path(str(self.state_file) + ".calls")
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_SLURM_STATE": str(self.state_file),
        }
