"""Kernel-driver rules: no GPU, nouveau, the module missing, unbound GPUs, device files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import PciFunction, SiteInfo, SlurmNodeGres, Unavailable
from tests.rules.builders import (
    broken_nvml,
    diagnose,
    findings,
    h100,
    healthy,
    mac,
    no_gpu_machine,
    rocm_machine,
    with_driver,
    with_env,
    with_host,
    with_nvml,
    xpu_machine,
)

GPU_FN = PciFunction(address="0000:01:00.0", device_id="0x2330", class_code="0x030200", driver=None)
AUDIO_FN = PciFunction(
    address="0000:01:00.1", device_id="0x10f0", class_code="0x040300", driver=None
)


def no_driver(**changes):
    report = broken_nvml(healthy(), "library_not_found")
    return with_driver(report, module_version=None, uvm_loaded=False, **changes)


def module_not_loaded(**changes):
    """The driver installed (NVML's library answers Driver Not Loaded), its module not loaded."""
    report = broken_nvml(healthy(), "driver_not_loaded")
    return with_driver(report, module_version=None, uvm_loaded=False, **changes)


def test_a_machine_without_any_nvidia_gpu_is_a_warning_cpu_only():
    (found,) = findings(no_gpu_machine(), "GD-DRV-001")
    assert found.severity == Severity.WARNING
    assert "CPU only" in found.title
    assert not any("install" in step for step in found.fix)
    assert findings(healthy(), "GD-DRV-001") == []


def test_a_container_whose_pci_bus_shows_no_nvidia_gpu_is_the_same_case():
    (found,) = findings(no_gpu_machine(container="docker"), "GD-DRV-001")
    assert found.severity == Severity.WARNING
    assert any("docker container" in e for e in found.evidence)
    assert findings(no_gpu_machine(container="docker"), "GD-DRV-006") == []


def test_no_gpu_is_not_claimed_when_the_pci_bus_could_not_be_read_or_a_module_shows():
    unread = Unavailable(field="driver.pci_functions", code="permission", message="denied")
    assert findings(with_driver(no_gpu_machine(), errors=(unread,)), "GD-DRV-001") == []
    expected = with_env(no_gpu_machine(container="docker"), NVIDIA_VISIBLE_DEVICES="all")
    assert findings(with_driver(expected, errors=(unread,)), "GD-DRV-001") == []
    assert (
        findings(with_driver(no_gpu_machine(), dev_nodes=("/dev/nvidiactl",)), "GD-DRV-001") == []
    )


@pytest.mark.parametrize(
    ("runtime", "start"),
    [
        ("docker", "docker run --gpus all"),
        ("podman", "podman run --device nvidia.com/gpu=all"),
        ("apptainer", "apptainer exec --nv"),
        ("kubernetes", "nvidia.com/gpu: 1"),
    ],
)
def test_a_cuda_image_on_a_host_without_a_gpu_is_told_the_host_has_none(runtime, start):
    # NVIDIA's CUDA images set NVIDIA_VISIBLE_DEVICES=all themselves. In such a container on a
    # host whose PCI bus (seen from the container) shows no NVIDIA GPU and no nvidia module,
    # GD-DRV-001 said nothing, the kernel driver line "not visible from the container" and
    # NVML "If the host has an NVIDIA GPU: ... --gpus all": the host has none to give.
    report = with_env(no_gpu_machine(container=runtime), NVIDIA_VISIBLE_DEVICES="all")
    (found,) = findings(report, "GD-DRV-001")
    assert found.severity == Severity.WARNING
    assert "its host has none" in found.title and "CPU only" in found.title
    assert "NVIDIA_VISIBLE_DEVICES='all'" in found.evidence[-1]
    assert any(start in step for step in found.fix)
    assert not any("install" in step.lower() and "toolkit" not in step for step in found.fix)
    for quiet in ("GD-DRV-006", "GD-NVML-001", "GD-CUDA-001"):
        assert findings(report, quiet) == [], quiet
    # an image that asks for no GPU (void, none, empty) reads as any container without one
    for value in ("void", "none", ""):
        (plain,) = findings(with_env(report, NVIDIA_VISIBLE_DEVICES=value), "GD-DRV-001")
        assert plain.title == "No NVIDIA GPU: deep learning here runs on the CPU only"


def test_macos_is_information_not_an_error():
    report = with_host(no_driver(pci_functions=()), os="darwin", os_release="macOS 15")
    (found,) = findings(report, "GD-DRV-001")
    assert found.severity == Severity.INFO and "MPS" in found.title


def test_a_mac_whose_mps_works_is_told_so():
    # it was told "can use the Apple GPU", whatever torch.backends.mps said
    (found,) = findings(mac(mps_devices=1), "GD-DRV-001")
    assert found.severity == Severity.INFO
    assert (
        found.title == "macOS has no NVIDIA CUDA; MPS is available: PyTorch can use the Apple GPU"
    )
    assert any("is_available() is True" in line for line in found.evidence)
    assert not any("driver" in step.lower() for step in found.fix)


def test_a_mac_whose_mps_is_not_available_is_a_warning_cpu_only():
    (found,) = findings(mac(mps_devices=0), "GD-DRV-001")
    assert found.severity == Severity.WARNING
    assert "MPS is not available here: PyTorch runs on the CPU only" in found.title
    assert "$ sw_vers -productVersion" in found.fix
    assert not any("nvidia" in step.lower() for step in found.fix)
    assert diagnose(mac(mps_devices=0)).worst == Severity.WARNING  # exit status 0


def test_a_mac_report_that_did_not_ask_about_mps_keeps_the_old_words():
    (found,) = findings(mac(mps_devices=None), "GD-DRV-001")
    assert found.severity == Severity.INFO and "can use the Apple GPU" in found.title


@pytest.mark.parametrize(
    ("report", "words"),
    [
        (rocm_machine(), "PyTorch 2.9.1+rocm6.4 sees the AMD GPU through ROCm"),
        (rocm_machine(devices=2), "sees the 2 AMD GPUs through ROCm"),
        (xpu_machine(), "PyTorch 2.9.1+xpu sees the Intel GPU through XPU"),
    ],
)
def test_a_rocm_or_xpu_build_that_uses_its_gpu_is_not_told_cpu_only(report, words):
    # it read "No NVIDIA GPU: deep learning here runs on the CPU only ... choose an instance
    # type with an NVIDIA GPU" (a warning) while PyTorch trained on the AMD or Intel GPU
    (found,) = findings(report, "GD-DRV-001")
    assert found.severity == Severity.INFO
    assert words in found.title and "CPU only" not in found.title
    assert not any("instance type" in step for step in found.fix)


def test_a_rocm_build_that_sees_no_gpu_is_still_cpu_only():
    (found,) = findings(rocm_machine(devices=0), "GD-DRV-001")
    assert found.severity == Severity.WARNING and "CPU only" in found.title


def test_nouveau_bound_to_the_gpu():
    report = no_driver(pci_functions=(replace(GPU_FN, driver="nouveau"),))
    (found,) = findings(report, "GD-DRV-002")
    assert "nouveau" in found.evidence[0]
    assert any("blacklist nouveau" in step for step in found.fix)
    assert findings(healthy(), "GD-DRV-002") == []


def test_the_nouveau_blacklist_reads_the_same_under_sh_and_bash():
    # `echo -e` under dash (Debian's and Ubuntu's /bin/sh) printed "-e blacklist nouveau"
    import shlex
    import shutil
    import subprocess

    report = no_driver(pci_functions=(replace(GPU_FN, driver="nouveau"),))
    (found,) = findings(report, "GD-DRV-002")
    (step,) = [s for s in found.fix if "blacklist nouveau" in s]
    writer = step.removeprefix("$ ").split(" | ")[0]
    for shell in ("sh", "bash"):
        if shutil.which(shell) is None:
            continue
        out = subprocess.run(
            [shell, "-c", writer], check=True, capture_output=True, text=True, timeout=10
        )
        assert out.stdout == "blacklist nouveau\noptions nouveau modeset=0\n", (shell, out)
    assert shlex.split(writer)[0] == "printf"


def test_the_module_missing_although_a_gpu_is_on_the_bus():
    (found,) = findings(module_not_loaded(pci_functions=(GPU_FN, AUDIO_FN)), "GD-DRV-003")
    assert "0000:01:00.0" in found.evidence[0]
    assert not any("0000:01:00.1" in e for e in found.evidence)  # the audio function
    assert any("dkms" in step for step in found.fix)
    assert findings(healthy(), "GD-DRV-003") == []
    # the module on disk (modinfo) but NVML's library gone: still the module to load
    on_disk = with_driver(no_driver(pci_functions=(GPU_FN,)), installed_module_version="580.95.05")
    (found,) = findings(on_disk, "GD-DRV-003")
    assert any("dkms" in step for step in found.fix)


def test_no_driver_installed_is_not_told_to_load_or_rebuild_its_module():
    # no module on disk and no libnvidia-ml.so.1: GD-NVML-001 said 'No NVIDIA driver is
    # installed' while this finding said 'sudo modprobe nvidia' and 'dkms autoinstall', which
    # have no module to work on ('Module nvidia not found')
    report = no_driver(pci_functions=(GPU_FN,))
    (found,) = findings(report, "GD-DRV-003")
    assert found.title.endswith("no NVIDIA driver is installed")
    assert not any("modprobe" in step or "dkms" in step for step in found.fix)
    assert "the NVML line gives the commands" in found.fix[0]
    (nvml,) = findings(report, "GD-NVML-001")
    assert nvml.title == "No NVIDIA driver is installed"


def test_not_reported_under_wsl_where_windows_owns_the_gpu():
    assert findings(with_host(no_driver(pci_functions=(GPU_FN,)), wsl=True), "GD-DRV-003") == []


def test_a_gpu_without_a_driver_and_one_given_to_a_vm():
    vfio = PciFunction(
        address="0000:02:00.0", device_id="0x2330", class_code="0x030200", driver="vfio-pci"
    )
    report = with_driver(healthy(), pci_functions=(*healthy().driver.pci_functions, GPU_FN, vfio))
    unbound, passthrough = findings(report, "GD-DRV-004")
    assert unbound.severity == Severity.WARNING and "0000:01:00.0" in unbound.title
    assert passthrough.severity == Severity.INFO and "vfio-pci" in passthrough.title
    assert findings(healthy(), "GD-DRV-004") == []


def test_fewer_device_files_than_gpus():
    two = with_nvml(healthy(), gpus=(h100(0), h100(1)))
    (found,) = findings(two, "GD-DRV-005")
    assert "2 GPUs" in found.evidence[0]
    # nvidia-modprobe -c MINOR creates /dev/nvidiaMINOR: the command names the missing file,
    # not /dev/nvidia0, which exists (NVIDIA/nvidia-modprobe nvidia-modprobe.c, case 'c').
    assert "/dev/nvidia0" in found.evidence[1] and "/dev/nvidia1" not in found.evidence[1]
    assert found.fix[-1] == "$ sudo nvidia-modprobe -u -c 1"
    full = with_driver(two, dev_nodes=("/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"))
    assert findings(full, "GD-DRV-005") == []


def test_a_container_that_sees_no_driver_leaves_the_area_unchecked():
    report = with_host(no_driver(pci_functions=()), container="docker")
    (found,) = findings(report, "GD-DRV-006")
    assert found.severity == Severity.INFO
    assert findings(with_host(healthy(), container="docker"), "GD-DRV-006") == []
    assert findings(no_driver(pci_functions=()), "GD-DRV-006") == []


def test_the_module_rebuild_and_initramfs_follow_the_distribution():
    fedora = with_host(
        module_not_loaded(pci_functions=(GPU_FN,)), os_release="Fedora Linux 44 (Cloud Edition)"
    )
    (found,) = findings(fedora, "GD-DRV-003")
    assert any("kernel-devel" in step and "akmods" in step for step in found.fix)
    assert not any("apt-get" in step for step in found.fix)
    nouveau = with_driver(fedora, pci_functions=(replace(GPU_FN, driver="nouveau"),))
    (found,) = findings(nouveau, "GD-DRV-002")
    assert "$ sudo dracut --force" in found.fix
    assert not any("update-initramfs" in step for step in found.fix)


@pytest.mark.parametrize("driver", ["pci-stub", "nvgrace-gpu-vfio-pci"])
def test_every_passthrough_driver_counts_as_given_to_a_vm(driver):
    held = PciFunction(
        address="0000:02:00.0", device_id="0x2330", class_code="0x030200", driver=driver
    )
    report = with_driver(healthy(), pci_functions=(*healthy().driver.pci_functions, held))
    (found,) = findings(report, "GD-DRV-004")
    assert found.severity == Severity.INFO and driver in found.title


def test_gpus_held_by_pci_stub_are_looked_for_where_pci_stub_takes_its_ids():
    # Before, every GPU bound to pci-stub was sent to 'grep -rn vfio' and told to remove its ID
    # from vfio-pci.ids=, neither of which holds it: pci-stub reads pci-stub.ids=.
    held = PciFunction(
        address="0000:02:00.0", device_id="0x2330", class_code="0x030200", driver="pci-stub"
    )
    (found,) = findings(with_driver(healthy(), pci_functions=(held,)), "GD-DRV-011")
    assert found.fix[1] == (
        "$ grep -rnE 'vfio|pci.stub' /etc/modprobe.d /etc/default/grub /proc/cmdline"
    )
    assert "from pci-stub.ids= and 'options pci-stub ids='" in found.fix[2]
    assert "pci-stub/unbind" in found.fix[3]
    vfio = with_driver(healthy(), pci_functions=(replace(held, driver="vfio-pci"),))
    (plain,) = findings(vfio, "GD-DRV-011")
    assert plain.fix[1] == "$ grep -rn vfio /etc/modprobe.d /etc/default/grub /proc/cmdline"
    assert "pci-stub" not in plain.fix[2]


def test_a_node_whose_gres_gives_out_gpus_is_not_told_nothing_to_do():
    # the health gate asked SLURM: a node with gpu:h100:8 and no GPU was told "Nothing to do if
    # this machine has no GPU ... choose an instance type" beside GD-GPU-068's drain
    node = SlurmNodeGres(name="gpu-07", state="idle", gres=("gpu:h100:8(S:0-1)",))
    report = no_gpu_machine()
    report = replace(report, site=replace(report.site or SiteInfo(), slurm_node=node))
    (found,) = findings(report, "GD-DRV-001")
    assert "SLURM gives out gpu:h100:8" in found.title
    assert any("gpu-07" in e for e in found.evidence)
    assert not any("Nothing to do" in step or "instance type" in step for step in found.fix)
    cpu = replace(node, gres=())
    (plain,) = findings(replace(report, site=replace(report.site, slurm_node=cpu)), "GD-DRV-001")
    assert any("Nothing to do" in step for step in plain.fix)


def test_a_windows_pc_that_shows_no_nvidia_driver_marks_its_driver_line_so():
    # the driver line read "[✓] Kernel driver Windows: no NVIDIA driver found" (and JSON's
    # areas.driver "ok"): the mark said all is well beside a line that says the driver is missing
    from tests.rules.builders import diagnose, windows_laptop

    diagnosis = diagnose(windows_laptop())
    (found,) = [f for f in diagnosis.in_area("driver") if f.severity > Severity.OK]
    assert found.id == "GD-DRV-001"
    assert found.severity == Severity.INFO
    assert "No NVIDIA driver on this PC" in found.title
    assert diagnosis.worst == Severity.WARNING  # GD-NVML-001's, exit status 0 as before


def test_a_mac_reads_not_applicable_once_per_area_as_a_linux_cpu_machine_does():
    # a Mac's NVML, GPUs and CUDA lines read 'not available (library_not_found)', 'not checked
    # (NVML lists no GPU)' and 'libcuda not loaded', each with a finding of its own words
    from gpudoctor.render.headlines import headline
    from tests.rules.builders import diagnose, mac

    for report in (mac(), mac(0), mac(None)):
        diagnosis = diagnose(report)
        for area, rule_id in (
            ("nvml", "GD-NVML-010"),
            ("gpu", "GD-GPU-013"),
            ("cuda", "GD-CUDA-010"),
        ):
            assert headline(report, area) == "not applicable on macOS"
            (found,) = [f for f in diagnosis.in_area(area) if f.severity > Severity.OK]
            assert (found.id, found.severity) == (rule_id, Severity.INFO)
            assert found.title.endswith(" not applicable on macOS")
            assert found.evidence[-1 if area != "cuda" else 0] == (
                "macOS has no NVIDIA driver, NVML or CUDA (GD-DRV-001)"
            )
