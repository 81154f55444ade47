"""CUDA rules: libcuda, cuInit failures, a hung CUDA probe, GPUs CUDA does not see."""

from __future__ import annotations

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import PciFunction
from tests.rules.builders import (
    broken_nvml,
    findings,
    h100,
    healthy,
    no_gpu_machine,
    with_cuda,
    with_driver,
    with_env,
    with_host,
    with_nvml,
)

WSL_LIBCUDA = "/usr/lib/wsl/lib/libcuda.so.1"
NO_LIBCUDA = {
    "libcuda_path": None,
    "cu_init_result": None,
    "libcuda_error": "libcuda.so.1: cannot open shared object file",
}


def test_healthy_cuda_has_no_finding():
    for n in range(1, 11):
        assert findings(healthy(), f"GD-CUDA-{n:03d}") == [], n


def test_nvml_but_no_libcuda_in_a_container_is_the_capabilities_signature():
    report = with_nvml(with_cuda(healthy(), **NO_LIBCUDA), cuda_v2_error="library_not_found")
    report = with_env(with_host(report, container="docker"), NVIDIA_DRIVER_CAPABILITIES="utility")
    (found,) = findings(report, "GD-CUDA-001")
    assert "capabilities lack compute" in found.title
    assert "NVIDIA_DRIVER_CAPABILITIES='utility'" in found.evidence
    assert any("(v1 answered)" in e for e in found.evidence)
    assert any("compute,utility" in step for step in found.fix)


def test_nvml_v2_error_alone_counts_when_the_cuda_probe_did_not_run():
    report = with_nvml(
        with_cuda(healthy(), status="skipped", cu_init_result=None),
        cuda_v2_error="library_not_found",
    )
    assert findings(report, "GD-CUDA-001")
    assert findings(report, "GD-CUDA-010") == []


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ({"wsl": True}, "/usr/lib/wsl/lib"),
        ({"os": "windows"}, "nvcuda.dll"),
        ({}, "libnvidia-compute-590"),
    ],
)
def test_missing_libcuda_elsewhere(host, words):
    report = with_host(with_cuda(healthy(), **NO_LIBCUDA), **host)
    (found,) = findings(report, "GD-CUDA-001")
    assert words in found.title + " ".join(found.fix)


def test_wsl_steps_keep_the_powershell_command_a_step_of_its_own():
    # "... then > wsl --update" left the command inside prose: the terminal and Markdown show
    # a step as a command only when it starts with its prompt.
    missing = with_host(with_cuda(healthy(), **NO_LIBCUDA), wsl=True)
    (found,) = findings(missing, "GD-CUDA-001")
    assert found.fix[-1] == "> wsl --update"
    none = with_host(
        with_cuda(
            healthy(),
            libcuda_path=WSL_LIBCUDA,
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
        ),
        wsl=True,
    )
    (found,) = findings(none, "GD-CUDA-004")
    assert found.fix[-1] == "> wsl --update"
    assert not any(" > " in step for step in found.fix)


def test_no_device_under_wsl2_from_a_linux_libcuda_points_at_it_not_at_the_windows_driver():
    # A Linux libcuda before /usr/lib/wsl/lib (GD-HOST-005) was also told "Update the Windows
    # NVIDIA driver, then wsl --update": a student did, and cuInit failed just the same.
    shadowed = with_host(
        with_cuda(healthy(), cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE"), wsl=True
    )
    (found,) = findings(shadowed, "GD-CUDA-004")
    assert any("GD-HOST-005" in e for e in found.evidence)
    assert not any("wsl --update" in step or "Windows NVIDIA driver" in step for step in found.fix)
    assert findings(shadowed, "GD-HOST-005")


def test_cuinit_999_with_uvm_missing():
    report = with_cuda(healthy(), cu_init_result=999, cu_init_error="CUDA_ERROR_UNKNOWN")
    no_uvm = with_driver(report, uvm_loaded=False, dev_nodes=("/dev/nvidia0", "/dev/nvidiactl"))
    (found,) = findings(no_uvm, "GD-CUDA-002")
    assert "nvidia_uvm" in found.title
    assert "the nvidia_uvm module is not loaded" in found.evidence
    assert "/dev/nvidia-uvm is missing" in found.evidence
    assert found.fix[0].startswith("$ sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm")
    assert "no CUDA process" in found.fix[0]
    (other,) = findings(report, "GD-CUDA-002")
    assert "suspend" in other.title


@pytest.mark.parametrize(
    ("code", "words"), [(803, "does not match"), (804, "forward-compatibility")]
)
def test_cuinit_803_and_804(code, words):
    report = with_cuda(
        healthy(),
        cu_init_result=code,
        cu_init_error="X",
        libcuda_path="/usr/local/cuda/compat/libcuda.so.1",
    )
    (found,) = findings(report, "GD-CUDA-003")
    assert words in found.title
    assert "kernel module: 590.48.01" in found.evidence


@pytest.mark.parametrize("code", [100, 101])
def test_no_device_names_the_visible_devices_value(code):
    report = with_env(
        with_cuda(healthy(), cu_init_result=code, cu_init_error="CUDA_ERROR_NO_DEVICE"),
        CUDA_VISIBLE_DEVICES="",
    )
    (found,) = findings(report, "GD-CUDA-004")
    assert "CUDA_VISIBLE_DEVICES=''" in found.evidence
    assert found.fix[0] == "$ unset CUDA_VISIBLE_DEVICES"


def test_other_cuinit_errors_have_advice():
    stub = with_cuda(healthy(), cu_init_result=34, cu_init_error="CUDA_ERROR_STUB_LIBRARY")
    (found,) = findings(stub, "GD-CUDA-005")
    assert "stub" in found.title and "stubs" in found.fix[0]
    odd = with_cuda(healthy(), cu_init_result=12345, cu_init_error="CUDA_ERROR_WHATEVER")
    assert "unusual" in findings(odd, "GD-CUDA-005")[0].title
    failed = with_cuda(healthy(), status="failed", cu_init_result=None, message="child crashed")
    assert findings(failed, "GD-CUDA-005")[0].evidence == ("CUDA probe: child crashed",)
    # 802 was "an unusual error" with a dmesg grep, on the NVSwitch replay whose Kernel driver
    # line says Fabric Manager is stopped (GD-DRV-010)
    fm = with_cuda(healthy(), cu_init_result=802, cu_init_error="CUDA_ERROR_SYSTEM_NOT_READY")
    (found,) = findings(fm, "GD-CUDA-005")
    assert "Fabric Manager" in found.title and "GD-DRV-010" in found.title
    assert found.fix[0].startswith("$ systemctl status nvidia-fabricmanager")


def test_a_cuda_probe_timeout_means_a_wedged_driver():
    (found,) = findings(
        with_cuda(healthy(), status="timeout", message="no answer in 30 s"), "GD-CUDA-006"
    )
    assert "$ sudo reboot" in found.fix


def test_cuda_sees_fewer_gpus_than_nvml():
    two = with_cuda(with_nvml(healthy(), gpus=(h100(0), h100(1))), device_count=1)
    assert [f.severity for f in findings(two, "GD-CUDA-009")] == [Severity.WARNING]
    assert findings(with_env(two, CUDA_VISIBLE_DEVICES="0"), "GD-CUDA-009") == []
    lost = with_nvml(two, gpus=(h100(0), h100(1, lost=True)))
    assert findings(lost, "GD-CUDA-009") == []


def test_a_skipped_cuda_probe_marks_the_area_unchecked():
    report = with_cuda(
        broken_nvml(healthy(), "library_not_found"), status="skipped", cu_init_result=None
    )
    (found,) = findings(report, "GD-CUDA-010")
    assert found.severity == Severity.INFO


def test_macos_without_libcuda_is_information():
    report = with_host(with_cuda(healthy(), **NO_LIBCUDA), os="darwin")
    (found,) = findings(report, "GD-CUDA-001")
    assert found.severity == Severity.INFO


def test_the_libcuda_install_follows_the_distribution():
    fedora = with_host(
        with_cuda(healthy(), **NO_LIBCUDA), os_release="Fedora Linux 44 (Cloud Edition)"
    )
    (found,) = findings(fedora, "GD-CUDA-001")
    assert "$ sudo dnf install xorg-x11-drv-nvidia-cuda-libs" in found.fix
    ubuntu = with_cuda(healthy(), **NO_LIBCUDA)
    assert "$ sudo apt-get install libnvidia-compute-590" in findings(ubuntu, "GD-CUDA-001")[0].fix


@pytest.mark.parametrize(
    "cuda",
    [
        {},  # libcuda absent, as the no-GPU builder has it
        {"libcuda_error": None, "cu_init_result": 100, "cu_init_error": "CUDA_ERROR_NO_DEVICE"},
        {"libcuda_error": None, "cu_init_result": 999, "cu_init_error": "CUDA_ERROR_UNKNOWN"},
        {
            "libcuda_error": None,
            "cu_init_result": 304,
            "cu_init_error": "CUDA_ERROR_OPERATING_SYSTEM",
        },
    ],
)
def test_no_gpu_at_all_makes_cuda_not_applicable(cuda):
    report = with_cuda(no_gpu_machine(), **cuda)
    fired = [i for i in (f"GD-CUDA-{n:03d}" for n in range(1, 11)) if findings(report, i)]
    assert fired == ["GD-CUDA-010"]
    (found,) = findings(report, "GD-CUDA-010")
    assert found.severity == Severity.INFO and "not applicable" in found.title


def test_a_hung_cuda_probe_is_reported_even_without_a_gpu():
    report = with_cuda(no_gpu_machine(), status="timeout", libcuda_error=None)
    assert findings(report, "GD-CUDA-006")
    assert findings(report, "GD-CUDA-010") == []


GTX_1080 = PciFunction(
    address="0000:01:00.0", device_id="0x1b80", class_code="0x030000", driver="nvidia"
)
RTX_2080S = PciFunction(
    address="0000:01:00.0", device_id="0x1e81", class_code="0x030000", driver="nvidia"
)


@pytest.mark.parametrize(
    ("gpu", "wanted", "unwanted"),
    [
        # driver 580 on a Pascal, which RPM Fusion's current driver (R595) no longer drives: its
        # 580xx packages; the current driver's xorg-x11-drv-nvidia-cuda-libs conflicts with them
        (GTX_1080, ["$ sudo dnf install xorg-x11-drv-nvidia-580xx-cuda-libs"], "-cuda-libs   #"),
        # on a Turing either may run 580: both, labelled, and how to tell
        (
            RTX_2080S,
            [
                "$ sudo dnf install xorg-x11-drv-nvidia-cuda-libs   # akmod-nvidia",
                "$ sudo dnf install xorg-x11-drv-nvidia-580xx-cuda-libs   # akmod-nvidia-580xx",
            ],
            "nothing",
        ),
    ],
)
def test_the_libcuda_install_on_fedora_names_the_580xx_series_it_runs(gpu, wanted, unwanted):
    report = with_host(
        with_cuda(healthy(), **NO_LIBCUDA), os_release="Fedora Linux 44 (Workstation Edition)"
    )
    report = with_nvml(report, driver_version="580.119.02")
    report = with_driver(report, module_version="580.119.02", pci_functions=(gpu,))
    (found,) = findings(report, "GD-CUDA-001")
    assert all(line in found.fix for line in wanted)
    assert not any(unwanted in line for line in found.fix)
    if gpu is RTX_2080S:
        assert any("rpm -q akmod-nvidia akmod-nvidia-580xx" in line for line in found.fix)


def test_no_device_with_every_gpu_excluded_by_the_admin_says_so_not_a_broken_cuda():
    # One GPU, excluded with NVreg_ExcludedGpus: cuInit answers CUDA_ERROR_NO_DEVICE, and
    # GD-CUDA-004 was an error ('CUDA finds no usable GPU') with 'nvidia-smi -L' as its fix,
    # beside GD-GPU-070's information that the GPU is excluded on purpose
    from dataclasses import replace

    from tests.rules.builders import EXCLUDED_GPU, EXCLUDED_UUID, every_gpu_excluded

    report = every_gpu_excluded()
    uuid, gpu = EXCLUDED_UUID, EXCLUDED_GPU
    (found,) = findings(report, "GD-CUDA-004")
    assert found.severity == Severity.WARNING
    assert found.title == (
        "CUDA finds no GPU: the admin excluded every GPU from the driver (NVreg_ExcludedGpus)"
    )
    assert "NVML: excluded by the driver: PCI 00000000:01:00.0 (" + uuid + ")" in found.evidence[1]
    assert not any("nvidia-smi -L" in step for step in found.fix)
    # a second GPU, not excluded: CUDA's error as before
    other = replace(gpu, address="0000:02:00.0")
    (two,) = findings(with_driver(report, pci_functions=(gpu, other)), "GD-CUDA-004")
    assert two.severity == Severity.ERROR
