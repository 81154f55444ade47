"""A real SLURM cluster from scripts/slurm-cluster (running_cluster); the session's shared one,
the slurm_cluster fixture, is in tests/conftest.py so that every folder's tests share it."""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gpudoctor.verify.children.allreduce import PORT_BASE, PORT_SPAN

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-cluster"
NODES = ("n1", "n2", "n3")
SLURM_TOOLS = ("munged", "munge", "unmunge", "slurmctld", "slurmd", "sinfo", "srun", "scontrol")
INSTALL = (
    "apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge "
    "(.ci/run does this)"
)
SLURM_TIMEOUT_S = 30.0
"""Every sinfo/scontrol/script call gets this; they answer in well under a second here."""


def slurm_path() -> str:
    """PATH with the sbin directories the daemons live in (a non-login shell may lack them)."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(parts + [d for d in ("/usr/sbin", "/sbin") if d not in parts])


def why_no_slurm() -> str | None:
    """The reason the SLURM tests cannot run here, or None when they can."""
    missing = [t for t in SLURM_TOOLS if shutil.which(t, path=slurm_path()) is None]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing); install: {INSTALL}"
    if os.geteuid() != 0:
        return "the test SLURM cluster runs its daemons as root; run the tests as root"
    return None


JOB_WINDOW = 500
"""More jobs than one test session runs on one cluster."""
SPREAD = random.SystemRandom()
"""Ports and job ids from the system's randomness: two sessions seeded alike (a test plugin
that seeds random) would otherwise choose the same ones."""


def free_port_base(count: int) -> int:
    """A base port P such that P..P+count-1 are free now.

    Below fleet pairs' rendezvous ports (PORT_BASE + job id), so that a pair never finds a
    cluster's own slurmctld or slurmd on its port, and below Linux's ephemeral range.
    """
    for _ in range(50):
        base = SPREAD.randrange(10000, PORT_BASE - count)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return base
    raise RuntimeError("no free range of ports for the test SLURM cluster")


def first_job_id() -> int:
    """A random FirstJobId for a new test cluster.

    The emulated nodes of every cluster on this host are 127.0.0.1, and fleet pairs' ranks
    meet on PORT_BASE + job id mod PORT_SPAN. Two clusters numbering their jobs from 1 (two
    test sessions at once) had their pairs meet on the same port: the later one's rank 0
    failed with EADDRINUSE on port 20005. Jobs numbered from a random start keep two
    sessions' ports apart, unless both reach the same job numbers at the same moment.
    """
    return SPREAD.randrange(JOB_WINDOW, PORT_SPAN - JOB_WINDOW)


def script(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Runs scripts/slurm-cluster ARGS; its stderr (the logs) is kept for failure messages."""
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else {**os.environ, "PATH": slurm_path()},
        check=False,
    )


def cluster_up(nodes: int = 3, **settings: str) -> tuple[Path, float]:
    """Starts a cluster on free ports; returns its state dir and the bring-up time in seconds.

    A port taken between the check and the start makes the script fail at once; then it is
    tried again on other ports.
    """
    last = ""
    for _ in range(3):
        env = {
            **os.environ,
            "PATH": slurm_path(),
            "NODES": str(nodes),
            "CTLD_PORT": str(free_port_base(nodes + 1)),
            "FIRST_JOB_ID": str(first_job_id()),
            **settings,
        }
        start = time.monotonic()
        done = script("up", env=env)
        took = time.monotonic() - start
        if done.returncode == 0:
            return Path(done.stdout.strip()), took
        last = done.stderr
        if "in use" not in last:
            break
    raise RuntimeError(f"scripts/slurm-cluster up failed:\n{last}")


@dataclass
class SlurmCluster:
    """A running test cluster and the helpers the end-to-end tests use to change it."""

    dir: Path
    env: dict[str, str]
    """SLURM_CONF (this cluster's config) and PATH; merge into os.environ for a child."""
    nodes: list[str] = field(default_factory=lambda: list(NODES))
    up_seconds: float = 0.0
    stopped: set[str] = field(default_factory=set)

    def environ(self) -> dict[str, str]:
        """The whole environment for a child process that talks to this cluster."""
        return {**os.environ, **self.env}

    def slurm(self, *argv: str, timeout: float = SLURM_TIMEOUT_S) -> str:
        """Runs a SLURM client command against this cluster; its stdout, or an AssertionError."""
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.environ(),
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr}"
        return done.stdout

    def sinfo_states(self) -> dict[str, tuple[str, str]]:
        """{node: (state, reason)} as ``sinfo -N -h -o '%N|%T|%E'`` prints them."""
        states: dict[str, tuple[str, str]] = {}
        for line in self.slurm("sinfo", "-N", "-h", "-o", "%N|%T|%E").splitlines():
            node, state, reason = line.split("|", 2)
            states[node] = (state, "" if reason == "none" else reason)
        return states

    def sinfo_line(self, node: str) -> str:
        """The node's line of ``sinfo -N -o '%N %T %E'``, as an admin would read it."""
        out = self.slurm("sinfo", "-N", "-h", "-n", node, "-o", "%N %T %E")
        return out.strip().splitlines()[0]

    def wait_state(
        self, node: str, predicate: Callable[[str, str], bool], timeout: float = 30.0
    ) -> tuple[str, str]:
        """Polls until ``predicate(state, reason)`` holds for the node; returns that pair."""
        deadline = time.monotonic() + timeout
        while True:
            state, reason = self.sinfo_states()[node]
            if predicate(state, reason):
                return state, reason
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{node} still {state!r} ({reason!r}) after {timeout:.0f} s\n{self.status()}"
                )
            time.sleep(0.2)

    def drain(self, node: str, reason: str) -> None:
        self.slurm("scontrol", "update", f"nodename={node}", "state=drain", f"reason={reason}")
        self.wait_state(node, lambda state, _: "drain" in state, 10)

    def resume(self, node: str) -> None:
        self.slurm("scontrol", "update", f"nodename={node}", "state=resume")
        self.wait_state(node, lambda state, _: state == "idle", 10)

    def stop_node(self, node: str) -> None:
        """Stops the node's slurmd; slurmctld marks it DOWN later (SlurmdTimeout)."""
        done = script("stop-node", str(self.dir), node, env=self.environ())
        assert done.returncode == 0, done.stderr
        self.stopped.add(node)

    def start_node(self, node: str) -> None:
        """Starts the node's slurmd again; it is back (idle, ReturnToService=2) on return."""
        done = script("start-node", str(self.dir), node, env=self.environ())
        assert done.returncode == 0, done.stderr
        self.stopped.discard(node)

    def status(self) -> str:
        done = script("status", str(self.dir), env=self.environ())
        return done.stdout + done.stderr

    def restore(self) -> None:
        """Back to the start: no jobs, every slurmd running, every node idle."""
        self.slurm("scancel", "--full", "--quiet", f"--user={os.getuid()}")
        for node in sorted(self.stopped):
            self.start_node(node)
        deadline = time.monotonic() + 30
        while self.slurm("squeue", "-h", "-o", "%i").strip() and time.monotonic() < deadline:
            time.sleep(0.2)
        for node, (state, _) in self.sinfo_states().items():
            if state != "idle" and ("drain" in state or state.startswith("down")):
                self.slurm("scontrol", "update", f"nodename={node}", "state=resume")
        for node in self.nodes:
            self.wait_state(node, lambda state, _: state == "idle", 30)


def cluster_down(directory: Path) -> subprocess.CompletedProcess[str]:
    return script("down", str(directory))


@contextlib.contextmanager
def running_cluster(nodes: int = 3, **settings: str) -> Iterator[SlurmCluster]:
    """A cluster (scripts/slurm-cluster's settings, e.g. ``GPU_NODES="2"``), always torn down."""
    directory, took = cluster_up(nodes, **settings)
    # atexit as a second net: a session ended by an error outside pytest's teardown still
    # stops the daemons (down is a no-op once the directory is gone).
    atexit.register(cluster_down, directory)
    cluster = SlurmCluster(
        dir=directory,
        env={"SLURM_CONF": str(directory / "etc" / "slurm.conf"), "PATH": slurm_path()},
        up_seconds=took,
    )
    try:
        yield cluster
    finally:
        done = cluster_down(directory)
        atexit.unregister(cluster_down)
        assert done.returncode == 0, done.stderr
