"""Kernel-module rules, from realistic reports: the flavour a GPU needs, dropped GPUs, NVSwitch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FabricManagerInfo, KernelDriverInfo, PciFunction, Report
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    findings,
    healthy,
    with_cuda,
    with_driver,
    with_framework,
    with_host,
    with_nvml,
)

REAL_H200 = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "reports"
    / "linux-x86_64__nvidia-h200__580.159.04__open_module.json"
)
PROPRIETARY_580 = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 23:15:11 UTC 2025"
)
OPEN_560 = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.31.02  Release Build"


def _gpu(device: str, driver: str | None = "nvidia", address: str = "0000:02:00.0") -> PciFunction:
    return PciFunction(address=address, device_id=device, class_code="0x030000", driver=driver)


def _machine(line: str, version: str, *functions: PciFunction, os_release: str) -> Report:
    """A module that loaded but initialised no GPU: NVML starts and lists none."""
    report = with_host(healthy(), os_release=os_release)
    report = replace(
        report,
        driver=KernelDriverInfo(
            module_version=version,
            proc_version_line=line,  # no module_flavour: as a report from before it was recorded
            pci_functions=functions,
            dev_nodes=("/dev/nvidiactl",),
            uvm_loaded=True,
            nouveau_loaded=False,
        ),
    )
    report = with_nvml(report, driver_version=version, gpus=())
    return with_cuda(report, cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE")


def rtx5090_laptop_on_proprietary() -> Report:
    # the public report: RTX 5090 Laptop GPU (10de:2c58), nvidia-driver-580 (closed)
    return _machine(PROPRIETARY_580, "580.105.08", _gpu("0x2c58"), os_release="Ubuntu 24.04.3 LTS")


def gt1030_on_open() -> Report:
    # negativo17/nvidia-driver#158: GT 1030 (10de:1d01) on 560.31 open, the probe failed
    return _machine(OPEN_560, "560.31.02", _gpu("0x1d01", None), os_release="Fedora Linux 40")


def test_the_real_h200_report_has_none_of_these() -> None:
    real = load_report(REAL_H200)
    assert real.driver.module_flavour is None  # recorded before the fact existed
    for rule_id in ("GD-DRV-007", "GD-DRV-008", "GD-DRV-009", "GD-DRV-010"):
        assert findings(real, rule_id) == [], rule_id


def test_blackwell_on_the_proprietary_module() -> None:
    (found,) = findings(rtx5090_laptop_on_proprietary(), "GD-DRV-007")
    assert found.severity == Severity.ERROR
    assert "PCI 0000:02:00.0 (device 0x2c58): Blackwell or newer" in found.evidence[0]
    assert found.evidence[1].endswith(": the proprietary module")
    assert found.evidence[2] == "NVML lists 0 GPUs"
    assert found.fix[0] == "$ sudo apt-get install nvidia-driver-580-open && sudo reboot"
    # nvidia-installer runs only as root: 'sh NVIDIA-Linux-*.run' had no sudo
    assert found.fix[1] == "With NVIDIA's .run: $ sudo sh NVIDIA-Linux-*.run -m=kernel-open"
    assert findings(rtx5090_laptop_on_proprietary(), "GD-DRV-008") == []


def test_blackwell_on_the_open_module_is_fine() -> None:
    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.105.08  Release Build"
    report = with_driver(rtx5090_laptop_on_proprietary(), proc_version_line=line)
    assert findings(report, "GD-DRV-007") == []
    # the recorded flavour wins over the line
    report = with_driver(rtx5090_laptop_on_proprietary(), module_flavour="open")
    assert findings(report, "GD-DRV-007") == []


def test_blackwell_on_the_proprietary_module_names_a_torch_without_blackwell_code() -> None:
    # The replay was silent about PyTorch 2.13.0+cu126 (sm_50 ... sm_90): after the driver fix
    # it would stop with "no kernel image" on the RTX 5090.
    cu126 = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    report = with_framework(
        rtx5090_laptop_on_proprietary(), "torch", version="2.13.0+cu126", arch_list=cu126
    )
    (found,) = findings(report, "GD-DRV-007")
    assert any(
        e.startswith("PyTorch 2.13.0+cu126 has no Blackwell code either") for e in found.evidence
    )
    assert found.fix[-1].startswith("Then a PyTorch build for CUDA 12.8 or newer")
    # the default cu128 build (sm_100, sm_120) and TensorFlow's compute_90 PTX are not named
    (plain,) = findings(rtx5090_laptop_on_proprietary(), "GD-DRV-007")
    assert not any("Blackwell code" in e for e in plain.evidence)
    assert not any(f.startswith("Then") for f in plain.fix)


def test_a_framework_this_gpudoctor_does_not_know_is_not_an_internal_error() -> None:
    # A report that lists a framework by another name (a newer gpudoctor's, a hand-edited
    # file) made check --from-report fail with "internal error: KeyError: 'jax'".
    recorded = load_report(REAL_H200.with_name("failure__blackwell_on_proprietary_module.json"))
    torch = recorded.frameworks[0]
    report = replace(recorded, frameworks=(*recorded.frameworks, replace(torch, name="jax")))
    (found,) = findings(report, "GD-DRV-007")
    assert [e for e in found.evidence if "Blackwell code either" in e] == [
        e for e in findings(recorded, "GD-DRV-007")[0].evidence if "Blackwell code either" in e
    ]
    assert not any("jax" in line for line in (*found.evidence, *found.fix))


def test_a_pascal_gpu_on_the_open_module() -> None:
    (found,) = findings(gt1030_on_open(), "GD-DRV-008")
    assert "device 0x1d01" in found.evidence[0] and "no GSP" in found.evidence[0]
    assert "akmods" in found.fix[0] and "macros.nvidia-kmod" in found.fix[0]  # Fedora
    assert findings(gt1030_on_open(), "GD-DRV-009") == []  # R560 still drives Pascal


def test_a_pascal_gpu_on_r590() -> None:
    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.48.01  Release Build"
    report = _machine(line, "590.48.01", _gpu("0x1b06"), os_release="Ubuntu 22.04.5 LTS")
    (dropped,) = findings(report, "GD-DRV-009")
    assert dropped.title == "Driver 590.48.01 no longer supports this GPU: its last branch is R580"
    assert "Maxwell, Pascal or Volta; the last driver branch for it is R580" in dropped.evidence[0]
    assert dropped.fix[0] == "$ sudo apt-get install nvidia-driver-580 && sudo reboot"
    # the open module refuses it too; its fix points to GD-DRV-009's instead of repeating it
    (flavour,) = findings(report, "GD-DRV-008")
    assert flavour.fix[0].startswith("Install R580, the GPU's last branch, with its proprietary")
    assert "GD-DRV-009 gives the command" in flavour.fix[0]
    assert not set(flavour.fix) & set(dropped.fix)


def test_a_pascal_gpu_on_r590_open_is_not_told_to_switch_flavour_within_r590() -> None:
    # Fedora: GD-DRV-008 said to drop the open macro and rebuild akmods (R590's proprietary
    # module, which drives no Pascal GPU either) and to run the .run with -m=kernel, beside
    # GD-DRV-009's 'dnf install akmod-nvidia-580xx'; Ubuntu and RHEL: the same command twice
    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.48.01  Release Build"
    for os_release in ("Fedora Linux 44 (Workstation Edition)", "Ubuntu 24.04.3 LTS"):
        report = _machine(line, "590.48.01", _gpu("0x1b06"), os_release=os_release)
        (flavour,) = findings(report, "GD-DRV-008")
        (dropped,) = findings(report, "GD-DRV-009")
        assert not any("akmods" in x or "-m=kernel" in x for x in flavour.fix), flavour.fix
        assert not set(flavour.fix) & set(dropped.fix), os_release


@pytest.mark.parametrize(
    ("os_release", "wanted", "kept_branch"),
    [
        # RPM Fusion: the open flavour's rebuild (akmods) would rebuild R595, which refuses Pascal
        ("Fedora Linux 44 (Workstation Edition)", "akmod-nvidia-580xx", "akmods --kernels"),
        # NVIDIA's RHEL 10 repository: cuda-drivers alone is R595's proprietary flavour
        (
            "Red Hat Enterprise Linux 10.0 (Coughlan)",
            "versionlock add '*nvidia*580*'",
            "dnf install --allowerasing cuda-drivers",
        ),
    ],
)
def test_a_pascal_gpu_on_r595_open_gets_the_last_branch_not_the_same_branch_proprietary(
    os_release: str, wanted: str, kept_branch: str
) -> None:
    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  595.71.05  Release Build"
    report = _machine(line, "595.71.05", _gpu("0x1b06"), os_release=os_release)
    (flavour,) = findings(report, "GD-DRV-008")
    assert not any(kept_branch in step for step in flavour.fix)
    assert "GD-DRV-009" in flavour.fix[0] and "R580" in flavour.fix[0]
    (dropped,) = findings(report, "GD-DRV-009")
    assert wanted in dropped.fix[0]


def test_a_k80_on_r535() -> None:
    # 0x102d is Kepler, but Fermi (R390) and Tesla (R340) GPUs share its ID range: the finding
    # gives each generation's branch, not R470 for all (a GT 520 at 0x1040 is Fermi)
    line = (
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
    )
    report = _machine(line, "535.104.05", _gpu("0x102d"), os_release="Rocky Linux 9.3")
    (found,) = findings(report, "GD-DRV-009")
    assert (
        found.title
        == "Driver 535.104.05 no longer supports this GPU: its last branch is R470 or older"
    )
    assert found.evidence[0].endswith(
        "Kepler or older; the device ID does not tell which, and the last driver branch is "
        "R470 for Kepler, R390 for Fermi, R340 for Tesla"
    )
    assert "does not tell Kepler from Fermi or Tesla" in found.fix[0]
    assert found.fix[1:3] == (
        "If it is Kepler:",
        "$ sudo dnf -y module switch-to nvidia-driver:470-dkms --allowerasing && sudo reboot",
    )
    assert found.fix[3].startswith("If Fermi, the R390 legacy branch; if Tesla, the R340")


@pytest.mark.parametrize(
    ("device", "board"), [("0x0fef", "GRID K340"), ("0x0ff2", "GRID K1"), ("0x11bf", "GRID K2")]
)
def test_a_grid_k1_on_r535_is_told_r367_and_no_package_that_does_not_exist(
    device: str, board: str
) -> None:
    # NVIDIA's list gives GRID K340, K1 and K2 367.xx: the finding said 'If it is Kepler:'
    # and switched to the R470 module stream, a branch that does not drive these boards
    line = (
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
    )
    report = _machine(line, "535.104.05", _gpu(device), os_release="Rocky Linux 9.3")
    (found,) = findings(report, "GD-DRV-009")
    assert found.title == "Driver 535.104.05 no longer supports this GPU: its last branch is R367"
    assert found.evidence[0] == (
        f"PCI 0000:02:00.0 (device {device}): Kepler ({board}); the last driver branch for it "
        "is R367"
    )
    fix = "\n".join(found.fix)
    assert "470" not in fix and "If it is Kepler" not in fix
    assert not any(step.startswith("$ ") for step in found.fix)  # no package command at all
    assert found.fix[0].startswith("R367 is the last driver branch for this GPU, and no ")
    assert found.fix[1].startswith("Remove the installed driver's packages first. Install ")
    assert "https://download.nvidia.com/XFree86/Linux-x86_64/" in found.fix[1]
    assert found.fix[2] == "Then hold it there: a driver newer than R367 will not drive this GPU."


def test_a_gpu_held_for_a_vm_is_not_judged() -> None:
    report = with_driver(
        rtx5090_laptop_on_proprietary(), pci_functions=(_gpu("0x2c58", "vfio-pci"),)
    )
    assert findings(report, "GD-DRV-007") == []


# --- NVSwitch and Fabric Manager ---------------------------------------------------------------

SWITCHES = tuple(
    PciFunction(address=f"0000:0{i}:00.0", device_id="0x22a3", class_code="0x068000", driver=None)
    for i in range(5, 9)
)


def hgx(fm: FabricManagerInfo | None, *, cu_init_error: str | None = None) -> Report:
    """An HGX H100 board: four NVSwitches, one GPU shown, driver 590.48.01."""
    report = with_driver(healthy(), nvswitches=SWITCHES, fabric_manager=fm)
    if cu_init_error:
        report = with_cuda(report, cu_init_result=802, cu_init_error=cu_init_error, device_count=0)
    return report


def test_fabric_manager_stopped_and_cuda_not_ready() -> None:
    fm = FabricManagerInfo(running=False, how="systemctl is-active nvidia-fabricmanager: failed")
    (found,) = findings(hgx(fm, cu_init_error="CUDA_ERROR_SYSTEM_NOT_READY"), "GD-DRV-010")
    assert found.severity == Severity.ERROR
    assert found.title == "NVSwitch system: Fabric Manager is not running, so CUDA cannot start"
    assert found.evidence[0] == "4 NVSwitches on the PCI bus (0x22a3)"
    assert "not running" in found.evidence[1]
    assert any("802" in e for e in found.evidence)
    # not =590.48.01-1: Ubuntu's own build of it is 590.48.01-0ubuntu0.22.04.1
    assert found.fix[1].startswith("$ sudo apt-get install 'nvidia-fabricmanager-590=590.48.01-*'")


def test_fabric_manager_package_name_follows_nvidias_rename_at_r580() -> None:
    # It said `apt-get install 'nvidia-fabricmanager-590=590.48.01-*'` alone. In NVIDIA's CUDA
    # repository the package is `nvidia-fabricmanager` from R580 on, and the branch name only a
    # virtual package that apt cannot pin to a version (NVIDIA/gpu-driver-container 78fa4ac,
    # #451); Ubuntu's archive keeps nvidia-fabricmanager-<branch> (25.10: -580 580.159.03).
    fm = FabricManagerInfo(running=False, how="systemctl is-active nvidia-fabricmanager: failed")
    (found,) = findings(hgx(fm), "GD-DRV-010")
    assert found.fix[0] == (
        "$ sudo apt-get install 'nvidia-fabricmanager=590.48.01-*'   # NVIDIA's CUDA "
        "repository (R580 and later)"
    )
    assert found.fix[1] == (
        "$ sudo apt-get install 'nvidia-fabricmanager-590=590.48.01-*'   # Ubuntu's archive"
    )
    # Ubuntu 25.10's nvidia-fabricmanager-590 is a transitional package to 595
    assert "transitional" in found.fix[2] and "590 pulls 595" in found.fix[2]
    # before R580 both use the branch name: one line
    old = with_nvml(with_driver(hgx(fm), module_version="570.195.03"), driver_version="570.195.03")
    (found,) = findings(old, "GD-DRV-010")
    assert found.fix[0] == (
        "$ sudo apt-get install 'nvidia-fabricmanager-570=570.195.03-*'   # Ubuntu (its archive "
        "and NVIDIA's CUDA repository)"
    )
    assert not any("'nvidia-fabricmanager=" in line for line in found.fix)


def test_no_driver_version_leaves_words_to_replace_not_redirections() -> None:
    # with no version known the fixes read "nvidia-driver-<branch>-open" and
    # "'nvidia-fabricmanager-<branch>=<driver>-*'": '<branch>' pasted is a redirection
    report = rtx5090_laptop_on_proprietary()
    unknown = replace(report.driver, module_version=None, installed_module_version=None)
    report = replace(with_nvml(replace(report, driver=unknown), driver_version=None))
    report = replace(report, cuda=replace(report.cuda, libcuda_path=None))
    (found,) = findings(report, "GD-DRV-007")
    assert found.fix[0] == (
        "$ sudo apt-get install nvidia-driver-BRANCH-open && sudo reboot   # BRANCH: the NNN "
        "of the nvidia-driver-NNN that dpkg -l 'nvidia-driver-*' lists"
    )
    fm = FabricManagerInfo(running=False, how="systemctl is-active nvidia-fabricmanager: failed")
    fabric = with_nvml(with_driver(hgx(fm), module_version=None), driver_version=None)
    (found,) = findings(fabric, "GD-DRV-010")
    assert found.fix[0].startswith("DRIVER: the version in /proc/driver/nvidia/version")
    assert found.fix[1].startswith("$ sudo apt-get install 'nvidia-fabricmanager-BRANCH=DRIVER-*'")
    assert not any("<" in line for line in found.fix)


def test_rhel_fix_names_the_packaging_of_the_drivers_branch() -> None:
    # it said "RHEL: sudo dnf module install nvidia-driver:590/fm" for every branch; NVIDIA's
    # Driver Installation Guide (Kernel Modules): releases beyond 570 are the streams
    # <branch>-open on RHEL 8/9 and version locks on RHEL 10
    fm = FabricManagerInfo(running=False, how="systemctl is-active nvidia-fabricmanager: failed")
    (found,) = findings(hgx(fm), "GD-DRV-010")
    assert not any("/fm" in line for line in found.fix)
    assert found.fix[3].startswith(
        "RHEL 8/9: `sudo dnf module enable nvidia-driver:590-open`, then install the Fabric "
        "Manager package of 590.48.01"
    )
    assert "`sudo dnf versionlock '*nvidia*590*'`" in found.fix[3]
    old = with_nvml(with_driver(hgx(fm), module_version="570.195.03"), driver_version="570.195.03")
    (found,) = findings(old, "GD-DRV-010")
    assert found.fix[2] == "$ sudo dnf module install nvidia-driver:570/fm   # RHEL 8/9"


def test_fabric_manager_of_another_version() -> None:
    fm = FabricManagerInfo(running=True, version="580.105.08", how="/proc/*/comm")
    (found,) = findings(hgx(fm), "GD-DRV-010")
    assert found.title == "Fabric Manager 580.105.08 does not match driver 590.48.01"


@pytest.mark.parametrize(
    "fm",
    [
        FabricManagerInfo(running=True, version="590.48.01", how="/proc/*/comm"),
        FabricManagerInfo(running=None),  # could not tell, and CUDA started: nothing to say
        None,
    ],
)
def test_quiet_when_fabric_manager_is_fine_or_unknown(fm: FabricManagerInfo | None) -> None:
    assert findings(hgx(fm), "GD-DRV-010") == []
    assert findings(healthy(), "GD-DRV-010") == []  # no NVSwitch at all


def test_in_a_container_cuda_802_is_enough() -> None:
    report = with_host(hgx(None, cu_init_error="CUDA_ERROR_SYSTEM_NOT_READY"), container="docker")
    (found,) = findings(report, "GD-DRV-010")
    assert found.fix[0].startswith("Fabric Manager runs on the host")


def test_a_fabric_still_registering_with_fabric_manager_unknown() -> None:
    report = hgx(None)
    report = with_nvml(
        report, gpus=tuple(replace(g, fabric_state="in_progress") for g in report.nvml.gpus)
    )
    (found,) = findings(report, "GD-DRV-010")
    assert "GPU 0: NVML fabric state in_progress" in found.evidence


# --- the recorded failure reports (tests/data/reports, built by tests/probe/make_reports.py) ---

RECORDED = REAL_H200.parent


@pytest.mark.parametrize(
    ("name", "cause", "not_blamed"),
    [
        ("failure__blackwell_on_proprietary_module", "GD-DRV-007", "GD-DRV-008"),
        ("failure__gh200_on_proprietary_module", "GD-DRV-007", "GD-DRV-008"),
        ("failure__pascal_on_driver_590_open", "GD-DRV-009", "GD-DRV-003"),
        ("failure__pascal_on_driver_590_open", "GD-DRV-008", "GD-DRV-007"),
        ("failure__nvswitch_fabric_manager_stopped", "GD-DRV-010", "GD-DRV-009"),
        ("failure__torch_cudnn_shadowed_by_ld_library_path", "GD-CUDA-011", "GD-CUDA-007"),
    ],
)
def test_each_recorded_failure_names_its_cause(name: str, cause: str, not_blamed: str) -> None:
    report = load_report(RECORDED / f"{name}.json")
    found = findings(report, cause)
    assert found and found[0].severity == Severity.ERROR, name
    assert findings(report, not_blamed) == []


def test_a_module_that_did_not_load_is_judged_from_modinfo() -> None:
    report = load_report(RECORDED / "failure__pascal_on_driver_590_open.json")
    assert report.driver.module_version is None
    (dropped,) = findings(report, "GD-DRV-009")
    assert "installed (not loaded) driver 590.48.01 (branch R590)" in dropped.evidence
    (flavour,) = findings(report, "GD-DRV-008")
    assert "installed but not loaded (modinfo nvidia): the open modules" in flavour.evidence[1]
    assert "GD-DRV-009 gives the command" in flavour.fix[0]


def test_without_modinfo_the_libcuda_file_name_gives_the_driver() -> None:
    report = load_report(RECORDED / "failure__pascal_on_driver_590_open.json")
    report = with_driver(report, installed_module_version=None)
    (dropped,) = findings(report, "GD-DRV-009")
    assert dropped.title.startswith("Driver 590.48.01 no longer supports this GPU")


def test_a_gpu_nvml_lists_is_driven_whatever_the_data_says() -> None:
    # a GTX 1080 Ti that NVML lists at its bus: the module evidently drives it
    report = load_report(RECORDED / "failure__pascal_with_torch_cu128.json")
    report = with_driver(report, module_flavour="open")
    report = with_nvml(
        report, gpus=tuple(replace(g, pci_bus_id="00000000:0C:00.0") for g in report.nvml.gpus)
    )
    assert findings(report, "GD-DRV-008") == []
    lost = with_nvml(report, gpus=())
    assert findings(lost, "GD-DRV-008") != []


def test_a_kepler_range_gpu_on_r590_open_is_not_promised_r470_by_drv_008() -> None:
    # the device ID 0x102d lies in a range Kepler shares with Fermi and Tesla: GD-DRV-009
    # names each generation's last branch, and GD-DRV-008 must not assert R470 beside it
    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.48.01  Release Build"
    report = _machine(line, "590.48.01", _gpu("0x102d"), os_release="Ubuntu 24.04.3 LTS")
    (flavour,) = findings(report, "GD-DRV-008")
    assert "GD-DRV-009" in flavour.fix[0]
    assert "R470" not in flavour.fix[0]
    pascal = _machine(line, "590.48.01", _gpu("0x1b06"), os_release="Ubuntu 24.04.3 LTS")
    (named,) = findings(pascal, "GD-DRV-008")
    assert "R580" in named.fix[0]


def test_rhel10_removes_the_installed_driver_not_every_nvidia_package() -> None:
    # 'sudo dnf remove 'nvidia-*' 'kmod-nvidia*'' took nvidia-container-toolkit (and every
    # other nvidia-* package) with the driver; NVIDIA's guide names a branch's packages by
    # '*nvidia*VERSION*' (dnf versionlock), which leaves the toolkit's own versions alone
    import fnmatch

    from gpudoctor.rules.distro import _installed_packages

    line = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  595.71.05  Release Build"
    report = _machine(
        line, "595.71.05", _gpu("0x1b06"), os_release="Red Hat Enterprise Linux 10.0 (Coughlan)"
    )
    (dropped,) = findings(report, "GD-DRV-009")
    assert dropped.fix[0].startswith("$ sudo dnf remove '*nvidia*595.71.05*' && ")
    assert "'nvidia-*'" not in dropped.fix[0] and "'kmod-nvidia*'" not in dropped.fix[0]
    for package in (
        "nvidia-driver-3:595.71.05-1.el10.x86_64",
        "kmod-nvidia-open-dkms-3:595.71.05-1.el10.noarch",
        "libnvidia-ml-595.71.05-1.el10.x86_64",
    ):
        assert fnmatch.fnmatchcase(package, "*nvidia*595.71.05*"), package
    for kept in ("nvidia-container-toolkit-1.18.0-1.x86_64", "nvidia-fabricmanager-580.95.05-1"):
        assert not fnmatch.fnmatchcase(kept, "*nvidia*595.71.05*"), kept
    # a version not of a driver's form is the word to replace, never pasted as it came
    assert _installed_packages("595.71.05' $(id) '") == "'*nvidia*VERSION*'"
    assert _installed_packages(None) == "'*nvidia*VERSION*'"
