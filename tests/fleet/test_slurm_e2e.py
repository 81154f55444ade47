"""End to end: fleet run, fleet report and the health gate against a real SLURM cluster."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import have_gpu
from tests.fleet.conftest import (
    ROOT,
    SlurmCluster,
    cluster_down,
    cluster_up,
    free_port_base,
    script,
    slurm_path,
    why_no_slurm,
)

pytestmark = pytest.mark.slurm

REPORTS = ROOT / "tests" / "data" / "reports"
FAILING_REPORT = REPORTS / "failure__no_driver.json"
"""check exits 1 on it: the kernel driver is missing (an error finding the gate acts on)."""
HEALTHY_REPORT = REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
"""check exits 0 on it: a healthy H100 node."""
MISMATCH_REPORT = REPORTS / "failure__driver_library_mismatch.json"
"""The gate's one error on it is GD-NVML-003, an ID of the longest kind (11 characters)."""
FAST_CHECK = "--check-args=--no-frameworks"
"""The frameworks are not what these tests are about, and importing them costs seconds."""


def gpudoctor(
    cluster: SlurmCluster, *args: str, timeout: float = 180.0
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Runs ``python -m gpudoctor ARGS`` with the cluster's SLURM_CONF; the result and seconds."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gpudoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cluster.environ(),
        cwd=ROOT,
        check=False,
    )
    took = time.monotonic() - start
    print(f"gpudoctor {' '.join(args)}: exit {done.returncode} in {took:.1f} s")
    return done, took


def fleet_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def by_node(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["node"]: row for row in rows}


def fleet_run(
    cluster: SlurmCluster, out: Path, *args: str, time_limit: int = 120
) -> tuple[subprocess.CompletedProcess[str], float]:
    return gpudoctor(
        cluster,
        "fleet",
        "run",
        "--output-dir",
        str(out),
        "--time-limit",
        str(time_limit),
        FAST_CHECK,
        "--format",
        "json",
        *args,
        timeout=time_limit + 60,
    )


def test_cluster_is_up(slurm_cluster: SlurmCluster) -> None:
    print(f"bring-up to all idle: {slurm_cluster.up_seconds:.2f} s")
    assert slurm_cluster.sinfo_states() == dict.fromkeys(slurm_cluster.nodes, ("idle", ""))
    partitions = slurm_cluster.slurm("sinfo", "-h", "-o", "%P %D").split()
    assert partitions == ["gpu*", "3"]


def test_healthy_nodes_are_reported(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done, _ = fleet_run(slurm_cluster, out, "--partition", "gpu")
    report = fleet_json(done)

    nodes = by_node(report["nodes"])
    assert sorted(nodes) == ["n1", "n2", "n3"]
    assert report["not_reached"] == []
    assert report["unreadable"] == []
    for node in slurm_cluster.nodes:
        saved = json.loads((out / "check" / f"{node}.json").read_text())
        assert nodes[node]["verdict"] == saved["verdict"]
        assert set(nodes[node]["finding_ids"]) <= {finding["id"] for finding in saved["findings"]}
    if not have_gpu():
        # No GPU here, so every node's verdict is check's "no NVIDIA GPU" warning: exit 0.
        assert done.returncode == 0, done.stderr
        assert {row["verdict"] for row in nodes.values()} == {"warning"}
        assert sorted(report["findings"]["GD-DRV-001"]) == ["n1", "n2", "n3"]
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["not_reached"] == []

    # The saved directory aggregates to the same nodes.
    again = fleet_json(gpudoctor(slurm_cluster, "fleet", "report", str(out), "--format", "json")[0])
    assert sorted(by_node(again["nodes"])) == ["n1", "n2", "n3"]


def test_nodelist_and_exclude_pick_nodes(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done, _ = fleet_run(slurm_cluster, out, "--nodelist", "n[1-3]", "--exclude", "n2")
    report = fleet_json(done)
    assert done.returncode == 0, done.stderr
    assert sorted(by_node(report["nodes"])) == ["n1", "n3"]
    assert not (out / "check" / "n2.json").exists()


def test_an_exclude_that_matches_no_selected_node_is_said(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # -x n9 (a typo for n2, or a node of another partition) left out nothing, without a word
    out = tmp_path / "run"
    done, _ = fleet_run(slurm_cluster, out, "--partition", "gpu", "--exclude", "n2,n9")
    report = fleet_json(done)
    assert done.returncode == 0, done.stderr
    assert sorted(by_node(report["nodes"])) == ["n1", "n3"]  # a warning: n2 still left out
    warned = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warned == [
        "fleet: warning: --exclude n9: not among the nodes selected (partition gpu), so it "
        "left out nothing"
    ]
    plain, _ = fleet_run(slurm_cluster, tmp_path / "again", "-w", "n[1-2]", "-x", "n2")
    assert "warning" not in plain.stderr, plain.stderr


def test_drained_node_is_not_reached_and_not_waited_on(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    slurm_cluster.drain("n2", "maintenance window")
    out = tmp_path / "run"
    # With --immediate 30, an srun tried on the drained node would alone take 30 s.
    done, took = fleet_run(
        slurm_cluster, out, "--partition", "gpu", "--immediate", "30", time_limit=120
    )
    report = fleet_json(done)

    assert done.returncode == 1, done.stderr
    assert took < 20, f"took {took:.1f} s: the drained node was waited on"
    missing = by_node(report["not_reached"])
    assert sorted(missing) == ["n2"]
    assert missing["n2"]["state"].startswith("drain")
    assert missing["n2"]["reason"] == "maintenance window"
    assert sorted(by_node(report["nodes"])) == ["n1", "n3"]
    assert not (out / "check" / "n2.json").exists()
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert [row["node"] for row in manifest["not_reached"]] == ["n2"]

    # fleet report on the saved directory still names the node that was not reached.
    again = fleet_json(gpudoctor(slurm_cluster, "fleet", "report", str(out), "--format", "json")[0])
    assert sorted(by_node(again["not_reached"])) == ["n2"]


WRONG_PROGRAM = """#!/bin/sh
echo '{"schema_version": 3, "host": {"hostname": "'"$SLURMD_NODENAME"'"'
echo 'Traceback (most recent call last):' >&2
echo 'MemoryError' >&2
exit 3
"""


def test_a_subset_run_again_keeps_the_record_of_the_rest_and_unusable_output(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # n2 drained at the first run; n3 run again with --force, where a wrong program answers:
    # n2 vanished from the manifest (exit 0 over a drained node), and what n3 sent was lost
    slurm_cluster.drain("n2", "PSU swap")
    out = tmp_path / "run"
    first = fleet_json(fleet_run(slurm_cluster, out, "--partition", "gpu")[0])
    assert sorted(by_node(first["not_reached"])) == ["n2"]
    wrong = tmp_path / "wrong.sh"
    wrong.write_text(WRONG_PROGRAM)
    wrong.chmod(0o755)
    done, _ = fleet_run(slurm_cluster, out, "-w", "n3", "--force", "--command", str(wrong))
    report = fleet_json(done)
    assert done.returncode == 1, done.stderr
    assert by_node(report["not_reached"])["n2"]["reason"] == "PSU swap"
    kept = out / "check" / "n3.unusable.txt"
    assert [(u["node"], u["path"]) for u in report["unreadable"]] == [("n3", str(kept))]
    text = kept.read_text()
    assert "# ended: exit status 3" in text and "\nMemoryError\n" in text, text
    assert '{"schema_version": 3, "host": {"hostname": "n3"' in text, text
    assert sorted(by_node(report["nodes"])) == ["n1"]
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert sorted(manifest["partitions"]) == ["n1", "n2", "n3"]
    # which run checked each node: n1 and n2 by the first, n3 by the wrong program's
    runs = manifest["runs"]
    assert [sorted(r["nodes"]) for r in runs] == [["n1", "n2"], ["n3"]], runs
    assert runs[1]["command"][0] == str(wrong) and runs[0]["command"][0] != str(wrong)
    assert runs[0]["created_at"] <= runs[1]["created_at"] == manifest["created_at"]


def test_stopped_slurmd_is_reported_within_the_time_limit(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # Right after the stop slurmctld still lists the node idle: srun must fail on it, not hang.
    slurm_cluster.stop_node("n3")
    assert slurm_cluster.sinfo_states()["n3"][0].startswith("idle")
    time_limit = 45
    out = tmp_path / "run"
    done, took = fleet_run(
        slurm_cluster, out, "--partition", "gpu", "--node-timeout", "30", time_limit=time_limit
    )
    report = fleet_json(done)

    assert done.returncode == 1, done.stderr
    assert took < time_limit + 10, f"took {took:.1f} s with --time-limit {time_limit}"
    lost = set(by_node(report["not_reached"])) | set(by_node(report["unreadable"]))
    assert lost == {"n3"}, report
    assert sorted(by_node(report["nodes"])) == ["n1", "n2"]
    assert (out / "check" / "n1.json").exists()
    assert (out / "check" / "n2.json").exists()


@pytest.mark.slow
def test_down_node_is_not_reached(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    slurm_cluster.stop_node("n3")
    # SlurmdTimeout is short in the test cluster, yet DOWN takes about 20-30 s here.
    state, reason = slurm_cluster.wait_state("n3", lambda state, _: state.startswith("down"), 60)
    out = tmp_path / "run"
    done, took = fleet_run(
        slurm_cluster, out, "--partition", "gpu", "--immediate", "30", time_limit=120
    )
    report = fleet_json(done)

    assert done.returncode == 1, done.stderr
    assert took < 20, f"took {took:.1f} s: the down node was waited on"
    missing = by_node(report["not_reached"])
    assert sorted(missing) == ["n3"]
    assert missing["n3"]["state"] == state
    assert missing["n3"]["reason"] == reason == "Not responding"


def gate(
    cluster: SlurmCluster, report: Path, node: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    return gpudoctor(
        cluster,
        "check",
        "--health-check",
        "--drain",
        "--from-report",
        str(report),
        "--node",
        node,
        timeout=60,
    )


def test_gate_drains_then_resumes_the_node(slurm_cluster: SlurmCluster) -> None:
    done, _ = gate(slurm_cluster, FAILING_REPORT, "n2")
    assert done.returncode == 1, done.stderr
    _, reason = slurm_cluster.wait_state("n2", lambda state, _: "drain" in state, 10)
    line = slurm_cluster.sinfo_line("n2")
    print(f"after the failing gate: {line}")
    assert line.startswith("n2 drained gpudoctor:DRV-")
    assert reason.startswith("gpudoctor:DRV-")
    # The other nodes are left alone.
    assert slurm_cluster.sinfo_states()["n1"] == ("idle", "")

    done, _ = gate(slurm_cluster, HEALTHY_REPORT, "n2")
    assert done.returncode == 0, done.stderr
    slurm_cluster.wait_state("n2", lambda state, _: state == "idle", 10)
    print(f"after the passing gate: {slurm_cluster.sinfo_line('n2')}")
    assert slurm_cluster.sinfo_line("n2") == "n2 idle none"


def test_gate_never_resumes_a_node_drained_by_someone_else(slurm_cluster: SlurmCluster) -> None:
    slurm_cluster.drain("n1", "maintenance")
    done, _ = gate(slurm_cluster, HEALTHY_REPORT, "n1")
    assert done.returncode == 0, done.stderr
    time.sleep(1)  # an (unwanted) resume would show within a second
    state, reason = slurm_cluster.sinfo_states()["n1"]
    assert "drain" in state
    assert reason == "maintenance"


def sinfo_r(cluster: SlurmCluster) -> dict[str, str]:
    """{node: its line} of ``sinfo -R`` in its default format, as an admin reads it."""
    out = cluster.slurm("sinfo", "-R")
    print(out)
    lines = out.splitlines()
    assert lines[0].split() == ["REASON", "USER", "TIMESTAMP", "NODELIST"], out
    return {line.split()[-1]: line for line in lines[1:]}


def test_sinfo_r_shows_the_gates_finding_id_and_the_gate_resumes_only_its_own(
    slurm_cluster: SlurmCluster,
) -> None:
    # sinfo -R shows 20 characters of a reason: the gate's 'gpudoctor: GD-NVML-003 ...' read
    # 'gpudoctor: GD-NVML-0', which no admin could tell from GD-NVML-002 or -005
    done, _ = gate(slurm_cluster, MISMATCH_REPORT, "n1")
    assert done.returncode == 1, done.stderr
    slurm_cluster.wait_state("n1", lambda state, _: "drain" in state, 10)
    # a drain of a gpudoctor before 2026-12-08, and one by hand that names gpudoctor (every
    # reason starting 'gpudoctor:' was resumed)
    old = "gpudoctor: GD-NVML-003 Driver/library version mismatch: the driver was updated"
    slurm_cluster.drain("n2", old)
    slurm_cluster.drain("n3", "gpudoctor: held back, ask bob")
    shown = sinfo_r(slurm_cluster)
    assert shown["n1"].startswith("gpudoctor:NVML-003 D ")  # the 20 characters, then a space
    assert shown["n2"].startswith("gpudoctor: GD-NVML-0 ")  # the old form, cut
    seen = shown["n1"][:20].split()[0]  # 'gpudoctor:NVML-003', as an admin copies it
    explained = gpudoctor(slurm_cluster, "explain", seen)[0]
    assert explained.returncode == 0 and explained.stdout.startswith("GD-NVML-003\n")

    for node in ("n1", "n2", "n3"):
        done, _ = gate(slurm_cluster, HEALTHY_REPORT, node)
        assert done.returncode == 0, done.stderr
    slurm_cluster.wait_state("n1", lambda state, _: state == "idle", 10)
    slurm_cluster.wait_state("n2", lambda state, _: state == "idle", 10)
    time.sleep(1)  # an (unwanted) resume would show within a second
    state, reason = slurm_cluster.sinfo_states()["n3"]
    assert "drain" in state and reason == "gpudoctor: held back, ask bob"


def test_gate_names_the_node_from_slurmd_nodename(slurm_cluster: SlurmCluster) -> None:
    # As a HealthCheckProgram or Prolog runs it: no --node, SLURMD_NODENAME set by slurmd.
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpudoctor",
            "check",
            "--health-check",
            "--drain",
            "--from-report",
            str(FAILING_REPORT),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**slurm_cluster.environ(), "SLURMD_NODENAME": "n3"},
        cwd=ROOT,
        check=False,
    )
    print(f"gate with SLURMD_NODENAME: exit {done.returncode} in {time.monotonic() - start:.1f} s")
    assert done.returncode == 1, done.stderr
    _, reason = slurm_cluster.wait_state("n3", lambda state, _: "drain" in state, 10)
    assert reason.startswith("gpudoctor:DRV-")


def test_gate_names_an_unreachable_controller_and_a_missing_config(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # The cluster's own config, with slurmctld moved to a port nothing listens on.
    conf = (slurm_cluster.dir / "etc" / "slurm.conf").read_text()
    wrong = tmp_path / "slurm.conf"
    wrong.write_text(re.sub(r"(?m)^SlurmctldPort=.*$", f"SlurmctldPort={free_port_base(1)}", conf))
    for conf_path, cause, words, within in (
        (wrong, "controller_unreachable", "Unable to contact slurm controller", 15.0),
        (tmp_path / "nowhere.conf", "config_missing", "names no file", 5.0),
    ):
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gpudoctor",
                "check",
                "--health-check",
                "--drain",
                "--node",
                "n1",
                "--from-report",
                str(FAILING_REPORT),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**slurm_cluster.environ(), "SLURM_CONF": str(conf_path)},
            cwd=ROOT,
            check=False,
        )
        took = time.monotonic() - start
        print(f"gate with {cause}: exit {done.returncode} in {took:.1f} s")
        assert done.returncode == 1, done.stderr  # the node's health, whatever SLURM says
        doc = json.loads(done.stdout)
        assert doc["slurm"] == cause and doc["action"] == "none", doc
        assert words in doc["message"]
        assert took < within
    assert slurm_cluster.sinfo_states()["n1"] == ("idle", "")


HEALTHCHECK = """#!/bin/sh
# HealthCheckProgram for the test: the gate on a failing report while {trigger} exists.
report={healthy}
[ -e {trigger} ] && report={failing}
exec {python} -m gpudoctor check --health-check --drain --from-report "$report" \
  >>{log} 2>&1
"""


@pytest.mark.slow
def test_gate_as_health_check_program(tmp_path: Path) -> None:
    """slurmd itself runs the gate (HealthCheckProgram): it drains the node, then resumes it."""
    reason = why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    trigger, log = tmp_path / "fail", tmp_path / "healthcheck.log"
    program = tmp_path / "healthcheck.sh"
    program.write_text(
        HEALTHCHECK.format(
            trigger=trigger,
            healthy=HEALTHY_REPORT,
            failing=FAILING_REPORT,
            python=sys.executable,
            log=log,
        )
    )
    program.chmod(0o755)
    directory, _ = cluster_up(nodes=1, HEALTHCHECK_PROGRAM=str(program))
    try:
        cluster = SlurmCluster(
            dir=directory,
            env={"SLURM_CONF": str(directory / "etc" / "slurm.conf"), "PATH": slurm_path()},
            nodes=["n1"],
        )
        trigger.touch()
        start = time.monotonic()
        _, why = cluster.wait_state("n1", lambda state, _: "drain" in state, 60)
        print(f"drained by the health check in {time.monotonic() - start:.1f} s: {why}")
        assert why.startswith("gpudoctor:DRV-"), log.read_text()
        trigger.unlink()
        start = time.monotonic()
        cluster.wait_state("n1", lambda state, _: state == "idle", 60)
        print(f"resumed by the health check in {time.monotonic() - start:.1f} s")
    finally:
        done = cluster_down(directory)
        assert done.returncode == 0, done.stderr


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if " Z " in (proc / "stat").read_text().rsplit(")", 1)[1][:3]:
                continue  # a zombie waiting for PID 1 to reap it is no longer running
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline or text.encode() in environ:
            args = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {args}")
    return found


def test_down_leaves_no_process_behind() -> None:
    reason = why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    directory, _ = cluster_up(nodes=1)
    cluster = SlurmCluster(
        dir=directory,
        env={"SLURM_CONF": str(directory / "etc" / "slurm.conf"), "PATH": slurm_path()},
        nodes=["n1"],
    )
    # A job still running at teardown: its srun, slurmstepd and task must all end with it.
    job = subprocess.Popen(
        [str(shutil.which("srun", path=slurm_path())), "-N1", "sleep", "300"],
        env=cluster.environ(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while "R" not in cluster.slurm("squeue", "-h", "-o", "%t").split():
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
        assert processes_mentioning(str(directory)), "the test sees no daemon of the cluster"

        start = time.monotonic()
        done = cluster_down(directory)
        print(f"down with a running job: {time.monotonic() - start:.1f} s")
        assert done.returncode == 0, done.stderr
        job.wait(timeout=30)
        assert not directory.exists()
        deadline = time.monotonic() + 10
        while (left := processes_mentioning(str(directory))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == []
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        if directory.exists():
            cluster_down(directory)


@pytest.mark.parametrize("listening", [True, False], ids=["port-in-use", "slurmd-dies"])
def test_up_fails_at_once_on_a_taken_port(listening: bool) -> None:
    """A listener on a slurmd port is refused before anything starts; a port that is only
    bound (so the pre-check cannot see it) makes that slurmd exit, and up fails then."""
    reason = why_no_slurm()
    if reason is not None:
        pytest.skip(reason)
    base = free_port_base(4)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", base + 2))
        if listening:
            taken.listen()
        start = time.monotonic()
        done = script("up", env={**os.environ, "PATH": slurm_path(), "CTLD_PORT": str(base)})
        took = time.monotonic() - start
    print(f"up refused in {took:.2f} s")
    assert done.returncode == 1
    assert done.stdout == ""
    assert took < 20
    if listening:
        assert f"port {base + 2} is in use" in done.stderr
    else:
        assert "exited during bring-up: slurmd:n2" in done.stderr
        directory = re.search(r"tail of (/\S+)/log/", done.stderr)
        assert directory is not None, done.stderr
        assert not Path(directory.group(1)).exists()
        deadline = time.monotonic() + 10  # slurmctld's own helper may take a moment to end
        while (left := processes_mentioning(directory.group(1))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == []


def test_an_srun_started_as_gpudoctor_stops_cancels_its_job(
    slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM to gpudoctor (stop_all) landing between srun's start and its registration: the
    late srun was SIGKILLed, and its job ran on in the cluster (srun cancels it only on SIGTERM
    or SIGINT)."""
    from gpudoctor.probe import runcmd

    original = runcmd.track

    def stopped_first(proc: subprocess.Popen[str], term_grace_s: float = 0.0) -> bool:
        deadline = time.monotonic() + 30
        while "R" not in slurm_cluster.slurm("squeue", "-h", "-o", "%t").split():
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
        runcmd.stop_all()
        return original(proc, term_grace_s)

    monkeypatch.setattr(runcmd, "track", stopped_first)
    srun = shutil.which("srun", path=slurm_path()) or "srun"
    try:
        result = runcmd.run_cmd(
            [srun, "-N1", "-J", "qa-late", "sleep", "300"],
            timeout_s=120,
            term_grace_s=10,
            env=slurm_cluster.environ(),
        )
    finally:
        runcmd.allow_children()
    assert result.cancelled
    deadline = time.monotonic() + 10
    while (left := slurm_cluster.slurm("squeue", "-h", "-n", "qa-late", "-o", "%i %t")).strip():
        assert time.monotonic() < deadline, f"the job runs on after gpudoctor stopped: {left}"
        time.sleep(0.2)
