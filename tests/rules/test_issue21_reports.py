"""Issue 21, families 2, 4, 5 and 6: failures rebuilt from public threads get their real cause.

Each recorded report (tests/data/reports/failure__*.json, built by
tests/probe/make_reports_devices.py) changes a real capture only as far as its thread shows;
each test names the thread, checks the finding and that its fix is what the thread's
resolution did, and that the generic finding that used to stand in for it is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.model.findings import Diagnosis, Finding, Severity
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import diagnose

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def run(name: str) -> Diagnosis:
    return diagnose(load_report(REPORTS / f"{name}.json"))


def one(diagnosis: Diagnosis, rule_id: str) -> Finding:
    (found,) = [f for f in diagnosis.findings if f.id == rule_id]
    return found


def ids(diagnosis: Diagnosis) -> set[str]:
    return {f.id for f in diagnosis.findings}


def test_container_cut_off_by_daemon_reload():
    """https://github.com/NVIDIA/nvidia-container-toolkit/issues/48 (also #1227): NVML's
    "Unknown Error" in a running container after `systemctl daemon-reload`; the resolution is
    to recreate the container and create the /dev/char links with nvidia-ctk."""
    diagnosis = run("failure__container_gpu_access_revoked_by_daemon_reload")
    found = one(diagnosis, "GD-NVML-011")
    assert found.severity == Severity.ERROR
    assert any("EPERM: Operation not permitted" in e for e in found.evidence)
    assert any("cgroup v2" in e for e in found.evidence)
    assert any("docker rm -f" in f for f in found.fix)
    assert "$ sudo nvidia-ctk system create-dev-char-symlinks --create-all" in found.fix
    assert "GD-NVML-007" not in ids(diagnosis)  # no more generic "NVML failed to start"
    # cuInit's 999 is not the nvidia_uvm state it usually is: no rmmod, the NVML cause instead
    cuda = one(diagnosis, "GD-CUDA-002")
    assert cuda.fix == (
        "Give the process its devices back first: see GD-NVML-011 on the NVML line.",
    )


def test_hardened_service_unit_hides_the_gpu():
    """https://github.com/NixOS/nixpkgs/issues/331069 (a hardened ollama service loses the
    RTX 3090) and https://github.com/NixOS/nixpkgs/issues/363357, whose resolution added the
    device to the unit's DeviceAllow=."""
    diagnosis = run("failure__service_device_policy_hides_gpu")
    found = one(diagnosis, "GD-NVML-012")
    assert found.severity == Severity.ERROR
    assert "DeviceAllow=/dev/nvidiactl rw" in found.fix
    assert not {"GD-NVML-007", "GD-NVML-011"} & ids(diagnosis)


def test_selinux_refuses_the_devices_in_a_podman_container():
    """https://github.com/fedora-selinux/selinux-policy/issues/1695 (container_t denied
    /dev/nvidia0) and https://github.com/NVIDIA/nvidia-container-toolkit/issues/33
    ("Insufficient Permissions"): the resolution is the container_use_devices boolean."""
    diagnosis = run("failure__selinux_denies_container_nvidia_devices")
    found = one(diagnosis, "GD-NVML-013")
    assert found.severity == Severity.ERROR and found.title.startswith("SELinux")
    assert "SELinux: enforcing" in found.evidence
    assert any("container_t" in e for e in found.evidence)
    assert "$ sudo setsebool -P container_use_devices on" in found.fix
    assert "GD-NVML-004" not in ids(diagnosis)  # not the generic "add yourself to video"


def test_unlicensed_vgpu_guest():
    """https://github.com/DDMAL/Rodan/issues/1332: nvidia-smi shows the GPU idle, CUDA says
    all devices are busy or unavailable; the cause was the vGPU licence."""
    diagnosis = run("failure__vgpu_guest_unlicensed")
    found = one(diagnosis, "GD-GPU-016")
    assert found.severity == Severity.ERROR
    assert "virtualization mode vgpu" in found.evidence[0]
    assert any("nvidia-gridd" in f for f in found.fix)
    assert any("ClientConfigToken" in f for f in found.fix)


def test_every_gpu_held_by_vfio_pci():
    """https://github.com/NVIDIA/kubevirt-gpu-device-plugin/issues/45 (options vfio-pci
    ids=10de:...) and https://github.com/jurkovic-nikola/OpenLinkHub/pull/174 ("NVRM: GPU ...
    is already bound to vfio-pci"): releasing the GPU from vfio-pci is the fix."""
    diagnosis = run("failure__gpu_bound_to_vfio_pci")
    found = one(diagnosis, "GD-DRV-011")
    assert found.severity == Severity.ERROR
    assert all("vfio-pci" in e for e in found.evidence)
    assert any("vfio-pci.ids" in f for f in found.fix)
    # Not the per-GPU information, nor "NVML sees no GPU" with a dmesg hint.
    assert not {"GD-DRV-004", "GD-NVML-009", "GD-DRV-003"} & ids(diagnosis)


def test_flash_attn_build_with_the_wrong_nvcc():
    """https://github.com/Dao-AILab/flash-attention/issues/1759 (PyTorch CUDA 11.8, nvcc 12.9)
    and #219, whose resolution is an nvcc of PyTorch's CUDA."""
    diagnosis = run("failure__flash_attn_build_nvcc_mismatch")
    found = one(diagnosis, "GD-CUDA-012")
    assert found.severity == Severity.WARNING
    assert any(
        "The detected CUDA version (12.9) mismatches the version that was used to compile "
        "PyTorch (11.8)" in e
        for e in found.evidence
    )
    assert "$ export CUDA_HOME=/usr/local/cuda-11.8 PATH=/usr/local/cuda-11.8/bin:$PATH" in (
        found.fix
    )
    # conda puts the toolkit into the environment; and PyTorch compares only CUDA majors, so
    # any CUDA 12 build fits (it said "the PyTorch build for CUDA 12.9", which few releases have)
    assert (
        "or in a conda environment: $ conda install -c nvidia cuda-toolkit=11.8 "
        "&& export CUDA_HOME=$CONDA_PREFIX"
    ) in found.fix
    assert found.fix[-1].startswith("or install a PyTorch build for CUDA 12 (any 12.x build")


def test_torch_compile_cannot_find_libcuda():
    """https://github.com/pytorch/pytorch/issues/107960: "libcuda.so cannot found!" with the
    driver in /usr/lib64-nvidia; the resolution is adding that folder to the linker cache."""
    diagnosis = run("failure__torch_compile_libcuda_not_in_ldconfig")
    found = one(diagnosis, "GD-CUDA-013")
    assert found.severity == Severity.WARNING
    assert found.fix[0] == (
        "$ echo /usr/lib64-nvidia | sudo tee /etc/ld.so.conf.d/libcuda.conf && sudo ldconfig"
    )
    assert "or without root: $ export TRITON_LIBCUDA_PATH=/usr/lib64-nvidia" in found.fix


def test_torch_compile_without_a_c_compiler():
    """https://github.com/MIC-DKFZ/nnUNet/issues/2268 and
    https://github.com/apple/ml-cross-entropy/issues/5 ("Failed to find C compiler"); the
    resolution in https://github.com/kijai/ComfyUI-HunyuanVideoWrapper/issues/23 was
    build-essential (gcc gcc-c++ on Fedora, which this recorded container runs)."""
    diagnosis = run("failure__torch_compile_no_c_compiler")
    found = one(diagnosis, "GD-CUDA-014")
    assert found.severity == Severity.WARNING
    assert any("Failed to find C compiler" in e for e in found.evidence)
    assert found.fix[0].startswith("$ dnf install -y gcc gcc-c++   # as a RUN line of the image")


def test_mixed_gpus_with_visible_devices_by_index():
    """https://github.com/gpustack/gpustack/issues/1633 and
    https://github.com/nanoporetech/bonito/issues/120 (resolution: CUDA_DEVICE_ORDER=
    PCI_BUS_ID): CUDA_VISIBLE_DEVICES=0 read from nvidia-smi lands on the other card."""
    diagnosis = run("failure__mixed_gpus_visible_devices_by_index")
    found = one(diagnosis, "GD-HOST-003")
    assert found.severity == Severity.WARNING
    assert any(
        "cuda:0 is the NVIDIA L40S, but nvidia-smi's GPU 0" in e and "2080 SUPER" in e
        for e in found.evidence
    )
    assert found.fix[0].startswith("$ export CUDA_DEVICE_ORDER=PCI_BUS_ID")
    # The UUID of the card meant (nvidia-smi's GPU 0, the 2080 SUPER), not the L40S's, and
    # each card its own: a zeroed UUID shared by both would select neither.
    nvml = load_report(REPORTS / "failure__mixed_gpus_visible_devices_by_index.json").nvml
    assert nvml is not None
    uuids = {g.name: g.uuid for g in nvml.gpus}
    assert len(set(uuids.values())) == 2
    assert "GPU-00000000" not in found.fix[-1]
    assert found.fix[-1].endswith(
        f"$ export CUDA_VISIBLE_DEVICES={uuids['NVIDIA GeForce RTX 2080 SUPER']}"
    )


@pytest.mark.parametrize(
    "name",
    [
        "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle",
        "linux-x86_64__nvidia-l40s__595.80__idle",
    ],
)
def test_healthy_captures_get_none_of_the_new_findings(name):
    new = {
        "GD-NVML-011",
        "GD-NVML-012",
        "GD-NVML-013",
        "GD-GPU-016",
        "GD-DRV-011",
        "GD-CUDA-012",
        "GD-CUDA-013",
        "GD-CUDA-014",
    }
    assert not new & ids(run(name))


def test_the_two_cudnn_findings_of_one_report_install_the_same_wheel():
    # GD-CUDA-011 (a cuDNN on LD_LIBRARY_PATH shadows the wheel) said 'nvidia-cudnn-cu11==8.7.0.*'
    # and GD-TORCH-011 (the cuDNN loaded is older than the build's) 'nvidia-cudnn-cu11==8.7.0.84'
    diagnosis = run("failure__torch_cudnn_shadowed_by_ld_library_path")
    shadow, older = one(diagnosis, "GD-CUDA-011"), one(diagnosis, "GD-TORCH-011")
    installs = [
        [line for line in f.fix if line.startswith("$ pip install")] for f in (shadow, older)
    ]
    assert (
        installs[0]
        == installs[1]
        == ["$ pip install 'nvidia-cudnn-cu11==8.7.0.84'   # the cuDNN PyTorch 2.0.1+cu118 pins"]
    )
