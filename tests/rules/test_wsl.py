"""Under WSL2 the Windows driver serves the GPU: no fix may load a module or reboot Linux."""

from __future__ import annotations

import pytest

from tests.rules.builders import (
    broken_nvml,
    diagnose,
    findings,
    healthy,
    with_cuda,
    with_driver,
    with_host,
)

LINUX_ONLY = ("modprobe", "rmmod", "dkms", "ubuntu-drivers", "dmesg", "reboot", "Reboot", "akmods")
STATUSES = (
    "ok",
    "library_not_found",
    "driver_not_loaded",
    "lib_rm_version_mismatch",
    "no_permission",
    "timeout",
    "unknown_error",
)
CU_INIT = (None, 3, 34, 35, 46, 100, 304, 803, 804, 999)


def wsl2(status: str, cu_init: int | None):
    """A WSL2 laptop: the Windows driver's libcuda, no module, no PCI function, no /dev/nvidia*."""
    report = with_cuda(healthy(), libcuda_path="/usr/lib/wsl/lib/libcuda.so.1")
    report = with_driver(
        report, module_version=None, pci_functions=(), dev_nodes=(), uvm_loaded=False
    )
    report = with_host(report, wsl=True, kernel="6.6.87.2-microsoft-standard-WSL2")
    if status != "ok":
        report = broken_nvml(report, status, f"nvmlInit failed: {status}")
    if cu_init is not None:
        report = with_cuda(report, cu_init_result=cu_init, cu_init_error=f"error {cu_init}")
    return report


@pytest.mark.parametrize("status", STATUSES)
def test_no_fix_under_wsl2_reloads_a_module_or_reboots_linux(status: str) -> None:
    # cuInit 999 said `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`, 803/804 `sudo
    # reboot`, NVML's version mismatch `rmmod ... && modprobe nvidia`, a hung or failing NVML
    # `dmesg | grep xid` and `sudo reboot`: none of it exists or helps under WSL2.
    wrong = []
    hung = with_cuda(wsl2(status, None), status="timeout", message="cuInit did not return")
    for cu_init, report in [(c, wsl2(status, c)) for c in CU_INIT] + [("hung", hung)]:
        for found in diagnose(report).findings:
            wrong += [
                (cu_init, found.id, step)
                for step in found.fix
                if any(word in step for word in LINUX_ONLY)
            ]
    assert wrong == []


def test_the_wsl2_restart_is_what_they_say_instead() -> None:
    for status, cu_init, rule_id in (
        ("ok", 999, "GD-CUDA-002"),
        ("ok", 803, "GD-CUDA-003"),
        ("lib_rm_version_mismatch", None, "GD-NVML-003"),
        ("timeout", None, "GD-NVML-005"),
        ("unknown_error", None, "GD-NVML-007"),
        ("ok", 46, "GD-CUDA-005"),
        ("ok", 35, "GD-CUDA-005"),
    ):
        (found,) = findings(wsl2(status, cu_init), rule_id)
        assert "> wsl --shutdown" in found.fix, rule_id
