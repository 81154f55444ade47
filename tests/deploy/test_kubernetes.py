"""deploy/kubernetes: the DaemonSet and the Job target GPU nodes and write one report per node."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
DAEMONSET = KUBE / "gpudoctor-daemonset.yaml"
JOB = KUBE / "gpudoctor-job.yaml"
REPORT = "/reports/$(NODE_NAME).json"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def workload(path: Path, kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in documents(path) if doc["kind"] == kind]
    return found


def container(path: Path, kind: str) -> dict[str, Any]:
    (only,) = workload(path, kind)["spec"]["template"]["spec"]["containers"]
    return only


def script(c: dict[str, Any]) -> str:
    assert c["command"] == ["/bin/sh", "-c"]
    (text,) = c["args"]
    return str(text)


def gpudoctor_argv(text: str, subcommand: str) -> list[str]:
    """The words of the script's `python3 -m gpudoctor SUBCOMMAND ...` line."""
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:4] == ["python3", "-m", "gpudoctor", subcommand]:
            return words
    raise AssertionError(f"no gpudoctor {subcommand} in {text!r}")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) substitution in command and args, for the variables it knows."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), text)


def fake_python(tmp_path: Path, rc: int) -> dict[str, str]:
    """A PATH whose python3 logs its argv and exits with ``rc``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\nexit {rc}\n', encoding="utf-8")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize(("path", "kind"), [(DAEMONSET, "DaemonSet"), (JOB, "Job")])
def test_the_workload_runs_check_on_gpu_nodes_into_a_file_named_after_the_node(path, kind):
    pod = workload(path, kind)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    c = container(path, kind)
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all"
    # It sees every GPU without taking one away from the jobs.
    assert "nvidia.com/gpu" not in str(c.get("resources", {}))
    argv = gpudoctor_argv(script(c), "check")
    assert argv[argv.index("--format") + 1] == "json"
    assert argv[argv.index("--output") + 1] == REPORT
    assert "--force" in argv
    # The report directory is a volume every node can reach.
    (mount,) = [m for m in c["volumeMounts"] if REPORT.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = volume["persistentVolumeClaim"]["claimName"]
    pvc = workload(path, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_job_is_indexed_one_pod_per_node_and_bounded():
    job = workload(JOB, "Job")["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"]
    assert job["backoffLimitPerIndex"] == 0
    assert job["activeDeadlineSeconds"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= job["template"]["metadata"]["labels"].items()
    )


def test_the_daemonset_selects_its_own_pods():
    spec = workload(DAEMONSET, "DaemonSet")["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize(("rc", "succeeds"), [(0, True), (1, True), (2, False), (3, False)])
def test_the_job_pod_succeeds_when_check_found_problems_and_fails_when_check_failed(
    tmp_path, rc, succeeds
):
    text = expand(script(container(JOB, "Job")), {"NODE_NAME": "gpu-007"})
    run = subprocess.run(
        ["/bin/sh", "-c", text],
        env=fake_python(tmp_path, rc),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (run.returncode == 0) is succeeds
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["-m gpudoctor check --format json --output /reports/gpu-007.json --force"]


def test_the_daemonset_checks_again_survives_problems_and_stops_on_sigterm(tmp_path):
    c = container(DAEMONSET, "DaemonSet")
    env = {"NODE_NAME": "gpu-007", "INTERVAL_S": "0.2"}
    text = expand(script(c), env)
    proc = subprocess.Popen(["/bin/sh", "-c", text], env=fake_python(tmp_path, 1))
    calls = tmp_path / "calls"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if calls.exists() and len(calls.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None  # exit 1 (problems found) did not end the container
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = calls.read_text().splitlines()
    assert len(lines) >= 2
    assert set(lines) == {"-m gpudoctor check --format json --output /reports/gpu-007.json --force"}
