"""End to end on a login node: check and make-env against a real SLURM cluster whose nodes n1-n2
offer count-only GPU GRES (partition gpu) and n3 none (partition cpu); and the health gate's
GPU count against a GPU node's GRES."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import have_gpu
from tests.fleet.conftest import ROOT, SlurmCluster, running_cluster
from tests.fleet.conftest import why_no_slurm as _why_no_slurm
from tests.fleet.gpu_reports import h100_node

pytestmark = pytest.mark.slurm

REPORTS = ROOT / "tests" / "data" / "reports"
FLEET = {
    "n1": "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json",
    "n2": "linux-x86_64__nvidia-h200__590.48.01__idle.json",
    "n3": "linux-x86_64__nvidia-l40s__595.80__idle.json",
}
"""A saved fleet: two nodes on driver 590.48.01 (CC 9.0), one L40S (CC 8.9) on 595.80."""


@pytest.fixture(scope="module")
def login_cluster() -> Iterator[SlurmCluster]:
    """n1-n2 in partition gpu (gpu:h100:8), n3 in partition cpu; torn down after the module."""
    reason = _why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    if have_gpu():
        pytest.skip("this host has an NVIDIA GPU: it is no login node")
    with running_cluster(3, GPU_NODES="2") as cluster:
        yield cluster


def gpudoctor(
    cluster: SlurmCluster, *args: str, cwd: Path = ROOT, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m gpudoctor ARGS`` on the login node (outside any job), timed; ``path``
    replaces PATH."""
    env = {k: v for k, v in cluster.environ().items() if not k.startswith("SLURM_JOB")}
    env["PYTHONPATH"] = str(ROOT)
    if path is not None:
        env["PATH"] = path
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gpudoctor", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=cwd,
        check=False,
    )
    print(f"gpudoctor {' '.join(args)}: exit {done.returncode} in {time.monotonic() - start:.1f} s")
    return done


def test_check_on_the_login_node_names_the_gpu_partition(login_cluster: SlurmCluster) -> None:
    done = gpudoctor(login_cluster, "check", "--no-frameworks", "--format", "json")
    report = json.loads(done.stdout)
    parts = {p["name"]: p for p in report["site"]["slurm"]["partitions"]}
    assert parts["gpu"]["gres"] == ["gpu:h100:8"]
    assert parts["gpu"]["nodes"] == "n[1-2]"
    assert report["site"]["remote"] is None
    login = [f for f in report["findings"] if f["id"] == "GD-HOST-007"]
    assert login and "partition gpu" in login[0]["title"]


def test_check_partition_runs_on_one_of_its_nodes(login_cluster: SlurmCluster) -> None:
    done = gpudoctor(
        login_cluster, "check", "--partition", "gpu", "--no-frameworks", "--format", "json"
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    remote = report["site"]["remote"]
    assert remote["node"] in ("n1", "n2")
    assert remote["partition"] == "gpu"
    assert remote["gres"] == "gpu:1"
    job = report["site"]["slurm_job"]
    assert job["node"] == remote["node"]
    assert job["gpu_variables"]["SLURM_STEP_GPUS"] == "0"  # the job got one GPU
    assert f"running on node {remote['node']} (partition gpu" in done.stderr

    text = gpudoctor(login_cluster, "check", "-p", "gpu", "--no-frameworks")
    assert "checked on node n" in text.stdout.splitlines()[1]


def test_check_partition_without_gpus_runs_there_and_says_so(login_cluster: SlurmCluster) -> None:
    done = gpudoctor(login_cluster, "check", "--partition", "cpu", "--no-frameworks")
    assert done.returncode in (0, 1), done.stderr
    assert "running on node n3 (partition cpu" in done.stderr
    assert "no GPU GRES" in done.stderr
    assert "checked on node n3 through srun (partition cpu: no GPU GRES" in done.stdout


def test_check_partition_passes_over_a_node_whose_slurmd_stopped(
    login_cluster: SlurmCluster,
) -> None:
    # n1's slurmd gone, n1 still idle in sinfo until SlurmdTimeout: check --partition gpu ran
    # on n1, srun said 'Task launch for StepId=... failed on node n1: Communication connection
    # failure', and check gave up (exit 1) advising a longer --immediate, with n2 idle
    login_cluster.stop_node("n1")
    try:
        done = gpudoctor(login_cluster, "check", "--partition", "gpu", "--no-frameworks")
    finally:
        login_cluster.start_node("n1")
    assert "node n1 (partition gpu): the job could not start there: Task launch" in done.stderr
    assert "; trying another node" in done.stderr
    assert "--immediate" not in done.stderr
    assert "checked on node n2 through srun" in done.stdout, done.stderr


def test_check_unknown_partition_is_one_line_exit_2(login_cluster: SlurmCluster) -> None:
    done = gpudoctor(login_cluster, "check", "--partition", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "gpudoctor: error: --partition nope: no such partition (this cluster has: gpu, cpu)"
    ]


def without_srun(cluster: SlurmCluster, folder: Path) -> str:
    """A PATH whose SLURM commands are sinfo, scontrol and squeue, and no srun: a login node
    whose cluster module (or package) left srun out."""
    folder.mkdir()
    for tool in ("sinfo", "scontrol", "squeue", "scancel"):
        found = shutil.which(tool, path=cluster.environ()["PATH"])
        assert found is not None
        (folder / tool).symlink_to(found)
    return str(folder)


def test_check_on_a_login_node_without_srun_suggests_no_srun_line(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # GD-HOST-007 said '$ srun -p gpu --gres=gpu:1 --pty bash' where srun was not on PATH
    path = without_srun(login_cluster, tmp_path / "bin")
    done = gpudoctor(
        login_cluster, "check", "--no-frameworks", "--no-history", "--format", "json",
        cwd=tmp_path, path=path,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert report["site"]["srun_command"] is False
    (login,) = [f for f in report["findings"] if f["id"] == "GD-HOST-007"]
    assert login["fix"][0].startswith("srun is not on PATH here (sinfo is): load the cluster's")
    assert not any("$ srun" in line for line in login["fix"])
    # nor gpudoctor on that PATH: the commands name the interpreter it was run with
    assert report["host"]["gpudoctor_command"] == [sys.executable, "-m", "gpudoctor"]
    assert login["fix"][-1] == (
        f"With srun on PATH, check one of its nodes from here: $ {shlex.quote(sys.executable)} "
        "-m gpudoctor check --partition gpu"
    )
    there = gpudoctor(login_cluster, "check", "--no-frameworks", "--no-history", "--format", "json")
    assert json.loads(there.stdout)["site"]["srun_command"] is True


def test_check_partition_without_srun_says_what_is_missing_not_fleet(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # check --partition and make-env --partition read 'srun not found on PATH: fleet needs
    # SLURM's client commands (slurm-client)', naming a command the student never ran
    path = without_srun(login_cluster, tmp_path / "bin")
    for args in (
        ("check", "--partition", "gpu", "--no-frameworks"),
        ("make-env", "--partition", "gpu"),
    ):
        done = gpudoctor(login_cluster, *args, cwd=tmp_path, path=path)
        assert done.returncode == 2, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last == (
            "gpudoctor: error: srun not found on PATH: gpudoctor reaches the cluster through "
            "SLURM's client commands (sinfo, srun, scontrol; Debian's package slurm-client)"
        ), done.stderr
        assert "fleet" not in done.stderr


def test_onboard_without_srun_stops_before_creating_anything(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # the dry run printed the plan, srun line and all, with no word; the run with --driver/--cc
    # created the environment (minutes) before the verify step failed on srun
    if not Path(sys.executable).with_name("uv").exists():
        pytest.skip("uv is in the test extra")
    path = without_srun(login_cluster, tmp_path / "bin")
    home = tmp_path / "home"
    home.mkdir()
    # onboard's own check (frameworks and all) took 3.5 s a run on the 2-core VM; what this
    # guards is onboard's srun test after it, so both runs plan from one report checked here
    # with the same PATH (0.3 s): the plan still targets partition gpu
    report = tmp_path / "check.json"
    checked = gpudoctor(
        login_cluster, "check", "--no-frameworks", "--no-history", "--format", "json",
        "--output", str(report), cwd=tmp_path, path=path,
    )  # fmt: skip
    assert checked.returncode in (0, 1), checked.stderr
    saved = ("--from-report", str(report))
    dry = gpudoctor(login_cluster, "onboard", "--dry-run", *saved, cwd=home, path=path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == (
        "onboard: warning: srun not found on PATH: make-env's node check and the verify step "
        "run on partition gpu through srun; put srun on PATH (SLURM's client commands; "
        "Debian's package slurm-client) and run onboard again"
    )
    args = ("onboard", "--yes", "--driver", "580.95.05", "--cc", "9.0", *saved)
    done = gpudoctor(login_cluster, *args, cwd=home, path=path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "gpudoctor: error: srun not found on PATH: verify runs on partition gpu through srun; "
        "put srun on PATH (SLURM's client commands; Debian's package slurm-client) and run "
        "onboard again"
    )
    assert list(home.iterdir()) == []


def test_onboard_dry_run_says_step_2_fails_while_every_gpu_node_is_allocated(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # every node of partition gpu running a job: the dry run printed the plan without a word
    # (check's sinfo %F counts an allocated node as usable), and the run then failed at step 2
    # (make-env's node check: srun --immediate, 'no node is idle or mixed now')
    for node in ("n1", "n2"):
        login_cluster.slurm(
            "sbatch", "-p", "gpu", "-w", node, "--exclusive", "-o", "/dev/null", "--wrap",
            "sleep 300",
        )  # fmt: skip
    try:
        for node in ("n1", "n2"):
            login_cluster.wait_state(node, lambda state, _: state == "allocated", 10)
        done = gpudoctor(login_cluster, "onboard", "--dry-run", cwd=tmp_path)
        given = gpudoctor(
            login_cluster, "onboard", "--dry-run", "--driver", "580.95.05", "--cc", "9.0",
            cwd=tmp_path,
        )  # fmt: skip
    finally:
        login_cluster.slurm("scancel", "--quiet", f"--user={os.getuid()}")
        for node in ("n1", "n2"):
            login_cluster.wait_state(node, lambda state, _: state == "idle", 30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "onboard: warning: partition gpu: no node is idle or mixed now (n1 allocated, n2 "
        "allocated): make-env's node check (step 2) fails until one is (--driver VERSION --cc "
        "X.Y plans without it)"
    )
    assert given.returncode == 0, given.stderr
    assert "warning" not in given.stdout  # no node check: the verify job just queues
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("partition", "said"),
    [
        ("gpux", "--partition gpux: no such partition (this cluster has: gpu, cpu; with GPUs: "
         "gpu)"),
        ("cpu", "--partition cpu has no GPU GRES: its nodes offer no GPU for the environment to "
         "verify on; choose a GPU partition (gpu)"),
    ],
)  # fmt: skip
def test_onboard_refuses_a_partition_typo_before_the_check(
    login_cluster: SlurmCluster, tmp_path: Path, partition: str, said: str
) -> None:
    # 'onboard -p gpux' ran the check (5 to 6 s on the 2-core VM) and refused the name only
    # then, after '[1/7] check this machine' and its 'done' line; now sinfo is asked first
    start = time.monotonic()
    done = gpudoctor(login_cluster, "onboard", "-p", partition, "--dry-run", cwd=tmp_path)
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"gpudoctor: error: {said}"]
    assert took < 4, took  # interpreter start and one sinfo, not a check
    assert list(tmp_path.iterdir()) == []


def test_make_env_on_the_login_node_plans_for_the_gpu_partition(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # The emulated nodes have no NVIDIA driver: make-env says what to give instead of
    # planning a CPU environment.
    done = gpudoctor(login_cluster, "make-env", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "planning for partition gpu, its only GPU partition" in done.stderr
    # the partition was only implied: --driver/--cc alone would plan for one machine
    assert "lowest compute capability (--partition gpu --driver VERSION --cc X.Y" in done.stderr
    assert "(--partition gpu --from-fleet DIR)" in done.stderr
    assert not (tmp_path / "environment.yml").exists()


def test_make_env_for_a_partition_with_driver_and_cc(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    out = tmp_path / "environment.yml"
    done = gpudoctor(
        login_cluster,
        "make-env",
        "--partition",
        "gpu",
        "--driver",
        "570.124.06",
        "--cc",
        "9.0",
        "--format",
        "conda",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "# Planned for the compute nodes of partition gpu: nodes n[1-2] (h100)" in text
    assert f"# Create with: CONDA_OVERRIDE_CUDA=12.8 conda env create -f {out}" in text
    assert 'variables:\n  CONDA_OVERRIDE_CUDA: "12.8"\n' in text
    # the Regenerate line, run again on the login node, makes the same file (it lost
    # --partition, and the file made again was for one machine: no CONDA_OVERRIDE_CUDA)
    line = next(x for x in text.splitlines() if x.startswith("# Regenerate: gpudoctor "))
    again = tmp_path / "again.yml"
    args = shlex.split(line.removeprefix("# Regenerate: gpudoctor "))
    redone = gpudoctor(login_cluster, *args, "-o", str(again))
    assert redone.returncode == 0, redone.stderr
    assert again.read_text() == text.replace(str(out), str(again))


def test_make_env_from_a_saved_fleet(login_cluster: SlurmCluster, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet" / "check"
    fleet.mkdir(parents=True)
    for node, name in FLEET.items():
        shutil.copy(REPORTS / name, fleet / f"{node}.json")
    done = gpudoctor(
        login_cluster, "make-env", "--from-fleet", str(fleet.parent), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["target"]["driver"] == "590.48.01"  # two nodes of three
    assert plan["target"]["cc"] == "8.9"  # the L40S, the lowest
    assert plan["target"]["origin"] == f"fleet {fleet.parent}"


def test_fleet_run_reaches_a_partition_that_is_not_the_default(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # srun went to the default partition (gpu): every node of -p cpu was "not reached" with
    # "Requested node configuration is not available"; a gpu node named with -p cpu was
    # called unknown to SLURM
    out = tmp_path / "fleet"
    done = gpudoctor(
        login_cluster, "fleet", "run", "-p", "cpu", "-w", "n[1,3,9]", "-d", str(out),
        "--check-args", "--no-frameworks", "--format", "json",
    )  # fmt: skip
    doc = json.loads(done.stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n3"], done.stderr
    assert (
        json.loads((out / "check" / "n3.json").read_text())["site"]["slurm_job"]["partition"]
        == "cpu"
    )
    why = {r["node"]: (r["state"], r["reason"]) for r in doc["not_reached"]}
    assert why == {
        "n1": ("idle", "not in partition cpu (it is in gpu)"),
        "n9": ("unknown", "SLURM does not know this node"),
    }


def test_the_gate_drains_a_gpu_node_missing_a_gpu_of_its_gres(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # The gate on n2 (Gres=gpu:h100:8) with NVML faked by a replayed report: 7 of its 8 GPUs.
    # Its one sinfo reads the node's GRES from the real controller; the drain is scontrol's.
    def gate(report: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        done = gpudoctor(
            login_cluster, "check", "--health-check", "--drain", "--node", "n2",
            "--from-report", str(report), "--format", "json",
        )  # fmt: skip
        return done, json.loads(done.stdout)

    done, doc = gate(h100_node(tmp_path, 7, on_bus=8))
    assert done.returncode == 1, done.stderr
    assert [e["id"] for e in doc["errors"]] == ["GD-GPU-068"], doc
    assert doc["action"] == "drain" and doc["slurm"] == "ok"
    _, reason = login_cluster.wait_state("n2", lambda state, _: "drain" in state, 10)
    print(f"after the 7-GPU gate: {login_cluster.sinfo_line('n2')}")
    assert reason == (
        "gpudoctor:GPU-068 SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the "
        "node's 8: GPU 0000:17:00.0 lost"
    )
    assert login_cluster.sinfo_states()["n1"] == ("idle", "")
    done, doc = gate(h100_node(tmp_path, 8))
    assert done.returncode == 0 and doc["action"] == "resume", doc
    login_cluster.wait_state("n2", lambda state, _: state == "idle", 10)


NO_GPU = "SLURM gives out gpu:h100:8 here; the node has no GPU"
"""GD-GPU-068 of n1 and n2 (gpu:h100:8 on this host without a GPU): fleet run's title and the
gate's error alike."""
NO_GPU_REASON = f"gpudoctor:GPU-068 {NO_GPU}"
"""What the gate drains such a node with, and what fleet run's fix tells the admin to set."""


def test_fleet_run_calls_a_gpu_node_without_its_gpus_an_error(
    login_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # n1-n2 promise gpu:h100:8 (gres.conf names stand-in devices), but this host has no GPU:
    # every --gres=gpu job there would fail. They read "with a warning" and the run exited 0.
    out = tmp_path / "run"
    done = gpudoctor(
        login_cluster,
        "fleet", "run", "-d", str(out), "--check-args=--no-frameworks", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    verdicts = {n["node"]: n["verdict"] for n in report["nodes"]}
    assert verdicts == {"n1": "error", "n2": "error", "n3": "warning"}  # n3: no GPU GRES
    assert report["findings"]["GD-GPU-068"] == ["n1", "n2"]
    (place,) = report["finding_info"]["GD-GPU-068"]["places"]
    assert place["titles"] == [NO_GPU]
    # the drain its fix names is the gate's own (it read reason="GPUs missing", and the gate
    # drained with "... SLURM gives out 8 GPUs on n1; the node has no GPU")
    (fix,) = [e for e in place["evidence"] if e.startswith("fix: ")]
    assert f"state=drain reason='{NO_GPU_REASON}'`" in fix
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["gres"] == {"n1": ["gpu:h100:8"], "n2": ["gpu:h100:8"], "n3": []}


def test_the_gate_on_a_gpu_node_with_no_gpu_at_all_drains_it(login_cluster: SlurmCluster) -> None:
    # As HealthCheckProgram runs it on n1 (Gres=gpu:h100:8) of this host, which has no GPU and
    # no driver: it said "gpudoctor health: ok", while fleet run called n1 an error.
    done = gpudoctor(
        login_cluster, "check", "--health-check", "--drain", "--node", "n1", "--format", "json"
    )
    doc = json.loads(done.stdout)
    try:
        assert done.returncode == 1, done.stderr
        assert [e["title"] for e in doc["errors"]] == [NO_GPU]  # as fleet run's title reads
        _, reason = login_cluster.wait_state("n1", lambda state, _: "drain" in state, 10)
        assert reason == NO_GPU_REASON
    finally:
        if "drain" in login_cluster.sinfo_states()["n1"][0]:
            login_cluster.resume("n1")  # the other tests of the module need n1


def test_fleet_pairs_pairs_no_nodes_of_two_partitions(login_cluster: SlurmCluster) -> None:
    # n1 (gpu) and n3 (cpu): srun refused the pair ("Requested node configuration is not
    # available"), exit 1 with no word of why; now it is bad input before any srun
    done = gpudoctor(login_cluster, "fleet", "pairs", "-w", "n1,n3", "-d", "/nonexistent/x")
    assert done.returncode == 2, done.stderr
    assert "n1 (gpu), n3 (cpu) share none" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


GATE = """#!/bin/sh
exec env PYTHONPATH={root} {python} -m gpudoctor check --health-check --drain \\
  --node "$SLURMD_NODENAME" >>{log} 2>&1
"""


def test_up_with_the_gate_as_health_check_program_counts_the_drained_gpu_node_as_up(
    tmp_path: Path,
) -> None:
    """scripts/slurm-cluster up with HEALTHCHECK_PROGRAM on a GPU_NODES cluster failed ("nodes
    not idle after 60s: n1 drained"): the gate drains n1 (gpu:h100:8, no GPU on this host) at
    once, so it never reached the idle up waited for."""
    reason = _why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    if have_gpu():
        pytest.skip("this host has an NVIDIA GPU: the gate would not drain n1")
    program, log = tmp_path / "gate.sh", tmp_path / "gate.log"
    program.write_text(GATE.format(root=ROOT, python=sys.executable, log=log))
    program.chmod(0o755)
    settings = {"GPU_NODES": "1", "HEALTHCHECK_PROGRAM": str(program), "UP_TIMEOUT": "30"}
    with running_cluster(2, **settings) as cluster:
        states = cluster.sinfo_states()
        assert states["n2"] == ("idle", "")
        assert states["n1"][0] == "drained", log.read_text()
        assert states["n1"][1].startswith("gpudoctor:GPU-068 SLURM gives out gpu:h100:8 here")
