"""Inside a container the driver is the host's: a fix that loads, reloads or rebuilds it, or
reboots, says it runs on the host."""

from __future__ import annotations

import pytest

from tests.rules.builders import broken_nvml, diagnose, healthy, with_cuda, with_host

HOST_ONLY = ("modprobe", "rmmod", "dkms", "sudo reboot", "apt-mark hold")


@pytest.mark.parametrize("runtime", ["docker", "apptainer", "kubernetes"])
@pytest.mark.parametrize(
    ("status", "cu_init"),
    [
        ("driver_not_loaded", None),  # GD-NVML-002 said `sudo modprobe nvidia`, dkms, reboot
        ("lib_rm_version_mismatch", None),  # GD-NVML-003: reboot, rmmod/modprobe, apt-mark
        ("timeout", None),  # GD-NVML-005: dmesg, reboot
        ("unknown_error", None),  # GD-NVML-007
        ("ok", 803),  # GD-CUDA-003: after a driver update, reboot
        ("ok", 999),  # GD-CUDA-002 said so already
    ],
)
def test_host_steps_in_a_container_say_they_run_on_the_host(
    runtime: str, status: str, cu_init: int | None
) -> None:
    report = with_host(healthy(), container=runtime)
    if status != "ok":
        report = broken_nvml(report, status, f"nvmlInit failed: {status}")
    if cu_init is not None:
        report = with_cuda(report, cu_init_result=cu_init, cu_init_error=f"error {cu_init}")
    checked = 0
    for found in diagnose(report).findings:
        steps = list(found.fix)
        for n, step in enumerate(steps):
            if any(word in step for word in HOST_ONLY):
                checked += 1
                assert any("on the host" in s.lower() for s in steps[: n + 1]), (found.id, step)
    assert checked


def _cuda_torch_in_container(report):
    from dataclasses import replace

    from tests.rules.builders import torch_info

    torch = torch_info(cuda_available=False, device_count=0, devices=(), init_error="no driver")
    return replace(report, frameworks=(torch, *(f for f in report.frameworks if f.name != "torch")))


@pytest.mark.parametrize("wsl", [False, True])
def test_a_cuda_build_in_a_container_that_shows_no_gpu_of_its_host_is_a_warning(wsl):
    # GD-NVML-001 and GD-CUDA-001 are warnings there ("If the host has an NVIDIA GPU"), the
    # host, or Windows under WSL2, may have no GPU; GD-TORCH-008 stayed the error "PyTorch is
    # a GPU build but cannot use the GPU", so check still failed on a laptop without a GPU
    from gpudoctor.model.findings import Severity
    from gpudoctor.model.report import Unavailable
    from tests.rules.builders import findings, no_gpu_machine, with_driver, with_env

    report = with_env(no_gpu_machine(container="docker"), NVIDIA_VISIBLE_DEVICES="all")
    if wsl:
        report = with_host(report, wsl=True, kernel="6.6.87.2-microsoft-standard-WSL2", dxg=False)
    else:
        unread = Unavailable(field="driver.pci_functions", code="not_visible", message="hidden")
        report = with_driver(report, errors=(unread,))
    report = _cuda_torch_in_container(report)
    (found,) = findings(report, "GD-TORCH-008")
    assert found.severity == Severity.WARNING and "shows no GPU" in found.title
    assert found.fix == (
        f"If {'Windows' if wsl else 'the host'} has an NVIDIA GPU, start the container with "
        "it: see the NVML line.",
    )
    assert diagnose(report).worst == Severity.WARNING
    # a GPU of the host seen in /sys, or /dev/dxg under WSL2: the container lacks it, an error
    given = with_host(report, dxg=True) if wsl else with_driver(report, module_version="580.1")
    (found,) = findings(given, "GD-TORCH-008")
    assert found.severity == Severity.ERROR
