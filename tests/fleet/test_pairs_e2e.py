"""fleet pairs end to end: two-node all-reduces through the real srun -N2 on emulated nodes.

The nodes of scripts/slurm-cluster are slurmd processes on this one host (NodeAddr 127.0.0.1),
so each pair's two ranks meet over the loopback with gloo: the path of a real cluster, with
its figures meaningless (hence --slow-factor 0.05: these tests are about the mechanics).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from gpudoctor.verify.children.allreduce import PORT_BASE, PORT_SPAN
from tests.fleet.conftest import JOB_WINDOW, SlurmCluster
from tests.fleet.test_slurm_e2e import gpudoctor

pytestmark = [pytest.mark.slurm, pytest.mark.torch]


def pairs(cluster: SlurmCluster, out: Path, *args: str) -> tuple[int, dict, str]:
    done, _ = gpudoctor(
        cluster,
        "fleet",
        "pairs",
        "--output-dir",
        str(out),
        "--format",
        "json",
        "--pair-timeout",
        "90",
        "--init-timeout",
        "20",
        *args,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.returncode, json.loads(done.stdout), done.stderr


def test_the_pairs_rendezvous_ports_are_this_clusters_own(slurm_cluster: SlurmCluster):
    # Every test cluster's nodes are 127.0.0.1. Two test sessions at once each started one
    # numbering its jobs from 1: their pairs met on port 20005 and the later rank 0 failed
    # with EADDRINUSE. Now each cluster numbers its jobs from its own random start.
    said = slurm_cluster.slurm("srun", "-N1", "-w", "n1", "printenv", "SLURM_JOB_ID")
    job = int(said.strip())
    assert job >= JOB_WINDOW
    env = dict(
        line.split("=", 1) for line in (slurm_cluster.dir / "cluster.env").read_text().split()
    )
    ctld = int(env["CTLD_PORT"])
    daemons = set(range(ctld, ctld + int(env["NODES"]) + 1))  # slurmctld, then slurmd nK
    rendezvous = {PORT_BASE + j % PORT_SPAN for j in range(job, job + JOB_WINDOW)}
    assert not rendezvous & daemons


def test_every_pair_all_reduces_through_srun_n2(slurm_cluster: SlurmCluster, tmp_path: Path):
    code, report, err = pairs(slurm_cluster, tmp_path, "--slow-factor", "0.05")
    # each pair's status and words first: pytest cut the whole report short (a CI run's exit 1
    # in 27 s could not be told from it)
    said = [(p.get("nodes"), p.get("status"), p.get("message")) for p in report.get("pairs", [])]
    assert code == 0, f"{said}\n{err[-2000:]}"
    assert report["healthy"] is True
    got = {tuple(p["nodes"]): p for p in report["pairs"]}
    assert set(got) == {("n1", "n2"), ("n2", "n3"), ("n1", "n3")}
    for nodes, p in got.items():
        ar = p["allreduce"]
        assert p["status"] == "ok", p
        assert ar["backend"] == "gloo" and ar["world_size"] == 2
        # each rank ran on its own node of the pair (SLURMD_NODENAME), rank 0 on the first
        assert tuple(ar["nodes"]) == nodes
        assert all(pt["correct"] for pt in ar["points"])
        # two ranks: bus bandwidth = algorithm bandwidth x 2(2-1)/2
        assert all(pt["busbw_gbps"] == pytest.approx(pt["algbw_gbps"]) for pt in ar["points"])
        saved = json.loads((tmp_path / "pairs" / f"{nodes[0]}+{nodes[1]}.json").read_text())
        assert saved["nodes"] == list(nodes)
    assert json.loads((tmp_path / "pairs" / "pairs.json").read_text())["healthy"] is True


def test_srun_refused_is_a_one_line_finding_per_pair(slurm_cluster: SlurmCluster, tmp_path: Path):
    code, report, stderr = pairs(
        slurm_cluster, tmp_path, "-w", "n1,n2", "--srun-arg=--partition=no-such-partition"
    )
    assert code == 1
    (p,) = report["pairs"]
    assert p["status"] == "refused" and "partition" in p["message"].lower(), p
    assert "\n" not in p["message"]
    assert "n1+n2: refused" in stderr


def test_an_exclude_that_matches_no_selected_node_is_said(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    # n3 is no node of -w n1,n2 and n7 none of the cluster's: each was dropped without a word
    # (SLURM refusing the pair keeps the test fast: it is about the selection)
    code, report, stderr = pairs(
        slurm_cluster,
        tmp_path,
        "-w",
        "n1,n2",
        "-x",
        "n3,n7",
        "--srun-arg=--partition=no-such-partition",
    )
    assert code == 1
    assert [tuple(p["nodes"]) for p in report["pairs"]] == [("n1", "n2")]
    assert (
        "fleet: warning: --exclude n[3,7]: not among the nodes selected (--nodelist n1,n2), "
        "so it left out nothing\n"
    ) in stderr


def test_srun_refusing_every_pair_names_no_node_to_drain(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    # Three nodes, every step refused by SLURM: before, all three were "bad node: drain it".
    code, report, stderr = pairs(
        slurm_cluster, tmp_path, "--srun-arg=--partition=no-such-partition"
    )
    assert code == 1
    assert len(report["pairs"]) == 3
    assert all(p["status"] == "refused" for p in report["pairs"]), report["pairs"]
    assert report["bad_nodes"] == [] and report["bad_links"] == []
    assert "bad node" not in stderr


def test_a_drained_node_is_left_out_and_said(slurm_cluster: SlurmCluster, tmp_path: Path):
    slurm_cluster.drain("n3", "cable check")
    code, report, _ = pairs(slurm_cluster, tmp_path, "--slow-factor", "0.05")
    assert code == 1  # a node asked for could not be paired
    assert [tuple(p["nodes"]) for p in report["pairs"]] == [("n1", "n2")]
    assert report["not_reached"][0][0] == "n3" and "cable check" in report["not_reached"][0][1]


def pair_with_n2_doing(
    cluster: SlurmCluster, tmp_path: Path, on_n2: str
) -> tuple[float, int, dict]:
    """One pair n1+n2 whose "interpreter" on n2 runs the shell line ``on_n2`` instead: seconds
    taken, exit status and the JSON report."""
    python = tmp_path / "python"
    python.write_text(
        f'#!/bin/sh\nif [ "$SLURMD_NODENAME" = n2 ]; then {on_n2}; fi\nexec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    start = time.monotonic()
    code, report, _ = pairs(
        cluster,
        tmp_path / "out",
        "-w",
        "n1,n2",
        "--python",
        str(python),
        "--init-timeout",
        "3",
        # far above what the pair takes, even on a loaded 2-core runner: srun waited this long
        # for a hung task, so the time taken still tells the two apart
        "--pair-timeout",
        "300",
    )
    return time.monotonic() - start, code, report


def test_a_partner_that_hangs_before_joining_ends_the_pair_with_rank_0s_error(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    # On n2 the task hangs before it reaches the rendezvous (an import from a dead file
    # system): rank 0 gave up at --init-timeout, but srun waited for the hung task until the
    # pair's timeout (180 s by default), and the pair read 'timeout: no answer within 180 s'.
    # Now srun stops the other task --init-timeout + 10 s after one ended (--wait).
    took, code, report = pair_with_n2_doing(slurm_cluster, tmp_path, "exec sleep 300")
    assert took < 150
    assert code == 1
    (p,) = report["pairs"]
    assert p["status"] == "error", p
    assert p["message"].startswith("rank 0: ") and "1/2 clients joined" in p["message"], p


def test_a_partner_that_never_joins_is_an_error_within_the_init_timeout(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    # On n2 the "interpreter" fails at once: n1's rank waits in the rendezvous alone.
    fails = 'echo "no interpreter here" >&2; exit 1'
    took, code, report = pair_with_n2_doing(slurm_cluster, tmp_path, fails)
    assert took < 150
    assert code == 1
    (p,) = report["pairs"]
    assert p["status"] == "error", p
    assert p["message"].startswith("rank 0: ") and "1/2 clients joined" in p["message"], p
    assert p["message"].endswith("(the rendezvous waits --init-timeout)"), p
