"""How each container runtime is started with the GPU (containers.toml): one row per runtime,
which check, make-env and verify all quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.datarows import Table
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import load
from gpudoctor.kb.containers import gpu_starts

RUNTIMES = ("docker", "podman", "apptainer", "kubernetes")

ROW: Table = {"runtime": "docker", "start": "docker run --gpus all ...", "source": "x"}


def test_every_runtime_the_probe_names_has_its_own_row_and_the_others_get_dockers():
    kb = load()
    assert sorted(r.runtime for r in kb.gpu_starts) == sorted(RUNTIMES)
    assert kb.gpu_start("container") == kb.gpu_start("docker")
    podman = kb.gpu_start("podman")
    assert podman is not None and podman.start == "podman run --device nvidia.com/gpu=all ..."
    assert podman.text.startswith(f"{podman.start} (with the NVIDIA Container Toolkit's CDI")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([ROW, ROW], "runtime 'docker' is listed twice"),
        ([{**ROW, "runtime": "podman"}], "no 'docker' row"),
        ([{**ROW, "start": " "}], "start must be a non-empty string"),
        ([{**ROW, "command": "x"}], "command"),
    ],
)
def test_a_bad_table_is_refused(rows: list[Table], message: str):
    import datetime as dt

    dated = [{**r, "as_of": dt.date(2026, 12, 8)} for r in rows]
    with pytest.raises(KnowledgeBaseError, match=message):
        gpu_starts({"gpu_start": dated}, "containers.toml")


def _verify_root(tmp_path: Path, runtime: str) -> tuple[dict[str, str], Path]:
    """A container of ``runtime`` whose host shows its H100 in /sys (verify's view)."""
    marker = {
        "docker": "/.dockerenv",
        "podman": "/run/.containerenv",
        "apptainer": "/.singularity.d/env/90-environment.sh",
        "kubernetes": "/.dockerenv",
    }[runtime]
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1"} if runtime == "kubernetes" else {}
    root = tmp_path / "root"
    (root / marker.lstrip("/")).parent.mkdir(parents=True)
    (root / marker.lstrip("/")).touch()
    gpu = root / "sys/bus/pci/devices/0000:01:00.0"
    gpu.mkdir(parents=True)
    for name, value in (("vendor", "0x10de"), ("class", "0x030200"), ("device", "0x2330")):
        (gpu / name).write_text(value + "\n")
    return env, root


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_check_make_env_and_verify_tell_one_runtime_the_same_way_to_the_gpu(
    tmp_path: Path, runtime: str
):
    # Three tables said it: a podman container was told `podman run --device
    # nvidia.com/gpu=all` by check and make-env, but `docker run --gpus all ... (podman:
    # ...)` by verify; a pod three differently worded limits; make-env's docker line left out
    # the toolkit it needs
    from gpudoctor.cli.verify_where import container_reason
    from gpudoctor.envplan.plan import Request, make_plan
    from gpudoctor.envplan.target import Target
    from gpudoctor.probe.base import ProbeContext
    from tests.rules.builders import findings, no_gpu_machine, with_env

    start = load().gpu_start(runtime)
    assert start is not None
    report = with_env(no_gpu_machine(container=runtime), NVIDIA_VISIBLE_DEVICES="all")
    (check,) = findings(report, "GD-DRV-001")
    assert any(step.endswith(f": {start.text}") for step in check.fix), check.fix
    plan = make_plan(load(), Target(driver=None, cc=None, container=runtime), Request())
    (make_env,) = [w for w in plan.warnings if w.startswith("no NVIDIA GPU is visible")]
    assert make_env.endswith(f": {start.text}")
    env, root = _verify_root(tmp_path, runtime)
    verify = container_reason(ProbeContext(env=env, root=root))
    assert verify is not None and f": {start.text}, and" in verify.message


@pytest.mark.parametrize("runtime", (*RUNTIMES, "container"))
def test_nvml_and_cudas_container_recipes_quote_the_tables_command(runtime: str):
    # GD-NVML-001 and GD-CUDA-001 wrote their recipes by hand: a docker container read
    # 'docker run --gpus all ... (podman: --device nvidia.com/gpu=all)' (NVML) and 'docker run
    # --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility ...' (CUDA), a pod
    # 'resources.limits: nvidia.com/gpu: 1', Apptainer 'apptainer exec --nv IMAGE python
    # train.py' and 'apptainer shell --nv IMAGE': each runtime now gets the table's one command
    from tests.rules.builders import broken_nvml, findings, healthy, with_cuda, with_host

    start = load().gpu_start(runtime)
    assert start is not None
    others = {r.start for r in load().gpu_starts} - {start.start}
    no_libcuda = {"libcuda_path": None, "cu_init_result": None, "libcuda_error": "not found"}
    report = with_cuda(broken_nvml(healthy(), "library_not_found"), **no_libcuda)
    report = with_host(report, container=runtime)
    for rule_id in ("GD-NVML-001", "GD-CUDA-001"):
        (found,) = findings(report, rule_id)
        commands = [step for step in found.fix if start.start in step]
        assert commands, (rule_id, found.fix)
        assert not any(other in step for step in found.fix for other in others), found.fix
        assert not any("podman:" in step or "--gpus all -e" in step for step in found.fix)


def test_wsl2_container_fixes_quote_dockers_row_too():
    # Under WSL2, GD-NVML-001, GD-CUDA-001 and GD-CUDA-004 spelt 'docker run --gpus all ...'
    # by hand (facts.WSL_CONTAINER_FIX, WSL_DXG_FIX, GD-CUDA-004's container step): a change
    # to the table's docker row reached every container fix but those
    from dataclasses import replace

    from tests.rules.builders import findings, no_gpu_machine, with_cuda, with_host

    kb = load()
    row = kb.gpu_start("docker")
    assert row is not None
    marked = replace(row, start="docker run --runtime=nvidia --gpus all ...")
    kb = replace(kb, gpu_starts=(marked, *(r for r in kb.gpu_starts if r.runtime != "docker")))
    wsl = {"wsl": True, "kernel": "6.6.87.2-microsoft-standard-WSL2"}
    bare = with_host(no_gpu_machine(container="docker"), **wsl, dxg=False)
    given = with_host(no_gpu_machine(container="docker"), **wsl, dxg=True)
    no_device = with_host(
        with_cuda(no_gpu_machine(), cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE"),
        container="docker",
        **wsl,
        wsl_libcuda="/usr/lib/wsl/lib/libcuda.so.1",
    )
    for report, rule_id in (
        (bare, "GD-NVML-001"),
        (bare, "GD-CUDA-001"),
        (given, "GD-NVML-001"),
        (given, "GD-CUDA-001"),
        (no_device, "GD-CUDA-004"),
    ):
        (found,) = findings(report, rule_id, kb)
        steps = " ".join(found.fix)
        assert marked.start in steps, (rule_id, found.fix)
        assert "docker run --gpus all" not in steps, (rule_id, found.fix)


@pytest.mark.parametrize("runtime", ["podman", "apptainer", "kubernetes"])
def test_no_device_in_a_container_is_told_its_runtimes_start(runtime: str):
    # GD-CUDA-004 in any container said 'docker run --gpus all ...'
    from tests.rules.builders import findings, healthy, with_cuda, with_host

    start = load().gpu_start(runtime)
    assert start is not None
    report = with_host(
        with_cuda(healthy(), cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE"),
        container=runtime,
    )
    (found,) = findings(report, "GD-CUDA-004")
    assert any(start.start in step for step in found.fix), found.fix
    assert not any("docker run" in step for step in found.fix), found.fix


def test_device_file_and_revoked_cgroup_fixes_quote_the_tables_command():
    # GD-DRV-005 ('In a container: docker run --gpus all ...', to a podman container too) and
    # GD-NVML-011 ('docker rm -f NAME && docker run --gpus all ...') spelt it by hand
    from dataclasses import replace

    from tests.rules.builders import (
        broken_nvml,
        findings,
        h100,
        healthy,
        with_host,
        with_nvml,
    )
    from tests.rules.test_device_access import denied

    kb = load()
    row = kb.gpu_start("docker")
    assert row is not None
    marked = replace(row, start="docker run --runtime=nvidia --gpus all ...")
    kb = replace(kb, gpu_starts=(marked, *(r for r in kb.gpu_starts if r.runtime != "docker")))
    two = with_nvml(healthy(), gpus=(h100(0), h100(1)))
    (files,) = findings(two, "GD-DRV-005", kb)
    assert files.fix[0] == f"In a container: {marked.start}"
    podman = kb.gpu_start("podman")
    assert podman is not None
    (in_podman,) = findings(with_host(two, container="podman"), "GD-DRV-005", kb)
    assert in_podman.fix[0] == f"In a container: {podman.start}"
    revoked = replace(
        with_host(broken_nvml(healthy(), "unknown_error"), container="docker"),
        device_access=denied("EPERM: Operation not permitted", cgroup_version="v2"),
    )
    (found,) = findings(revoked, "GD-NVML-011", kb)
    assert f"$ docker rm -f NAME && {marked.start}" in found.fix
