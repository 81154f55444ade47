"""NVML rules: each reason NVML did not start, missing functions, no GPU listed."""

from __future__ import annotations

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Unavailable
from tests.rules.builders import (
    broken_nvml,
    findings,
    healthy,
    no_gpu_machine,
    with_driver,
    with_env,
    with_host,
    with_nvml,
)


@pytest.mark.parametrize(
    ("status", "rule_id"),
    [
        ("library_not_found", "GD-NVML-001"),
        ("driver_not_loaded", "GD-NVML-002"),
        ("lib_rm_version_mismatch", "GD-NVML-003"),
        ("no_permission", "GD-NVML-004"),
        ("timeout", "GD-NVML-005"),
        ("bindings_missing", "GD-NVML-006"),
        ("unknown_error", "GD-NVML-007"),
        ("gpu_is_lost", "GD-NVML-007"),
    ],
)
def test_each_failure_has_exactly_one_finding(status, rule_id):
    report = broken_nvml(healthy(), status, f"nvmlInit failed: {status}")
    ids = [f"GD-NVML-{n:03d}" for n in range(1, 11)]
    fired = [i for i in ids if findings(report, i)]
    assert fired == [rule_id]
    assert all(findings(healthy(), i) == [] for i in ids)


def test_library_not_found_names_the_container_case():
    report = with_host(broken_nvml(healthy(), "library_not_found"), container="docker")
    (found,) = findings(report, "GD-NVML-001")
    assert "container" in found.title
    assert any("--gpus all" in step for step in found.fix)
    assert "NVIDIA_VISIBLE_DEVICES is not set" in found.evidence
    assert "sign of a GPU: PCI 0000:01:00.0: NVIDIA device 0x2330" in found.evidence


def test_a_container_claims_missing_gpu_access_only_with_a_sign_of_a_host_gpu():
    bare = no_gpu_machine(container="docker")
    assert findings(bare, "GD-NVML-001") == []  # no GPU at all: GD-NVML-010
    # the host's PCI bus shows no GPU: GD-DRV-001 says the host has none, variable or not
    assert findings(with_env(bare, NVIDIA_VISIBLE_DEVICES="all"), "GD-NVML-001") == []
    unread = Unavailable(field="driver.pci_functions", code="not_visible", message="hidden")
    asked = with_driver(with_env(bare, NVIDIA_VISIBLE_DEVICES="all"), errors=(unread,))
    (found,) = findings(asked, "GD-NVML-001")
    # the variable alone: a CUDA image sets it itself, on a laptop too. It was an error, "The
    # container was started without GPU access", whose --gpus all fails on a host without one
    assert (found.severity, found.title) == (
        Severity.WARNING,
        "This container expects a GPU, but none is visible in it",
    )
    assert "sign of a GPU: NVIDIA_VISIBLE_DEVICES='all'" in found.evidence
    assert found.fix[0] == "If the host has an NVIDIA GPU:"
    (cuda,) = findings(asked, "GD-CUDA-001")  # it said "it was started without GPUs", an error
    assert cuda.severity == Severity.WARNING and "shows no GPU of the host" in cuda.title
    assert cuda.fix[0] == "If the host has an NVIDIA GPU:"
    # the host's GPU seen through /sys: the container was started without it
    host_gpu = with_driver(asked, module_version="580.95.05")
    (found,) = findings(host_gpu, "GD-NVML-001")
    assert (found.severity, found.title) == (
        Severity.ERROR,
        "The container was started without GPU access",
    )
    (cuda,) = findings(host_gpu, "GD-CUDA-001")
    assert cuda.severity == Severity.ERROR and "started without GPUs" in cuda.title
    (found,) = findings(with_driver(bare, errors=(unread,)), "GD-NVML-001")
    assert found.severity == Severity.WARNING
    assert "started without GPU access" not in found.title


def test_a_container_under_wsl2_is_not_said_to_have_an_unreadable_pci_bus():
    # Docker on WSL2 without --gpus: the PCI bus was read (WSL2 passes the GPU as /dev/dxg,
    # never as a PCI device), yet the finding said "the PCI bus could not be read" and sent
    # the student to install nvidia-container-toolkit "on the host", which for Docker
    # Desktop is Windows.
    bare = with_host(
        no_gpu_machine(container="docker"), wsl=True, kernel="6.6.87.2-microsoft-standard-WSL2"
    )
    (found,) = findings(bare, "GD-NVML-001")
    assert found.severity == Severity.WARNING
    assert "WSL2" in found.title
    assert not any("PCI bus could not be read" in e for e in found.evidence)
    assert any("/dev/dxg" in e for e in found.evidence)
    assert any("Docker Desktop" in step for step in found.fix)
    assert not any(step.startswith("On the host") for step in found.fix)
    # CUDA judges it as NVML does: it was the error 'it was started without GPUs' beside
    # NVML's warning that whether Windows has a GPU cannot be seen from here
    (cuda,) = findings(bare, "GD-CUDA-001")
    assert cuda.severity == Severity.WARNING and "started without GPUs" not in cuda.title
    assert cuda.fix[0] == "If Windows has an NVIDIA GPU:"
    asked = with_env(bare, NVIDIA_VISIBLE_DEVICES="all")
    (found,) = findings(asked, "GD-NVML-001")
    assert any("Docker Desktop" in step for step in found.fix)
    # NVIDIA_VISIBLE_DEVICES, which CUDA images set themselves, is no sign under WSL2 either:
    # without /dev/dxg both stay warnings
    (cuda,) = findings(asked, "GD-CUDA-001")
    assert found.severity == cuda.severity == Severity.WARNING
    assert any("Docker Desktop" in step for step in cuda.fix)


@pytest.mark.parametrize("dxg", [False, None])
def test_a_cuda_image_under_wsl2_without_dev_dxg_is_a_warning(dxg):
    # NVIDIA_VISIBLE_DEVICES, which CUDA images set themselves, made a container under WSL2
    # the error "The container was started without GPU access" (GD-CUDA-001: "it was started
    # without GPUs"), on a Windows laptop with no NVIDIA GPU too; under WSL2 a container given
    # the GPU has /dev/dxg, and one without it cannot tell whether Windows has a GPU
    report = with_host(
        with_env(no_gpu_machine(container="docker"), NVIDIA_VISIBLE_DEVICES="all"),
        wsl=True,
        kernel="6.6.87.2-microsoft-standard-WSL2",
        dxg=dxg,
    )
    (found,) = findings(report, "GD-NVML-001")
    assert (found.severity, found.title) == (
        Severity.WARNING,
        "This container expects a GPU, but none is visible in it under WSL2",
    )
    assert found.fix[0] == "If Windows has an NVIDIA GPU:"
    assert any("docker run --gpus all" in step for step in found.fix)
    assert any(("no /dev/dxg" in e) == (dxg is False) for e in found.evidence)
    (cuda,) = findings(report, "GD-CUDA-001")
    assert cuda.severity == Severity.WARNING and cuda.fix[0] == "If Windows has an NVIDIA GPU:"


@pytest.mark.parametrize(
    "libcuda", [None, "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_0123/libcuda.so.1.1"]
)
def test_a_container_under_wsl2_with_dev_dxg_but_no_driver_library_is_told_gpus_all(libcuda):
    # /dev/dxg in the container: it was given WSL2's GPU device (--device /dev/dxg, or --gpus
    # with a Windows driver that has no WSL 2 libraries); docker --gpus all mounts them
    report = with_host(
        no_gpu_machine(container="docker"),
        wsl=True,
        kernel="6.6.87.2-microsoft-standard-WSL2",
        dxg=True,
        wsl_libcuda=libcuda,
    )
    for rule_id in ("GD-NVML-001", "GD-CUDA-001"):
        (found,) = findings(report, rule_id)
        assert found.severity == Severity.ERROR, rule_id
        assert "(/dev/dxg)" in found.title, rule_id
        assert found.fix[0].startswith("Start it with docker run --gpus all"), rule_id
        assert "--device /dev/dxg alone" in found.fix[0]
        assert "> wsl --shutdown" in found.fix
        assert not any("If Windows has" in step for step in found.fix)
    (nvml,) = findings(report, "GD-NVML-001")
    assert any((libcuda or "no libcuda of the Windows driver") in e for e in nvml.evidence)


def test_wsl1_is_told_to_convert_the_distribution_not_to_update_the_windows_driver():
    # /proc/version reads "Microsoft" under WSL 1 too, so a student on WSL 1 was told that
    # WSL2 does not expose the driver and to update it and run wsl --update, which cannot
    # give WSL 1 a GPU.
    report = with_host(
        no_gpu_machine(), wsl=True, kernel="4.4.0-19041-Microsoft", os_release="Ubuntu 20.04 LTS"
    )
    said = []
    for rule_id in ("GD-NVML-001", "GD-CUDA-001"):
        (found,) = findings(report, rule_id)
        assert "WSL 1" in found.title, rule_id
        assert "> wsl --set-version DISTRO 2" in found.fix
        assert not any("wsl --update" in step for step in found.fix)
        said.append((found.title, found.evidence[-1], found.fix))
    # one sentence for both: GD-CUDA-001's kernel line lacked how WSL 2's kernel reads
    assert said[0] == said[1]
    assert (
        said[0][1] == "kernel 4.4.0-19041-Microsoft: WSL 1 (WSL 2's ends -microsoft-standard-WSL2)"
    )
    wsl2 = with_host(report, kernel="6.6.87.2-microsoft-standard-WSL2")
    assert "WSL 1" not in findings(wsl2, "GD-NVML-001")[0].title


@pytest.mark.parametrize("container", [None, "docker"])
def test_no_gpu_at_all_makes_nvml_not_applicable(container):
    report = no_gpu_machine(container=container)
    (found,) = findings(report, "GD-NVML-010")
    assert found.severity == Severity.INFO
    assert "not applicable" in found.title
    for status in ("driver_not_loaded", "bindings_missing"):
        again = with_nvml(report, status=status)
        fired = [i for i in (f"GD-NVML-{n:03d}" for n in range(1, 11)) if findings(again, i)]
        assert fired == ["GD-NVML-010"], status
    assert findings(healthy(), "GD-NVML-010") == []


@pytest.mark.parametrize(
    ("release", "wanted", "unwanted"),
    [
        ("Ubuntu 22.04.5 LTS", "ubuntu-drivers", "dnf"),
        ("Fedora Linux 44 (Cloud Edition)", "dnf install akmod-nvidia", "apt"),
        # NVIDIA's Driver Installation Guide (Kernel Modules, "Install the latest"): the open
        # flavour, the default since 560 and the only one Blackwell runs; cuda-drivers is the
        # proprietary flavour on RHEL 10 (Advanced Options); R620's guide: "Proprietary Kernel
        # Modules Removed"
        (
            "Rocky Linux 9.4 (Blue Onyx)",
            "dnf module enable nvidia-driver:open-dkms && sudo dnf install nvidia-open",
            "cuda-drivers",
        ),
        ("Red Hat Enterprise Linux 10.0 (Coughlan)", "$ sudo dnf install nvidia-open", "module"),
        ("Arch Linux", "with your distribution's package manager", "dnf"),
    ],
)
def test_the_driver_install_follows_the_distribution(release, wanted, unwanted):
    report = with_host(broken_nvml(healthy(), "library_not_found"), os_release=release)
    (found,) = findings(with_driver(report, module_version=None), "GD-NVML-001")
    fix = " ".join(found.fix)
    assert wanted in fix and unwanted not in fix


def test_the_driver_hold_and_library_reinstall_follow_the_distribution():
    report = broken_nvml(healthy(), "lib_rm_version_mismatch", "Driver/library version mismatch")
    fedora = with_host(report, os_release="Fedora Linux 44 (Workstation Edition)")
    (found,) = findings(fedora, "GD-NVML-003")
    assert any("dnf versionlock add" in step for step in found.fix)
    assert not any("apt-mark" in step for step in found.fix)
    missing = with_host(
        broken_nvml(healthy(), "library_not_found"), os_release="Fedora Linux 44 (Cloud Edition)"
    )
    (found,) = findings(missing, "GD-NVML-001")
    assert "user-space" in found.title
    assert not any("apt-get" in step or "nvidia-utils" in step for step in found.fix)


@pytest.mark.parametrize(
    ("host", "module", "words"),
    [
        ({"os": "windows"}, None, "nvml.dll"),
        ({"wsl": True}, None, "WSL2"),
        ({}, "535.104.05", "user-space"),
        ({}, None, "No NVIDIA driver"),
    ],
)
def test_library_not_found_on_other_hosts(host, module, words):
    report = with_host(broken_nvml(healthy(), "library_not_found"), **host)
    report = with_driver(report, module_version=module)
    (found,) = findings(report, "GD-NVML-001")
    assert words in found.title


def test_a_windows_pc_that_shows_no_nvidia_gpu_is_a_warning_cpu_only():
    # a laptop with Intel graphics read "No NVIDIA driver is installed (nvml.dll not found)"
    # and "nvcuda.dll cannot be loaded": two errors, exit status 1, "install the driver"
    from tests.rules.builders import diagnose, windows_laptop

    (found,) = findings(windows_laptop(), "GD-NVML-001")
    assert found.severity == Severity.WARNING
    assert "runs on the CPU only, unless it has an NVIDIA GPU without its driver" in found.title
    assert "> Get-CimInstance Win32_VideoController | Select-Object Name" in found.fix
    (libcuda,) = findings(windows_laptop(), "GD-CUDA-001")
    assert libcuda.severity == Severity.INFO
    assert diagnose(windows_laptop()).worst == Severity.WARNING  # exit status 0


def test_a_mismatch_quotes_both_versions():
    report = broken_nvml(healthy(), "lib_rm_version_mismatch", "Driver/library version mismatch")
    report = with_driver(
        with_nvml(report, nvml_version="12.535.183.01"), module_version="535.104.05"
    )
    (found,) = findings(report, "GD-NVML-003")
    assert "kernel module: 535.104.05" in found.evidence
    assert "NVML library: 535.183.01" in found.evidence
    assert "$ sudo reboot" in found.fix


@pytest.mark.parametrize("major", ["\u00b2", "9" * 5000])
def test_an_nvml_version_whose_first_part_int_refuses_is_kept_whole(major):
    # '²' passes str.isdigit(), and int() refuses both: check --from-report and fleet report
    # stopped with an internal error (exit 3) on a saved report's NVML version
    report = broken_nvml(healthy(), "lib_rm_version_mismatch", "Driver/library version mismatch")
    report = with_driver(
        with_nvml(report, nvml_version=f"{major}.535.183.01"), module_version="535.104.05"
    )
    (found,) = findings(report, "GD-NVML-003")
    assert f"NVML library: {major}.535.183.01" in found.evidence


def test_a_version_difference_with_another_failure_is_still_the_mismatch():
    report = with_nvml(broken_nvml(healthy(), "unknown_error"), nvml_version="590.48")
    report = with_driver(report, module_version="580.95.05")
    assert findings(report, "GD-NVML-003")
    assert findings(report, "GD-NVML-007") == []


def test_missing_functions_are_information():
    report = with_nvml(healthy(), missing_functions=tuple(f"nvmlF{i}" for i in range(8)))
    (found,) = findings(report, "GD-NVML-008")
    assert found.severity == Severity.INFO
    assert "and 2 more" in found.evidence[0]


def test_nvml_without_gpus_in_a_container():
    report = with_env(
        with_host(with_nvml(healthy(), gpus=()), container="docker"), NVIDIA_VISIBLE_DEVICES="void"
    )
    (found,) = findings(report, "GD-NVML-009")
    assert "NVIDIA_VISIBLE_DEVICES='void'" in found.evidence
    assert any("--gpus all" in step for step in found.fix)


def test_macos_without_nvml_is_information():
    report = with_host(broken_nvml(healthy(), "library_not_found"), os="darwin")
    assert not findings(report, "GD-NVML-001")  # GD-NVML-010 says it, as on a CPU machine
    (found,) = findings(report, "GD-NVML-010")
    assert found.severity == Severity.INFO and found.title == "NVML not applicable on macOS"


def test_driver_not_loaded_points_at_a_cause_a_rebuild_cannot_fix():
    # With nouveau holding the GPU (or a driver that cannot drive it) NVML's finding sent the
    # user to modprobe and rebuild the module, which the Kernel driver line's finding rules out.
    from gpudoctor.model.report import PciFunction

    def no_module(driver: str | None):
        gpu = PciFunction(
            address="0000:01:00.0", device_id="0x2330", class_code="0x030200", driver=driver
        )
        report = broken_nvml(healthy(), "driver_not_loaded", "nvmlInit failed: Driver Not Loaded")
        return with_driver(report, module_version=None, uvm_loaded=False, pci_functions=(gpu,))

    nouveau = no_module("nouveau")
    (found,) = findings(nouveau, "GD-NVML-002")
    assert "the Kernel driver line says why: nouveau owns the GPU (GD-DRV-002)" in found.evidence
    assert not any("modprobe" in step or "dkms" in step for step in found.fix)
    (found,) = findings(no_module(None), "GD-NVML-002")
    assert any("modprobe nvidia" in step for step in found.fix)


def test_driver_not_loaded_under_wsl2_never_sends_the_student_to_modprobe():
    # A Linux driver installed inside WSL2 (nvidia-utils-NNN, the CUDA repository's `cuda`)
    # puts a Linux NVML first, which answers Driver Not Loaded: the finding said
    # `sudo modprobe nvidia` and `dkms autoinstall`, which WSL2 has no module for.
    report = broken_nvml(healthy(), "driver_not_loaded", "nvmlInit failed: Driver Not Loaded")
    report = with_driver(report, module_version=None, uvm_loaded=False, pci_functions=())
    report = with_host(report, wsl=True, kernel="6.6.87.2-microsoft-standard-WSL2")
    (found,) = findings(report, "GD-NVML-002")
    assert "WSL2" in found.title
    assert not any("modprobe" in step or "dkms" in step for step in found.fix)
    assert any("apt-get remove --purge" in step for step in found.fix)
    assert "> wsl --update" in found.fix


@pytest.mark.parametrize(
    ("name", "ids", "cause"),
    [
        ("blackwell_on_proprietary_module", ("GD-NVML-009", "GD-CUDA-004"), "GD-DRV-007"),
        ("gpu_bound_to_vfio_pci", ("GD-CUDA-004",), "GD-DRV-011"),
        ("driver_not_loaded_nouveau", ("GD-NVML-002", "GD-CUDA-004"), "GD-DRV-002"),
    ],
)
def test_nvml_and_cuda_point_at_the_kernel_driver_finding(name, ids, cause):
    # They said `sudo dmesg | grep ...` and `nvidia-smi -L`, which only restate that the
    # driver took no GPU, while the Kernel driver line had named why.
    from pathlib import Path

    from gpudoctor.userfiles.read import load_report

    path = Path(__file__).resolve().parents[1] / "data" / "reports" / f"failure__{name}.json"
    report = load_report(path)
    assert findings(report, cause)
    for rule_id in ids:
        (found,) = findings(report, rule_id)
        assert any(
            e.startswith("the Kernel driver line says why:") and cause in e for e in found.evidence
        ), (rule_id, found.evidence)
        assert found.fix[0].startswith("Fix what the Kernel driver line names first")


def test_the_recorded_wsl2_linux_driver_report_never_says_modprobe_or_install_a_linux_driver():
    # WSL2 with nvidia-utils-NNN installed inside it: every fix must work under WSL2.
    from pathlib import Path

    from gpudoctor import kb
    from gpudoctor.rules import diagnose
    from gpudoctor.userfiles.read import load_report

    path = Path(__file__).resolve().parents[1] / "data" / "reports"
    report = load_report(path / "failure__wsl2_linux_driver_inside_wsl.json")
    assert report.host.wsl
    diagnosis = diagnose(report, kb.load())
    ids = {f.id for f in diagnosis.findings}
    assert {"GD-HOST-005", "GD-NVML-002", "GD-CUDA-004"} <= ids
    steps = [step for f in diagnosis.findings for step in f.fix]
    assert not any("modprobe" in s or "dkms" in s or "ubuntu-drivers" in s for s in steps)


def test_an_apptainer_container_is_an_apptainer_container():
    # the evidence read "running in a apptainer container"
    report = with_host(broken_nvml(healthy(), "library_not_found"), container="apptainer")
    (found,) = findings(report, "GD-NVML-001")
    assert "running in an apptainer container" in found.evidence
    docker = with_host(report, container="docker")
    assert "running in a docker container" in findings(docker, "GD-NVML-001")[0].evidence


def test_podman_is_told_about_cdi_not_dockers_runtime_configuration():
    # A podman container without the GPU was told `nvidia-ctk runtime configure
    # --runtime=docker && systemctl restart docker`, which podman never reads.
    report = with_host(broken_nvml(healthy(), "library_not_found"), container="podman")
    for rule_id in ("GD-NVML-001",):
        (found,) = findings(report, rule_id)
        assert any("--device nvidia.com/gpu=all" in step for step in found.fix)
        assert "$ sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml" in found.fix
        assert not any("--runtime=docker" in step for step in found.fix)


def test_a_container_with_an_unreadable_pci_bus_gets_its_own_runtimes_fix():
    # Apptainer (or a pod) whose PCI bus could not be read was told `docker run --gpus all`.
    unread = Unavailable(field="driver.pci_functions", code="not_visible", message="hidden")
    bare = with_driver(no_gpu_machine(container="apptainer"), errors=(unread,))
    (found,) = findings(bare, "GD-NVML-001")
    assert found.severity == Severity.WARNING
    assert any("apptainer exec --nv" in step for step in found.fix)
    assert not any("docker run" in step for step in found.fix)


def test_a_pod_on_a_cluster_without_the_device_plugin_is_told_who_installs_it():
    # "Ask for a GPU in the pod spec" alone: on a cluster with no NVIDIA device plugin no node
    # offers nvidia.com/gpu, and a pod asking for one stays Pending.
    report = with_host(broken_nvml(healthy(), "library_not_found"), container="kubernetes")
    (found,) = findings(report, "GD-NVML-001")
    assert any("no NVIDIA device plugin" in step for step in found.fix)


@pytest.mark.parametrize(
    ("release", "device", "wanted", "unwanted"),
    [
        # R590 and later drive no Maxwell, Pascal or Volta GPU: the current driver a fresh
        # machine gets (RPM Fusion's akmod-nvidia is R595 on Fedora 44, NVIDIA's nvidia-open is
        # the open flavour, which never drives them) leaves a GTX 1080 without a driver
        (
            "Fedora Linux 44 (Workstation Edition)",
            "0x1b80",
            "$ sudo dnf install akmod-nvidia-580xx xorg-x11-drv-nvidia-580xx-cuda && sudo reboot",
            "dnf remove",
        ),
        (
            "Rocky Linux 9.4 (Blue Onyx)",
            "0x1b80",
            "$ sudo dnf module install nvidia-driver:580-dkms && sudo reboot",
            "nvidia-open",
        ),
        ("Ubuntu 24.04.1 LTS", "0x1b80", "apt-get install nvidia-driver-580", "ubuntu-drivers"),
        # a Turing GPU: the current driver drives it
        ("Fedora Linux 44 (Workstation Edition)", "0x1e04", "dnf install akmod-nvidia ", "580xx"),
    ],
)
def test_no_driver_on_a_gpu_the_current_branches_dropped_installs_its_last_branch(
    release, device, wanted, unwanted
):
    from gpudoctor.model.report import PciFunction

    gpu = PciFunction(address="0000:01:00.0", device_id=device, class_code="0x030000", driver=None)
    report = with_host(broken_nvml(healthy(), "library_not_found"), os_release=release)
    report = with_driver(report, module_version=None, pci_functions=(gpu,))
    (found,) = findings(report, "GD-NVML-001")
    fix = "\n".join(found.fix)
    assert wanted in fix and unwanted not in fix
    if device == "0x1b80":
        assert "PCI 0000:01:00.0 (device 0x1b80): Maxwell, Pascal or Volta" in "".join(
            found.evidence
        )


def test_no_driver_on_a_kepler_or_older_gpu_gives_each_generation_its_branch():
    # the device ID of a GT 520 (0x1040, Fermi: R390) lies among Kepler's (R470): the finding
    # said R470 was its last branch and installed R470, which does not drive a Fermi GPU
    from gpudoctor.model.report import PciFunction

    gpu = PciFunction(
        address="0000:01:00.0", device_id="0x1040", class_code="0x030000", driver=None
    )
    report = with_host(broken_nvml(healthy(), "library_not_found"), os_release="Ubuntu 22.04.5 LTS")
    report = with_driver(report, module_version=None, pci_functions=(gpu,))
    (found,) = findings(report, "GD-NVML-001")
    assert (
        "PCI 0000:01:00.0 (device 0x1040): Kepler or older; the device ID does not tell which, "
        "and the last driver branch is R470 for Kepler, R390 for Fermi, R340 for Tesla"
    ) in found.evidence
    assert not any("for it is R470" in line for line in found.evidence)
    assert found.fix[1:3] == (
        "If it is Kepler:",
        "$ sudo apt-get install nvidia-driver-470 && sudo reboot",
    )
    assert "the R390 legacy branch" in found.fix[3] and "the R340 legacy branch" in found.fix[3]


@pytest.mark.parametrize("os_release", ["Ubuntu 22.04.5 LTS", "Debian GNU/Linux 12 (bookworm)"])
def test_no_driver_on_a_grid_k2_names_r367_and_nvidia_s_archive(os_release):
    # GRID K2 (0x11bf) is a 367.xx board in NVIDIA's list: the fix read 'If it is Kepler: $
    # sudo apt-get install nvidia-driver-470', a branch that does not drive it; an R367 row
    # through the package commands would read nvidia-driver-367, which no release packages
    from gpudoctor.model.report import PciFunction

    gpu = PciFunction(
        address="0000:01:00.0", device_id="0x11bf", class_code="0x030000", driver=None
    )
    report = with_host(broken_nvml(healthy(), "library_not_found"), os_release=os_release)
    report = with_driver(report, module_version=None, pci_functions=(gpu,))
    (found,) = findings(report, "GD-NVML-001")
    assert (
        "PCI 0000:01:00.0 (device 0x11bf): Kepler (GRID K2); the last driver branch for it is R367"
    ) in found.evidence
    assert found.fix == (
        "R367 is the last driver branch for this GPU, and no distribution release in support "
        "packages it (there is no nvidia-driver-367 or akmod-nvidia-367xx).",
        "Install the last 367.xx release with NVIDIA's .run installer from its driver archive "
        "(https://download.nvidia.com/XFree86/Linux-x86_64/, the 367.* folders); a module that "
        "old may not build against a current kernel. Otherwise replace the GPU: no newer "
        "branch drives it.",
    )


def test_the_driver_hold_on_fedora_names_the_580xx_series_a_pascal_runs():
    # RPM Fusion's 580xx install has no akmod-nvidia to lock: the lock named the current driver
    from gpudoctor.model.report import PciFunction

    gpu = PciFunction(
        address="0000:01:00.0", device_id="0x1b80", class_code="0x030000", driver=None
    )
    report = broken_nvml(healthy(), "lib_rm_version_mismatch", "Driver/library version mismatch")
    report = with_host(report, os_release="Fedora Linux 44 (Workstation Edition)")
    pascal = with_driver(report, module_version="580.105.08", pci_functions=(gpu,))
    (found,) = findings(pascal, "GD-NVML-003")
    assert "$ sudo dnf versionlock add akmod-nvidia-580xx 'xorg-x11-drv-nvidia-580xx*'" in found.fix
    assert not any("add akmod-nvidia " in step for step in found.fix)
    # R595 is RPM Fusion's current driver, never a legacy series: its own names
    current = with_driver(report, module_version="595.71.05", pci_functions=(gpu,))
    (found,) = findings(current, "GD-NVML-003")
    assert "$ sudo dnf versionlock add akmod-nvidia 'xorg-x11-drv-nvidia*'" in found.fix
