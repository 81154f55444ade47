"""Kernel-driver probe against fake /proc, /sys and /dev trees."""

from __future__ import annotations

from gpudoctor.model.derived import module_flavour
from gpudoctor.model.report import FabricManagerInfo
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.kernel_driver import (
    parse_excluded_gpus,
    parse_proc_version,
    probe_kernel_driver,
)
from tests.probe.fakes import FakeRun, pci_function, write

PROC_VERSION = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  590.48.01  Release Build  "
    "(dvs-builder@U22-I3-B17-02-5)  Mon Dec  1 10:00:00 UTC 2025\n"
    "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n"
)


def ctx(root):
    return ProbeContext(root=root, env={})


def test_parse_proc_version():
    line, version = parse_proc_version(PROC_VERSION)
    assert version == "590.48.01"
    assert line.startswith("NVRM version")
    old = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
    assert parse_proc_version(old)[1] == "535.104.05"
    assert parse_proc_version("") == (None, None)


def test_loaded_driver(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", PROC_VERSION)
    write(tmp_path, "/sys/module/nvidia/version", "590.48.01\n")
    (tmp_path / "sys/module/nvidia_uvm").mkdir(parents=True)
    pci_function(
        tmp_path,
        "0000:00:09.0",
        vendor="0x10de",
        klass="0x030200",
        device="0x2330",
        driver="nvidia",
    )
    # The GPU's HDMI audio function is NVIDIA too, but not a display controller.
    pci_function(
        tmp_path,
        "0000:00:09.1",
        vendor="0x10de",
        klass="0x040300",
        device="0x22ba",
        driver="snd_hda_intel",
    )
    pci_function(
        tmp_path, "0000:00:1f.0", vendor="0x8086", klass="0x030000", device="0x1234", driver="i915"
    )
    for node in ("nvidia0", "nvidiactl", "nvidia-uvm"):
        write(tmp_path, f"/dev/{node}")
    info = probe_kernel_driver(ctx(tmp_path))
    assert info.module_version == "590.48.01"
    assert info.proc_version_line.startswith("NVRM")
    (gpu,) = info.pci_functions
    assert (gpu.address, gpu.device_id, gpu.class_code, gpu.driver) == (
        "0000:00:09.0",
        "0x2330",
        "0x030200",
        "nvidia",
    )
    assert info.dev_nodes == ("/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl")
    assert info.uvm_loaded is True
    assert info.nouveau_loaded is False
    assert info.errors == ()


def test_nouveau_owns_the_gpu(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys/module/nouveau").mkdir(parents=True)
    pci_function(
        tmp_path,
        "0000:01:00.0",
        vendor="0x10de",
        klass="0x030000",
        device="0x1e81",
        driver="nouveau",
    )
    info = probe_kernel_driver(ctx(tmp_path))
    assert info.nouveau_loaded is True
    assert info.pci_functions[0].driver == "nouveau"
    assert info.module_version is None
    assert info.errors[0].code == "not_found"


def test_gpu_without_any_driver(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys/module").mkdir(parents=True)
    pci_function(
        tmp_path, "0000:01:00.0", vendor="0x10de", klass="0x030200", device="0x2330", driver=None
    )
    (gpu,) = probe_kernel_driver(ctx(tmp_path)).pci_functions
    assert gpu.driver is None


def test_vfio_passthrough(tmp_path):
    (tmp_path / "proc").mkdir()
    pci_function(
        tmp_path,
        "0000:41:00.0",
        vendor="0x10de",
        klass="0x030200",
        device="0x2335",
        driver="vfio-pci",
    )
    assert probe_kernel_driver(ctx(tmp_path)).pci_functions[0].driver == "vfio-pci"


def test_sys_module_version_wins_over_proc(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", PROC_VERSION)
    write(tmp_path, "/sys/module/nvidia/version", "590.48.02\n")
    assert probe_kernel_driver(ctx(tmp_path)).module_version == "590.48.02"


def test_no_proc_or_sys_is_not_an_error_of_ours(tmp_path):
    info = probe_kernel_driver(ctx(tmp_path))
    assert info.errors[0].code == "unsupported_os"
    assert info.pci_functions == ()


def test_an_unreadable_pci_bus_is_recorded_not_taken_for_no_gpu(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys/module").mkdir(parents=True)
    info = probe_kernel_driver(ctx(tmp_path))
    assert info.pci_functions == ()
    assert any(e.field == "driver.pci_functions" and e.code == "not_visible" for e in info.errors)


def test_a_readable_pci_bus_without_nvidia_records_no_error(tmp_path):
    (tmp_path / "proc").mkdir()
    pci_function(
        tmp_path, "0000:00:02.0", vendor="0x8086", klass="0x030000", device="0x1234", driver=None
    )
    info = probe_kernel_driver(ctx(tmp_path))
    assert info.pci_functions == ()
    assert not any(e.field == "driver.pci_functions" for e in info.errors)


# The real line from an H200 (tests/data/reports/*580.159.04__open_module.json).
H200_OPEN = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
    "(nixbld@)\n"
)
PROPRIETARY = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 2025\n"


def test_module_flavour_is_recorded(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", H200_OPEN)
    info = probe_kernel_driver(ctx(tmp_path))
    assert (info.module_version, info.module_flavour) == ("580.159.04", "open")
    write(tmp_path, "/proc/driver/nvidia/version", PROPRIETARY)
    assert probe_kernel_driver(ctx(tmp_path)).module_flavour == "proprietary"
    assert module_flavour(None) is None


def _hgx(root, *, fm_process: bool) -> None:
    write(root, "/proc/driver/nvidia/version", PROPRIETARY)
    pci_function(
        root, "0000:18:00.0", vendor="0x10de", klass="0x030200", device="0x2330", driver="nvidia"
    )
    for i, address in enumerate(("0000:05:00.0", "0000:06:00.0")):
        pci_function(root, address, vendor="0x10de", klass="0x068000", device="0x22a3", driver=None)
        write(root, f"/proc/{100 + i}/comm", "bash\n")
    if fm_process:
        write(root, "/proc/4242/comm", "nv-fabricmanage\n")


def _bin(root, name: str) -> str:
    folder = root / "bin"
    path = write(root, f"/bin/{name}", "#!/bin/sh\n")
    path.chmod(0o755)
    return str(folder)


def test_nvswitches_and_a_running_fabric_manager(tmp_path):
    _hgx(tmp_path, fm_process=True)
    path = _bin(tmp_path, "nv-fabricmanager")
    run = FakeRun(stdout="Fabric Manager version is : 580.105.08\n")
    info = probe_kernel_driver(ProbeContext(root=tmp_path, env={"PATH": path}, run=run))
    assert [s.address for s in info.nvswitches] == ["0000:05:00.0", "0000:06:00.0"]
    assert [f.address for f in info.pci_functions] == ["0000:18:00.0"]  # switches are no GPUs
    assert info.fabric_manager == FabricManagerInfo(
        running=True, version="580.105.08", how="/proc/*/comm"
    )
    ((argv, timeout, _),) = run.calls
    assert argv[1:] == ("--version",) and timeout <= 5


def test_fabric_manager_stopped_per_systemd(tmp_path):
    _hgx(tmp_path, fm_process=False)
    run = FakeRun(stdout="inactive\n", returncode=3)
    env = {"PATH": _bin(tmp_path, "systemctl")}
    info = probe_kernel_driver(ProbeContext(root=tmp_path, env=env, run=run))
    assert info.fabric_manager is not None
    assert info.fabric_manager.running is False
    assert "inactive" in info.fabric_manager.how
    assert run.calls[0][0] == ("systemctl", "is-active", "nvidia-fabricmanager")


def test_no_nvswitch_no_fabric_manager_probe(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", PROPRIETARY)
    run = FakeRun(stdout="active\n")
    info = probe_kernel_driver(ProbeContext(root=tmp_path, env={}, run=run))
    assert info.nvswitches == () and info.fabric_manager is None and run.calls == []


# `modinfo nvidia` of the 560 open modules (negativo17/nvidia-driver#158: a GT 1030 they
# refused, so the module did not load), trimmed to the lines read.
MODINFO_OPEN_560 = """filename:       /lib/modules/6.10.3-200.fc40.x86_64/extra/nvidia/nvidia.ko.xz
alias:          char-major-195-*
version:        560.31.02
supported:      external
license:        Dual MIT/GPL
firmware:       nvidia/560.31.02/gsp_tu10x.bin
"""


def test_an_unloaded_module_is_read_with_modinfo(tmp_path):
    pci_function(
        tmp_path, "0000:09:00.0", vendor="0x10de", klass="0x030000", device="0x1d01", driver=None
    )
    run = FakeRun(stdout=MODINFO_OPEN_560)
    env = {"PATH": _bin(tmp_path, "modinfo")}
    info = probe_kernel_driver(ProbeContext(root=tmp_path, env=env, run=run))
    assert info.module_version is None  # not loaded
    assert (info.module_flavour, info.installed_module_version) == ("open", "560.31.02")
    ((argv, timeout, _),) = run.calls
    assert argv[0].endswith("/modinfo") and argv[1:] == ("nvidia",) and timeout <= 5
    proprietary = FakeRun(stdout="version:        580.105.08\nlicense:        NVIDIA\n")
    info = probe_kernel_driver(ProbeContext(root=tmp_path, env=env, run=proprietary))
    assert info.module_flavour == "proprietary"


def test_modinfo_is_not_asked_when_the_module_is_loaded_or_there_is_no_gpu(tmp_path):
    run = FakeRun(stdout=MODINFO_OPEN_560)
    env = {"PATH": _bin(tmp_path, "modinfo")}
    assert probe_kernel_driver(ProbeContext(root=tmp_path, env=env, run=run)).module_flavour is None
    write(tmp_path, "/proc/driver/nvidia/version", PROPRIETARY)
    pci_function(
        tmp_path, "0000:09:00.0", vendor="0x10de", klass="0x030000", device="0x1d01", driver=None
    )
    assert probe_kernel_driver(ProbeContext(root=tmp_path, env=env, run=run)).module_flavour == (
        "proprietary"
    )
    assert run.calls == []


# /proc/driver/nvidia/params as the driver writes it (kernel-open/nvidia/nv-procfs.c: one
# "Name: value" a line, strings in double quotes), its last lines.
PARAMS_TAIL = """\
RegistryDwords: ""
RegistryDwordsPerDevice: ""
RmMsg: ""
GpuBlacklist: ""
TemporaryFilePath: "/var/tmp"
ExcludedGpus: "{excluded}"
"""
EXCLUDED = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"


def test_excluded_gpus_are_read_from_the_driver_s_params(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", PROC_VERSION)
    other = "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    write(
        tmp_path,
        "/proc/driver/nvidia/params",
        "EnableMSI: 1\n" + PARAMS_TAIL.format(excluded=f"{EXCLUDED}, {other}"),
    )
    assert probe_kernel_driver(ctx(tmp_path)).excluded_gpus == (EXCLUDED, other)


def test_no_excluded_gpu_is_empty_and_no_params_file_unknown(tmp_path):
    write(tmp_path, "/proc/driver/nvidia/version", PROC_VERSION)
    assert probe_kernel_driver(ctx(tmp_path)).excluded_gpus is None  # not read
    write(tmp_path, "/proc/driver/nvidia/params", PARAMS_TAIL.format(excluded=""))
    assert probe_kernel_driver(ctx(tmp_path)).excluded_gpus == ()


def test_the_deprecated_gpu_blacklist_name_counts_too():
    text = PARAMS_TAIL.format(excluded="").replace(
        'GpuBlacklist: ""', f'GpuBlacklist: "{EXCLUDED}"'
    )
    assert parse_excluded_gpus(text) == (EXCLUDED,)
    assert parse_excluded_gpus(None) is None
