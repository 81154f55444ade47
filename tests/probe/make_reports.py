"""Regenerate tests/data/reports/*.json: recorded reports for replay and golden tests.

Run from the repository root: ``python -m tests.probe.make_reports``. NVML sections come from
replaying tests/data/nvml scenarios (real captures) through the real collector; the host,
kernel-driver, CUDA and framework sections are hand-built, consistent with the reference facts
(shared/reference/compatibility.md, diagnostics.md §3). Facts a capture does not hold (CPU,
memory, Python paths) are left out or clearly generic.
"""

from __future__ import annotations

import copy
import dataclasses
import sys

from gpudoctor.model.report import (
    ContainerToolkitInfo,
    CudaInfo,
    FabricManagerInfo,
    FrameworkDevice,
    FrameworkInfo,
    KernelDriverInfo,
    KernelLogInfo,
    LibraryInfo,
    NvmlInfo,
    PackageInfo,
    PciFunction,
    Report,
    SiteInfo,
)
from gpudoctor.model.serialize import report_to_json
from gpudoctor.probe.nvml_collect import collect_nvml
from gpudoctor.userfiles.read import load_report
from tests.probe.fake_nvml import FakeNvml, capture_scenario_names, load_scenario
from tests.probe.make_reports_devices import device_reports
from tests.probe.report_parts import (
    CREATED,
    CU126_LIBS,
    CU126_WHEELS,
    HUNG,
    LIBCUDA_MISSING,
    NO_DRIVER_TORCH,
    NO_KERNEL_IMAGE,
    NO_SUCH_FILE,
    OUT,
    TF_ABSENT,
    cuda_ok,
    driver_from,
    host_from,
    probes,
    report,
    torch_failed,
    torch_ok,
)
from tests.probe.software_reports import software_reports


def capture_report(name: str) -> Report:
    scenario = load_scenario(name)
    nvml = collect_nvml(FakeNvml(scenario))
    windows = (scenario["source"].get("os") or "").startswith("windows")
    # With MIG on and no CUDA_VISIBLE_DEVICES, CUDA enumerates one MIG device per process.
    visible = tuple(
        dataclasses.replace(g, name=g.mig_devices[0].name) if g.mig_devices else g
        for g in nvml.gpus
    )
    return report(
        host_from(scenario),
        driver_from(scenario, nvml),
        nvml,
        cuda_ok(scenario, nvml, len(visible)),
        torch_ok(visible, windows),
        TF_ABSENT,
    )


def failure_reports() -> dict[str, Report]:
    h100 = load_scenario("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle")
    l40s = load_scenario("linux-x86_64__nvidia-l40s__595.80__idle")
    rtx2080 = load_scenario("linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle")
    h100_nvml = collect_nvml(FakeNvml(h100))
    l40s_nvml = collect_nvml(FakeNvml(l40s))
    out: dict[str, Report] = {}

    def nvml_of(name: str) -> NvmlInfo:
        return collect_nvml(FakeNvml(f"failure__{name}"))

    no_cuda = CudaInfo(status="ok", libcuda_error=LIBCUDA_MISSING, libraries=CU126_LIBS)
    pci_only = driver_from(l40s, l40s_nvml)

    out["failure__no_driver"] = report(
        host_from(l40s),
        KernelDriverInfo(
            pci_functions=tuple(
                dataclasses.replace(f, driver=None) for f in pci_only.pci_functions
            ),
            uvm_loaded=False,
            nouveau_loaded=False,
        ),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    out["failure__driver_not_loaded_nouveau"] = report(
        host_from(rtx2080),
        KernelDriverInfo(
            pci_functions=tuple(
                dataclasses.replace(f, driver="nouveau")
                for f in driver_from(rtx2080, collect_nvml(FakeNvml(rtx2080))).pci_functions
            ),
            uvm_loaded=False,
            nouveau_loaded=True,
        ),
        nvml_of("driver_not_loaded"),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib64/libcuda.so.595.71.05",
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
            libraries=CU126_LIBS,
        ),
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # docker run without --gpus on a GPU host: /sys still shows the host's PCI function and
    # nvidia module, but no /dev/nvidia* node and no driver library were put in the container.
    out["failure__container_nvml_library_not_found"] = report(
        host_from(h100, container="docker", env={"PATH": "/usr/local/bin:/usr/bin:/bin"}),
        driver_from(h100, h100_nvml, dev_nodes=(), proc_version_line=None),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # WSL2 with a Linux driver installed inside it (nvidia-utils-NNN, the CUDA repository's
    # `cuda`; microsoft/WSL#5265): no NVIDIA PCI function, no /dev/nvidia* and no nvidia module
    # (the GPU is /dev/dxg); the Linux NVML answers Driver Not Loaded and the Linux libcuda
    # comes before the Windows driver's in /usr/lib/wsl/lib.
    out["failure__wsl2_linux_driver_inside_wsl"] = report(
        host_from(
            rtx2080,
            wsl=True,
            kernel="6.6.87.2-microsoft-standard-WSL2",
            os_release="Ubuntu 24.04.3 LTS",
            glibc="2.39",
        ),
        KernelDriverInfo(uvm_loaded=False, nouveau_loaded=False),
        nvml_of("driver_not_loaded"),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01",
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
            libraries=CU126_LIBS,
        ),
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # WSL 1 (no GPU support at all): /proc/version reads Microsoft as WSL2's does, but the
    # kernel release is 4.4.0-<build>-Microsoft; no /dev/dxg, no /usr/lib/wsl/lib
    # (microsoft/WSL#5749, powersj/whatsthis#10).
    wsl_host = host_from(
        rtx2080,
        wsl=True,
        kernel="6.6.87.2-microsoft-standard-WSL2",
        os_release="Ubuntu 24.04.3 LTS",
        glibc="2.39",
    )
    out["failure__wsl1_no_gpu_support"] = report(
        dataclasses.replace(wsl_host, kernel="4.4.0-19041-Microsoft"),
        KernelDriverInfo(uvm_loaded=False, nouveau_loaded=False),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # `docker run` without --gpus under WSL2 (Docker Desktop's WSL 2 backend): the WSL kernel,
    # no /dev/dxg and no /usr/lib/wsl in the container, and no GPU on the PCI bus.
    out["failure__wsl2_docker_without_gpus"] = report(
        dataclasses.replace(wsl_host, container="docker", dxg=False),
        KernelDriverInfo(uvm_loaded=False, nouveau_loaded=False),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # `docker run --device /dev/dxg` of a CUDA image under WSL2: WSL2's GPU device without
    # the Windows driver's libraries, which NVIDIA's runtime mounts only with --gpus
    # (NVIDIA/libnvidia-container src/nvc_info.c, nvidia-container-toolkit driver-wsl.go).
    out["failure__wsl2_container_dxg_without_libraries"] = report(
        dataclasses.replace(
            wsl_host, container="docker", dxg=True, env={"NVIDIA_VISIBLE_DEVICES": "all"}
        ),
        KernelDriverInfo(uvm_loaded=False, nouveau_loaded=False),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # A CUDA image (which sets NVIDIA_VISIBLE_DEVICES=all itself) run with docker on a laptop
    # without an NVIDIA GPU: the host's PCI bus, read from the container, shows nothing NVIDIA
    # and no nvidia module; PyTorch is the image's CUDA build.
    out["failure__cuda_image_on_host_without_gpu"] = report(
        host_from(
            l40s,
            container="docker",
            env={"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"},
        ),
        KernelDriverInfo(uvm_loaded=False, nouveau_loaded=False),
        nvml_of("library_not_found"),
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # `podman run` without --device nvidia.com/gpu=all on a GPU host, and a Kubernetes pod
    # without a nvidia.com/gpu limit whose CUDA image sets NVIDIA_VISIBLE_DEVICES=all: /sys
    # shows the host's GPU and module, no device file or driver library was put in.
    for name, runtime, env in (
        ("failure__podman_without_gpu", "podman", {"PATH": "/usr/local/bin:/usr/bin:/bin"}),
        (
            "failure__kubernetes_pod_without_gpu_limit",
            "kubernetes",
            {"PATH": "/usr/local/bin:/usr/bin:/bin", "NVIDIA_VISIBLE_DEVICES": "all"},
        ),
    ):
        out[name] = report(
            host_from(h100, container=runtime, env=env),
            driver_from(h100, h100_nvml, dev_nodes=(), proc_version_line=None),
            nvml_of("library_not_found"),
            no_cuda,
            torch_failed(NO_DRIVER_TORCH),
            TF_ABSENT,
        )
    mismatch_nvml = nvml_of("lib_rm_version_mismatch")
    out["failure__driver_library_mismatch"] = report(
        host_from(h100),
        driver_from(
            h100,
            h100_nvml,
            module_version="570.133.20",
            proc_version_line=(
                "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.20  Release Build"
            ),
        ),
        mismatch_nvml,
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.570.195.03",
            cu_init_result=803,
            cu_init_error="CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
            libraries=CU126_LIBS,
            nvidia_wheels=CU126_WHEELS,
        ),
        torch_failed(
            "Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before "
            "calling NumCudaDevices() that might have already set an error? Error 803: system "
            "has unsupported display driver / cuda driver combination"
        ),
        TF_ABSENT,
    )
    v2_nvml = nvml_of("cuda_v2_library_not_found")
    out["failure__cuda_v2_missing_utility_container"] = report(
        host_from(
            l40s,
            container="docker",
            env={"NVIDIA_DRIVER_CAPABILITIES": "utility", "NVIDIA_VISIBLE_DEVICES": "all"},
        ),
        dataclasses.replace(pci_only, proc_version_line=None),
        v2_nvml,
        no_cuda,
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    lost_nvml = nvml_of("one_of_two_gpus_lost")
    good = tuple(g for g in lost_nvml.gpus if not g.lost)
    lost_driver = driver_from(h100, h100_nvml)
    out["failure__one_gpu_lost"] = report(
        host_from(h100),
        dataclasses.replace(
            lost_driver,
            pci_functions=(
                *lost_driver.pci_functions,
                PciFunction(
                    address="0000:00:0a.0",
                    device_id="0x2330",
                    class_code="0x030200",
                    driver="nvidia",
                ),
            ),
            dev_nodes=(*lost_driver.dev_nodes, "/dev/nvidia1"),
        ),
        lost_nvml,
        cuda_ok(h100, lost_nvml, len(good)),
        torch_ok(good),
        TF_ABSENT,
    )
    # Docker on an H100 host without the NVIDIA Container Toolkit: `docker run --gpus all`
    # fails with 'could not select device driver "" with capabilities: [[gpu]]' (the probe
    # found /usr/bin/docker, no toolkit program, no NVIDIA runtime, no CDI specification).
    out["failure__docker_without_container_toolkit"] = dataclasses.replace(
        report(
            host_from(h100, os_release="Ubuntu 24.04.3 LTS", glibc="2.39"),
            driver_from(h100, h100_nvml),
            h100_nvml,
            cuda_ok(h100, h100_nvml, 1),
            torch_ok(h100_nvml.gpus),
            TF_ABSENT,
        ),
        site=SiteInfo(container_toolkit=ContainerToolkitInfo(docker="/usr/bin/docker")),
    )
    out["failure__torch_cpu_only_on_gpu"] = report(
        host_from(h100),
        driver_from(h100, h100_nvml),
        h100_nvml,
        dataclasses.replace(cuda_ok(h100, h100_nvml, 1), libraries=(), nvidia_wheels=()),
        FrameworkInfo(
            name="torch",
            status="ok",
            version="2.13.0+cpu",
            cuda_build=False,
            cuda_available=False,
            device_count=0,
            python_version="3.12.3",
            duration_s=1.4,
        ),
        TF_ABSENT,
    )
    old = dataclasses.replace(l40s_nvml, driver_version="535.230.02", cuda_driver_version="12.2")
    out["failure__torch_cu130_on_driver_535"] = report(
        host_from(l40s),
        driver_from(l40s, old),
        old,
        dataclasses.replace(
            cuda_ok(l40s, old, 1),
            libraries=(),
            nvidia_wheels=(
                PackageInfo(name="nvidia-cuda-runtime", version="13.0.96"),
                PackageInfo(name="nvidia-cudnn-cu13", version="9.20.0.48"),
            ),
        ),
        torch_failed(
            "The NVIDIA driver on your system is too old (found version 12020). Please update "
            "your GPU driver by downloading and installing a new version from the URL: "
            "http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org "
            "to install a PyTorch version that has been compiled with your version of the CUDA "
            "driver.",
            version="2.13.0+cu130",
            build_cuda="13.0",
            build_cudnn="9.20.0",
            arch_list=("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"),
            loaded_libraries=(),
            requires=('nvidia-cudnn-cu13==9.20.0.48; platform_system == "Linux"',),
        ),
        TF_ABSENT,
    )
    rtx = collect_nvml(FakeNvml(rtx2080))
    pascal_gpu = dataclasses.replace(
        rtx.gpus[0],
        name="NVIDIA GeForce GTX 1080 Ti",
        compute_capability="6.1",
        architecture="Pascal",
        memory_total_mib=11264,
        sm_clock_max_mhz=1911,
    )
    pascal = dataclasses.replace(
        rtx, driver_version="580.95.05", cuda_driver_version="13.0", gpus=(pascal_gpu,)
    )
    cu128_archs = ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
    out["failure__pascal_with_torch_cu128"] = report(
        host_from(rtx2080),
        dataclasses.replace(
            driver_from(rtx2080, pascal),
            # a Pascal GPU works only with the proprietary module (no GSP for the open ones)
            proc_version_line=(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build"
            ),
            module_flavour="proprietary",
            pci_functions=(
                PciFunction(
                    address="0000:0c:00.0",
                    device_id="0x1b06",
                    class_code="0x030000",
                    driver="nvidia",
                ),
            ),
        ),
        pascal,
        cuda_ok(rtx2080, pascal, 1),
        dataclasses.replace(
            torch_ok(pascal.gpus),
            version="2.10.0+cu128",
            build_cuda="12.8",
            arch_list=cu128_archs,
            devices=(
                FrameworkDevice(
                    index=0,
                    name="NVIDIA GeForce GTX 1080 Ti",
                    compute_capability="6.1",
                    smoke_ok=False,
                    smoke_error=NO_KERNEL_IMAGE,
                ),
            ),
            loaded_libraries=(),
            requires=('nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux"',),
        ),
        TF_ABSENT,
    )
    out["failure__wedged_driver_timeout"] = report(
        host_from(h100),
        driver_from(h100, h100_nvml),
        NvmlInfo(status="timeout", message=HUNG["nvml"]),
        CudaInfo(status="timeout", message=HUNG["cuda"]),
        FrameworkInfo(name="torch", status="timeout", message=HUNG["torch"]),
        TF_ABSENT,
        run=probes(nvml="timeout", cuda="timeout", torch="timeout"),
    )
    out["failure__tensorflow_cannot_dlopen"] = report(
        host_from(l40s),
        driver_from(l40s, l40s_nvml),
        l40s_nvml,
        cuda_ok(l40s, l40s_nvml, 1),
        FrameworkInfo(name="torch", status="not_installed"),
        FrameworkInfo(
            name="tensorflow",
            status="ok",
            version="2.21.0",
            cuda_build=True,
            build_cuda="12.5.1",
            build_cudnn="9",
            cuda_available=False,
            device_count=0,
            arch_list=("sm_60", "sm_70", "sm_80", "sm_89", "compute_90"),
            init_error=(
                "Cannot dlopen some GPU libraries. Please make sure the missing libraries "
                "mentioned above are installed properly if you would like to use GPU."
            ),
            failed_libraries=(
                LibraryInfo(
                    name="cudnn",
                    soname="libcudnn.so.9",
                    error=f"libcudnn.so.9{NO_SUCH_FILE}",
                ),
            ),
            python_version="3.12.3",
            duration_s=4.7,
        ),
    )
    out.update(kernel_module_reports(h100, h100_nvml))
    out.update(software_reports(h100, h100_nvml))
    out["failure__h100_xid_history_nvlink_down"] = hardware_report(h100)
    out["failure__gpu_missing_from_nvml"] = missing_gpu_report(h100)
    return out


# Recorded kernel lines (issue 20): Xid 119 from leptonai/gpud's dmesg-with-xid-119.log (a
# PowerEdge XE9680, 2025-02-23), Xid 63 as NVIDIA's page-retirement guide and stas00's
# ml-engineering notes quote it, Xid 13 in its R535 form; the PCI address is the capture's GPU.
XID_LINES = (
    (
        3600.0,
        "NVRM: Xid (PCI:0000:00:09): 13, pid=41007, name=python, Graphics Exception: "
        "ESR 0x50da48=0x10000 0x50da50=0x0 0x50da44=0xd3eff2 0x50da4c=0x17f",
    ),
    (
        7200.0,
        "NVRM: Xid (PCI:0000:00:09): 63, pid=1896, Row Remapper: New row marked for "
        "remapping, reset gpu to activate.",
    ),
    (
        7260.0,
        "NVRM: Xid (PCI:0000:00:09): 119, pid=2024380, name=nvidia-smi, Timeout after 6s "
        "of waiting for RPC response from GPU4 GSP! Expected function 103 (GSP_RM_ALLOC) "
        "(0x2081 0x4).",
    ),
    (
        7266.0,
        "NVRM: Xid (PCI:0000:00:09): 119, pid=2024380, name=nvidia-smi, Timeout after 6s "
        "of waiting for RPC response from GPU4 GSP! Expected function 10 (FREE) (0xa55a0210 0x0).",
    ),
)


def hardware_report(h100: dict) -> Report:
    """The H100 capture with two NVLinks down, CRC errors on a third, a degraded InfiniBand
    rail and a kernel log holding recorded Xid lines, run through the probe's own parser."""
    from datetime import datetime

    from gpudoctor.model.report import HardwareInfo, IbPort, IommuInfo
    from gpudoctor.probe.hardware import parse_rate
    from gpudoctor.probe.kernel_log import _Reading, iso, summarise

    scenario = copy.deepcopy(h100)
    calls = scenario["devices"][0]["calls"]
    calls["nvmlDeviceGetNvLinkState"] = [1] * 16 + [0, 0]
    calls["nvmlDeviceGetNvLinkVersion"] = 4
    for counter in range(4):
        calls[f"nvmlDeviceGetNvLinkErrorCounter:{counter}"] = 0
    calls["nvmlDeviceGetNvLinkErrorCounter:2:5"] = 37  # CRC flit errors on link 5
    nvml = collect_nvml(FakeNvml(scenario))
    created = datetime.fromisoformat(CREATED.replace("Z", "+00:00")).timestamp()
    boot = created - 86400.0
    reading = _Reading(lines=[(boot + t, line) for t, line in XID_LINES], lines_read=812)
    counts, events = summarise(reading, since=created - 72 * 3600)
    rates = ["400 Gb/sec (4X NDR)"] * 7 + ["200 Gb/sec (4X HDR)"]
    ports = tuple(
        IbPort(
            device=f"mlx5_{i}",
            port=1,
            state="ACTIVE",
            phys_state="LinkUp",
            rate=rate,
            rate_gbps=parse_rate(rate),
            link_layer="InfiniBand",
            link_downed=2 if i == 7 else 0,
            symbol_error=0,
            link_error_recovery=0,
            hca_type="MT4129",  # ConnectX-7, as tests/probe/test_hardware.py reads it
            board_id="MT_0000000838",
        )
        for i, rate in enumerate(rates)
    )
    hardware = HardwareInfo(
        kernel_log=KernelLogInfo(
            status="ok",
            source="/dev/kmsg",
            since=iso(created - 72 * 3600),
            window_h=72.0,
            covered_from=iso(boot),
            boot_time=iso(boot),
            lines_read=812,
            bytes_read=96_512,
            counts=counts,
            events=events,
        ),
        ib_ports=ports,
        iommu=IommuInfo(groups=0),
    )
    base = report(
        host_from(h100),
        driver_from(h100, nvml),
        nvml,
        cuda_ok(h100, nvml, 1),
        torch_ok(nvml.gpus, False),
        TF_ABSENT,
    )
    return dataclasses.replace(base, hardware=hardware)


# An 8-GPU H100 server after a reboot: the journal kept the previous boot's Xid 79 for the
# GPU at 0000:ba:00 (the line in leptonai/gpud's form); this boot that GPU is still on the PCI
# bus, bound to nvidia and in /proc/driver/nvidia/gpus, but failed to start, so NVML, CUDA and
# PyTorch list 7. The eight bus addresses are made up; every GPU is the capture's H100.
MISSING_BUSES = ("18", "2a", "3a", "5d", "9a", "ab", "ba", "db")
MISSING_BUS = "ba"
XID79_LINE = (
    "NVRM: Xid (PCI:0000:ba:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus."
)


def missing_gpu_report(h100: dict) -> Report:
    """GD-GPU-070: eight GPUs bound to nvidia, seven in NVML, a Xid 79 before this boot and
    `RmInitAdapter failed` after it."""
    from datetime import datetime

    from gpudoctor.model.report import HardwareInfo
    from gpudoctor.probe.kernel_log import _Reading, init_failures, iso, summarise

    one = collect_nvml(FakeNvml(h100)).gpus[0]
    listed = tuple(
        dataclasses.replace(
            one,
            index=i,
            uuid=f"GPU-00000000-0000-0000-0000-00000000000{i}",
            pci_bus_id=f"00000000:{bus}:00.0",
        )
        for i, bus in enumerate(b for b in MISSING_BUSES if b != MISSING_BUS)
    )
    nvml = dataclasses.replace(collect_nvml(FakeNvml(h100)), gpus=listed)
    driver = driver_from(h100, nvml)
    functions = tuple(
        dataclasses.replace(driver.pci_functions[0], address=f"0000:{bus}:00.0")
        for bus in MISSING_BUSES
    )
    nodes = tuple(f"/dev/nvidia{i}" for i in range(len(MISSING_BUSES)))
    driver = dataclasses.replace(
        driver,
        pci_functions=functions,
        dev_nodes=("/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", *nodes, "/dev/nvidiactl"),
    )
    created = datetime.fromisoformat(CREATED.replace("Z", "+00:00")).timestamp()
    boot = created - 3600.0
    # after the reboot, the driver failed to start it (the lines of NVIDIA/gpu-operator#1146)
    failed = [
        (boot + 31.0, f"NVRM: GPU 0000:{MISSING_BUS}:00.0: RmInitAdapter failed! (0x24:0x72:1568)"),
        (
            boot + 31.1,
            f"NVRM: GPU 0000:{MISSING_BUS}:00.0: rm_init_adapter failed, device minor number 6",
        ),
    ]
    reading = _Reading(lines=[(boot - 7200.0, XID79_LINE), *failed], lines_read=1204)
    counts, events = summarise(reading, since=created - 72 * 3600)
    log = KernelLogInfo(
        status="ok",
        source="/dev/kmsg+journalctl",
        since=iso(created - 72 * 3600),
        window_h=72.0,
        covered_from=iso(created - 72 * 3600),
        boot_time=iso(boot),
        lines_read=1204,
        bytes_read=143_360,
        counts=counts,
        events=events,
        init_failures=init_failures(reading, since=created - 72 * 3600),
    )
    base = report(
        host_from(h100),
        driver,
        nvml,
        cuda_ok(h100, nvml, len(listed)),
        torch_ok(listed),
        TF_ABSENT,
    )
    site = SiteInfo(driver_gpus=tuple(f"0000:{bus}:00.0" for bus in MISSING_BUSES))
    return dataclasses.replace(base, hardware=HardwareInfo(kernel_log=log), site=site)


def _pci(device: str, driver: str | None, address: str = "0000:01:00.0") -> PciFunction:
    return PciFunction(address=address, device_id=device, class_code="0x030000", driver=driver)


def kernel_module_reports(h100: dict, h100_nvml: NvmlInfo) -> dict[str, Report]:
    """Issue 11 section 1: causes named from public reports (quoted in each)."""
    out: dict[str, Report] = {}
    ubuntu = dataclasses.replace(host_from(h100), os_release="Ubuntu 24.04.3 LTS")
    no_device = CudaInfo(
        status="ok",
        libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.580.105.08",
        cu_init_result=100,
        cu_init_error="CUDA_ERROR_NO_DEVICE",
        libraries=CU126_LIBS,
        nvidia_wheels=CU126_WHEELS,
    )
    # An RTX 5090 Laptop GPU (10de:2c58) with Ubuntu's closed nvidia-driver-580: the module
    # loads, "NVRM: ... requires use of the NVIDIA open kernel modules", nvidia-smi finds no
    # device (the public dmesg quoted in gpudoctor/rules/kernel_module.py's sources).
    out["failure__blackwell_on_proprietary_module"] = report(
        ubuntu,
        KernelDriverInfo(
            module_version="580.105.08",
            proc_version_line=(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 "
                "23:15:11 UTC 2025"
            ),
            module_flavour="proprietary",
            pci_functions=(_pci("0x2c58", "nvidia", "0000:02:00.0"),),
            dev_nodes=("/dev/nvidiactl",),
            uvm_loaded=True,
            nouveau_loaded=False,
        ),
        NvmlInfo(
            status="ok",
            driver_version="580.105.08",
            nvml_version="13.580.105.08",
            cuda_driver_version="13.0",
            cuda_driver_version_source="v2",
        ),
        no_device,
        torch_failed("No CUDA GPUs are available"),
        TF_ABSENT,
    )
    # A GH200 480GB (10de:2342, an aarch64 Grace Hopper node) with Ubuntu's closed
    # nvidia-driver-580: NVIDIA supports only the open kernel modules on Grace Hopper (its
    # "transitions fully towards open-source GPU kernel modules" post; NVIDIA/cloud-native-docs
    # #6). The report has the module loaded and NVML listing no GPU, as on Blackwell; the
    # kernel's own words on a GH200 were not found in a public report, so none are quoted.
    out["failure__gh200_on_proprietary_module"] = report(
        dataclasses.replace(
            ubuntu, arch="aarch64", kernel="6.8.0-1028-nvidia-64k", hostname="gh200-node"
        ),
        KernelDriverInfo(
            module_version="580.105.08",
            proc_version_line=(
                "NVRM version: NVIDIA UNIX aarch64 Kernel Module  580.105.08  Wed Oct 29 "
                "22:51:37 UTC 2025"
            ),
            module_flavour="proprietary",
            pci_functions=(_pci("0x2342", "nvidia", "0009:01:00.0"),),
            dev_nodes=("/dev/nvidiactl",),
            uvm_loaded=True,
            nouveau_loaded=False,
        ),
        NvmlInfo(
            status="ok",
            driver_version="580.105.08",
            nvml_version="13.580.105.08",
            cuda_driver_version="13.0",
            cuda_driver_version_source="v2",
        ),
        CudaInfo(  # a fresh node: no framework installed yet, cuInit finds no device
            status="ok",
            libcuda_path="/usr/lib/aarch64-linux-gnu/libcuda.so.580.105.08",
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
        ),
        FrameworkInfo(name="torch", status="not_installed"),
        TF_ABSENT,
    )
    # A GTX 1080 Ti (10de:1b06) after an upgrade to Ubuntu's nvidia-driver-590-open: R590 drives
    # no Pascal GPU and the open modules none without a GSP, so the module does not load;
    # modinfo still names what is installed.
    out["failure__pascal_on_driver_590_open"] = report(
        ubuntu,
        KernelDriverInfo(
            module_flavour="open",
            installed_module_version="590.48.01",
            pci_functions=(_pci("0x1b06", None),),
            uvm_loaded=False,
            nouveau_loaded=False,
        ),
        NvmlInfo(status="driver_not_loaded", message="NVML could not reach the driver"),
        dataclasses.replace(
            no_device, libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01"
        ),
        torch_failed(NO_DRIVER_TORCH),
        TF_ABSENT,
    )
    # An HGX H100 board after a driver update without the matching Fabric Manager: it does not
    # start, and cuInit fails with 802 (system not yet initialized).
    switches = tuple(
        PciFunction(
            address=f"0000:{b}:00.0", device_id="0x22a3", class_code="0x068000", driver=None
        )
        for b in ("05", "06", "07", "08")
    )
    out["failure__nvswitch_fabric_manager_stopped"] = report(
        host_from(h100),
        driver_from(
            h100,
            h100_nvml,
            nvswitches=switches,
            fabric_manager=FabricManagerInfo(
                running=False,
                version="580.105.08",
                how="systemctl is-active nvidia-fabricmanager: failed",
            ),
        ),
        dataclasses.replace(
            h100_nvml,
            gpus=tuple(dataclasses.replace(g, fabric_state="not_started") for g in h100_nvml.gpus),
        ),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01",
            cu_init_result=802,
            cu_init_error="CUDA_ERROR_SYSTEM_NOT_READY",
            libraries=CU126_LIBS,
            nvidia_wheels=CU126_WHEELS,
        ),
        torch_failed(
            "CUDA driver initialization failed, you might not have a CUDA gpu. "
            "(Triggered internally at /pytorch/c10/cuda/CUDAFunctions.cpp:109.)"
        ),
        TF_ABSENT,
    )
    # torch 2.0.1+cu118 next to a CUDA 11.2 toolkit with cuDNN 8.2.4 first on LD_LIBRARY_PATH
    # (torch/backends/cudnn/__init__.py's own message, quoted in many public reports).
    old_cuda = "/usr/local/cuda-11.2/lib64"
    out["failure__torch_cudnn_shadowed_by_ld_library_path"] = report(
        host_from(h100, env={"LD_LIBRARY_PATH": f"{old_cuda}:/usr/local/nvidia/lib64"}),
        driver_from(h100, h100_nvml),
        h100_nvml,
        cuda_ok(h100, h100_nvml, 1),
        dataclasses.replace(
            torch_ok(h100_nvml.gpus),
            version="2.0.1+cu118",
            build_cuda="11.8",
            build_cudnn="8.7.0",
            cudnn_runtime="8.2.4",
            arch_list=("sm_37", "sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
            message=(
                "cuDNN did not load: cuDNN version incompatibility: PyTorch was compiled  "
                "against (8, 7, 0) but found runtime version (8, 2, 4). PyTorch already comes "
                "bundled with cuDNN. One option to resolving this error is to ensure PyTorch can "
                "find the bundled cuDNN. Looks like your LD_LIBRARY_PATH contains incompatible "
                "version of cudnn. Please either remove it from the path or install cudnn "
                "(8, 7, 0)"
            ),
            cudnn_library=LibraryInfo(
                name="cudnn",
                soname="libcudnn.so.8",
                path=f"{old_cuda}/libcudnn.so.8",
                version="8.2.4",
                origin="ld_library_path",
            ),
            requires=('nvidia-cudnn-cu11==8.7.0.84; platform_system == "Linux"',),
        ),
        TF_ABSENT,
    )
    return out


REAL = OUT.parent / "real"
"""Reports `gpudoctor check --format json` wrote on real GPU machines (scripts/gpu-validate),
kept as they came; their recorded form here drops only the findings, which the rules redo."""


def real_reports() -> dict[str, Report]:
    return {path.stem: load_report(path) for path in sorted(REAL.glob("*.json"))}


def all_reports() -> dict[str, Report]:
    reports = {name: capture_report(name) for name in capture_scenario_names()}
    reports.update(failure_reports())
    reports.update(device_reports())  # issue 21: families 2, 4 and 5
    reports.update(real_reports())
    return reports


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rep in all_reports().items():
        (OUT / f"{name}.json").write_text(report_to_json(rep), encoding="utf-8")
    print(f"wrote {len(all_reports())} reports to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
