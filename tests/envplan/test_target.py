"""Targets from the command line and from saved reports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.envplan.target import target_from_args, target_from_report
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.model.derived import set_aside_for_vm
from gpudoctor.model.report import CudaInfo, FrameworkInfo, NvmlInfo, PciFunction, Report
from gpudoctor.userfiles.read import load_report

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"driver": "abc", "cc": "8.6"}, "--driver abc"),
        ({"driver": "535.104.05", "cc": None}, "--driver needs --cc"),
        ({"driver": None, "cc": "8.6"}, "--cc needs --driver"),
        ({"driver": "535.104.05", "cc": "99.1"}, "--cc 99.1"),
        ({"driver": "535.104.05", "cc": "eight"}, "--cc eight"),
        ({"driver": "535.104.05", "cc": "8.6", "os": "darwin"}, "--os darwin"),
        ({"driver": "535.104.05", "cc": "8.6", "arch": "ppc64le"}, "--arch ppc64le"),
        ({"driver": "535.104.05", "cc": "8.6", "os": "windows", "wsl": True}, "--wsl"),
    ],
)
def test_bad_arguments(kb: KnowledgeBase, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        target_from_args(kb, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["darwin", "macOS"])
def test_os_macos_is_refused_with_the_next_step(kb: KnowledgeBase, name: str) -> None:
    # it read "--os darwin: use linux or windows"
    with pytest.raises(BadInputError) as caught:
        target_from_args(kb, driver="535.104.05", cc="8.6", os=name)
    message = str(caught.value)
    assert message.startswith(f"--os {name}: make-env plans CUDA and CPU-only environments")
    assert "python3 -m pip install torch" in message


def test_cc_forms_are_normalised(kb: KnowledgeBase) -> None:
    assert target_from_args(kb, driver="535.104.05", cc="86").cc == "8.6"
    assert target_from_args(kb, driver="535.104.05", cc="sm_120").cc == "12.0"


def test_describe(kb: KnowledgeBase) -> None:
    target = target_from_args(kb, driver="535.104.05", cc="7.0")
    assert target.describe(kb) == "driver 535.104.05 (CUDA 12.2), CC 7.0 (Volta), linux-64"


def test_describe_a_branch_newer_than_the_data_knows(kb: KnowledgeBase) -> None:
    # the newest [[branch]] row is R615 (CUDA 13.4); CUDA 13.5 shipped after it, so a 620
    # driver runs 13.4 at least, not at most: it read "driver 620.10 (CUDA 13.4)"
    newest = max(b.branch for b in kb.branches)
    driver = f"{newest + 5}.10"
    cuda = kb.max_cuda_for_driver(driver, "linux")
    target = target_from_args(kb, driver=driver, cc="9.0")
    assert target.describe(kb).startswith(f"driver {driver} (CUDA {cuda} or newer), CC 9.0")
    assert not kb.past_known_branches(f"{newest}.1")
    assert kb.past_known_branches(driver)


def test_from_report_h100() -> None:
    report = load_report(REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json")
    target = target_from_report(report, "report h100")
    assert (target.driver, target.cc, target.platform) == ("590.48.01", "9.0", "linux-64")
    assert target.gpus and "H100" in target.gpus[0]


def test_from_report_without_driver_lists_the_gpu_that_needs_one() -> None:
    target = target_from_report(load_report(REPORTS / "failure__no_driver.json"), "report")
    assert target.driver is None and not target.has_gpu
    assert target.driverless_gpus == ("PCI 0000:01:00.0, device 0x26b9, no driver bound",)


@pytest.mark.parametrize(
    ("functions", "expected"),
    [
        ((), ()),
        ((("0x040300", None),), ()),  # the GPU's audio function alone is not a GPU
        ((("0x030000", "vfio-pci"),), ()),  # set aside for a virtual machine
        ((("0x030200", "nvgrace-gpu-vfio-pci"),), ()),  # a Grace Hopper GPU passed through
        ((("0x030000", "pci-stub"),), ()),  # held by the stub driver for a VM
        ((("0x030000", "vfio_pci_core"),), ()),  # any vfio variant
        ((("0x030000", "nouveau"),), ("PCI 0000:02:00.0, device 0x2684, bound to nouveau",)),
    ],
)
def test_driverless_gpus_are_display_controllers_this_host_could_drive(
    functions: tuple[tuple[str, str | None], ...], expected: tuple[str, ...]
) -> None:
    report = load_report(REPORTS / "failure__no_driver.json")
    pci = tuple(
        PciFunction(address="0000:02:00.0", device_id="0x2684", class_code=code, driver=drv)
        for code, drv in functions
    )
    report = replace(report, driver=replace(report.driver, pci_functions=pci))
    assert target_from_report(report, "report").driverless_gpus == expected


def test_a_driver_means_no_driverless_gpus() -> None:
    report = load_report(REPORTS / "failure__no_driver.json")
    report = replace(report, driver=replace(report.driver, module_version="580.95.05"))
    target = target_from_report(report, "report")
    assert target.driver == "580.95.05" and target.driverless_gpus == ()


def test_from_report_windows() -> None:
    name = "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle.json"
    target = target_from_report(load_report(REPORTS / name), "report")
    assert (target.os, target.driver_os, target.platform) == ("windows", "windows", "win-64")


def test_passthrough_and_stub_drivers_hold_a_gpu_for_a_virtual_machine() -> None:
    for driver in ("vfio-pci", "nvgrace-gpu-vfio-pci", "vfio_pci_core", "pci-stub"):
        assert set_aside_for_vm(driver), driver
    for driver in (None, "nvidia", "nouveau", "snd_hda_intel"):
        assert not set_aside_for_vm(driver), driver


WINDOWS = "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle.json"


def nvml_failed(report: Report, *, wsl: bool = False) -> Report:
    """NVML could not start (no driver version); CUDA as recorded, no framework probed (as
    make-env probes this machine)."""
    nvml = NvmlInfo(status="library_not_found", message="not found")
    report = replace(report, nvml=nvml, frameworks=())
    if wsl:
        report = replace(report, host=replace(report.host, os="linux", wsl=True))
    return report


@pytest.mark.parametrize("wsl", [False, True])
def test_cuda_seeing_a_gpu_without_a_readable_driver_version_is_not_a_cpu_machine(
    wsl: bool,
) -> None:
    report = nvml_failed(load_report(REPORTS / WINDOWS), wsl=wsl)
    assert report.cuda.device_count == 1
    target = target_from_report(report, "report")
    assert target.driver is None and target.driverless_gpus == ()
    assert target.unread_driver == ("CUDA counts 1 device",)
    assert target.describe(load()).startswith("NVIDIA driver of unknown version, ")


def test_a_framework_seeing_a_gpu_is_a_sign_of_a_driver_too() -> None:
    report = nvml_failed(load_report(REPORTS / WINDOWS))
    report = replace(report, cuda=CudaInfo(status="failed", message="libcuda not found"))
    torch = FrameworkInfo(name="torch", status="ok", cuda_available=True, device_count=2)
    assert target_from_report(report, "report").unread_driver == ()
    target = target_from_report(replace(report, frameworks=(torch,)), "report")
    assert target.unread_driver == ("PyTorch sees 2 GPUs",)


def test_a_gpu_bound_to_nvidia_without_a_version_is_not_a_cpu_machine() -> None:
    report = load_report(REPORTS / "failure__no_driver.json")
    gpu = PciFunction(
        address="0000:01:00.0", device_id="0x2684", class_code="0x030000", driver="nvidia"
    )
    report = replace(report, driver=replace(report.driver, pci_functions=(gpu,)))
    target = target_from_report(report, "report")
    assert target.driver is None and target.driverless_gpus == ()
    assert target.unread_driver == ("PCI 0000:01:00.0, device 0x2684, bound to nvidia",)
    odd = replace(report, driver=replace(report.driver, module_version="rc-build"))
    assert target_from_report(odd, "report").unread_driver == (
        "PCI 0000:01:00.0, device 0x2684, bound to nvidia",
        "the kernel module says driver 'rc-build'",
    )


def test_an_unreadable_nvml_version_falls_back_to_the_kernel_module() -> None:
    report = load_report(REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json")
    report = replace(report, nvml=replace(report.nvml, driver_version="N/A"))
    target = target_from_report(report, "report")
    assert target.driver == "590.48.01" and target.unread_driver == ()


def test_wsl2_with_a_failing_nvml_is_not_planned_as_a_machine_without_a_driver() -> None:
    # make-env --from-report on WSL2 with a Linux driver installed inside it (NVML: Driver Not
    # Loaded) planned "an environment for no NVIDIA driver", a CPU one, without a word: WSL2
    # never shows the GPU on the PCI bus, so nothing else said a GPU was there.
    report = load_report(REPORTS / "failure__wsl2_linux_driver_inside_wsl.json")
    target = target_from_report(report, "report")
    assert target.driver is None
    assert len(target.unread_driver) == 1
    assert "answered driver_not_loaded" in target.unread_driver[0]
    assert "nvidia-smi.exe" in target.unread_driver[0]
    absent = replace(report, nvml=NvmlInfo(status="library_not_found"))
    assert target_from_report(absent, "report").unread_driver == ()


def test_wsl1_is_planned_as_wsl1_not_wsl2(kb: KnowledgeBase) -> None:
    # make-env on WSL 1 headed its CPU plan "no NVIDIA driver, linux-64 under WSL2", told it
    # to regenerate with --wsl (WSL2) and warned of no NVIDIA driver; WSL 1 has no GPU
    # support whatever driver Windows has. A Linux NVML inside it that fails is no GPU either.
    report = load_report(REPORTS / "failure__wsl1_no_gpu_support.json")
    for nvml in (report.nvml, NvmlInfo(status="driver_not_loaded")):
        target = target_from_report(replace(report, nvml=nvml), "report")
        assert (target.wsl, target.wsl1, target.unread_driver) == (False, True, ())
        assert target.describe(kb) == "no GPU support, linux-64 under WSL 1"
    wsl2 = replace(report, host=replace(report.host, kernel="6.6.87.2-microsoft-standard-WSL2"))
    assert (target_from_report(wsl2, "report").wsl, target_from_report(wsl2, "r").wsl1) == (
        True,
        False,
    )


def test_a_machine_without_an_nvidia_gpu_has_no_signs_of_a_driver() -> None:
    report = load_report(REPORTS / "failure__no_driver.json")
    report = replace(report, driver=replace(report.driver, pci_functions=()))
    target = target_from_report(report, "report")
    assert (target.driver, target.driverless_gpus, target.unread_driver) == (None, (), ())


def test_windows_on_arm_is_a_real_platform_with_no_recorded_build(kb: KnowledgeBase) -> None:
    # issue 17 #17: not bad input (exit 2) but nothing to plan (exit 1), and exactly why
    with pytest.raises(PlanError, match=r"\(Windows on Arm\): no PyTorch or TensorFlow build"):
        target_from_args(kb, driver=None, cc=None, os="windows", arch="aarch64")


@pytest.mark.parametrize("cc", ["5.3", "6.2", "7.2", "8.7", "11.0", "10.1", "12.1"])
def test_a_cc_found_only_on_aarch64_is_planned_there(kb: KnowledgeBase, cc: str) -> None:
    # `make-env --driver 580.65.06 --cc 11.0` planned an x86_64 machine (and offered
    # conda-forge's linux-64 build), though Jetson Thor (CC 11.0), the other Jetsons and GB10
    # exist only as aarch64 Linux machines: with no --os/--arch/--wsl the CC picks the platform
    target = target_from_args(kb, driver="580.65.06", cc=cc)
    assert (target.os, target.arch, target.platform) == ("linux", "aarch64", "linux-aarch64")
    assert target.platform_note is not None and "only on linux-aarch64" in target.platform_note
    # given as it is, nothing is said
    same = target_from_args(kb, driver="580.65.06", cc=cc, os="linux", arch="aarch64")
    assert same.platform == "linux-aarch64" and same.platform_note is None


def test_a_cc_found_everywhere_keeps_the_default_platform(kb: KnowledgeBase) -> None:
    target = target_from_args(kb, driver="580.65.06", cc="8.6")
    assert target.platform == "linux-64" and target.platform_note is None


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"arch": "x86_64"}, "not on linux-64"),
        ({"os": "windows"}, "not on win-64"),
        ({"wsl": True}, "not under WSL2"),
        ({"os": "linux", "wsl": True, "arch": "aarch64"}, "not under WSL2"),
    ],
)
def test_a_cc_found_only_on_aarch64_refuses_another_platform(
    kb: KnowledgeBase, kwargs: dict[str, object], said: str
) -> None:
    with pytest.raises(BadInputError, match=rf"--cc 11\.0 \(Jetson.*only on linux-aarch64.*{said}"):
        target_from_args(kb, driver="580.65.06", cc="11.0", **kwargs)  # type: ignore[arg-type]


def test_where_a_cc_is_found_comes_from_the_data(tmp_path: Path) -> None:
    # not a list in the code: a row's `platforms` decides
    from shutil import copytree

    from gpudoctor.kb.loader import DATA_DIR, load_dir

    folder = tmp_path / "data"
    copytree(DATA_DIR, folder)
    path = folder / "cuda_arch.toml"
    text = path.read_text(encoding="utf-8")
    old = 'cc = "8.6"\nname = "Ampere"\n'
    assert old in text
    path.write_text(text.replace(old, old + 'platforms = ["win-64"]\n'), encoding="utf-8")
    target = target_from_args(load_dir(folder), driver="580.65.06", cc="8.6")
    assert (target.os, target.arch) == ("windows", "x86_64")
