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
