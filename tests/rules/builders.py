"""Small reports for rule tests: one healthy machine, and helpers that change one part of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gpudoctor.model.findings import Diagnosis, Finding, Severity
from gpudoctor.model.report import (
    CudaInfo,
    ExcludedGpu,
    FrameworkDevice,
    FrameworkInfo,
    GpuInfo,
    HardwareInfo,
    HostInfo,
    IommuInfo,
    KernelDriverInfo,
    LibraryInfo,
    NvmlInfo,
    PackageInfo,
    PcieBridgeAcs,
    PciFunction,
    ProbeRun,
    PythonInfo,
    Report,
    Unavailable,
)

H100_UUID = "GPU-8f3e2a4b-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
SITE = "/home/ada/venvs/dl/lib/python3.12/site-packages"


def h100(index: int = 0, **changes: Any) -> GpuInfo:
    """An idle, healthy H100 as NVML reports it."""
    gpu = GpuInfo(
        index=index,
        name="NVIDIA H100 80GB HBM3",
        uuid=H100_UUID if index == 0 else f"GPU-0000000{index}-0000-0000-0000-00000000000{index}",
        serial="1650123456789",
        pci_bus_id=f"00000000:0{index + 1}:00.0",
        memory_total_mib=81559,
        memory_used_mib=1024,
        compute_capability="9.0",
        architecture="Hopper",
        temperature_c=34,
        power_draw_w=72.5,
        power_limit_w=700.0,
        sm_clock_mhz=345,
        sm_clock_max_mhz=1980,
        utilization_gpu_pct=0,
        pcie_gen=5,
        pcie_gen_max=5,
        pcie_width=16,
        pcie_width_max=16,
        ecc_enabled=True,
        ecc_pending=True,
        ecc_uncorrected_volatile=0,
        ecc_uncorrected_aggregate=0,
        remapped_rows_correctable=0,
        remapped_rows_uncorrectable=0,
        remap_pending=False,
        remap_failure=False,
        inforom_valid=True,
        persistence_mode=True,
        compute_mode="default",
        mig_enabled=False,
        mig_pending=False,
        clock_event_reasons=0x1,
    )
    return replace(gpu, **changes)


def torch_info(**changes: Any) -> FrameworkInfo:
    """PyTorch 2.9.1+cu128 that works on the H100."""
    fw = FrameworkInfo(
        name="torch",
        status="ok",
        version="2.9.1+cu128",
        cuda_build=True,
        build_cuda="12.8",
        build_cudnn="9.10.2",
        cudnn_runtime="9.10.2",
        cuda_available=True,
        device_count=1,
        arch_list=("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
        devices=(
            FrameworkDevice(
                index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0", smoke_ok=True
            ),
        ),
        requires=('nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux"',),
        python_version="3.12.3",
    )
    return replace(fw, **changes)


def tensorflow_info(**changes: Any) -> FrameworkInfo:
    """TensorFlow 2.20.0 that works on the H100 (conda-forge's arch list: SASS for sm_90)."""
    fw = FrameworkInfo(
        name="tensorflow",
        status="ok",
        version="2.20.0",
        cuda_build=True,
        build_cuda="12.5.1",
        build_cudnn="9",
        cuda_available=True,
        device_count=1,
        arch_list=("sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "compute_90"),
        devices=(FrameworkDevice(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0"),),
        requires=('nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"',),
        python_version="3.12.3",
    )
    return replace(fw, **changes)


def healthy(**changes: Any) -> Report:
    """A Linux box with one H100, driver 590.48.01, working PyTorch and TensorFlow."""
    report = Report(
        gpudoctor_version="0.1.0",
        created_at="2026-01-02T03:04:05Z",
        host=HostInfo(
            hostname="node-17",
            os="linux",
            os_release="Ubuntu 22.04.5 LTS",
            kernel="5.15.0-185-generic",
            arch="x86_64",
            cpu_model="AMD EPYC 9454",
            cpu_count=96,
            memory_total_mib=1031530,
            python=PythonInfo(
                version="3.12.3",
                executable="/home/ada/venvs/dl/bin/python",
                env_kind="venv",
                env_prefix="/home/ada/venvs/dl",
                env_name="dl",
            ),
            glibc="2.35",
        ),
        driver=KernelDriverInfo(
            module_version="590.48.01",
            pci_functions=(
                PciFunction(
                    address="0000:01:00.0",
                    device_id="0x2330",
                    class_code="0x030200",
                    driver="nvidia",
                ),
            ),
            dev_nodes=("/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"),
            uvm_loaded=True,
            nouveau_loaded=False,
        ),
        nvml=NvmlInfo(
            status="ok",
            driver_version="590.48.01",
            nvml_version="13.590.48.01",
            cuda_driver_version="13.1",
            cuda_driver_version_source="v2",
            gpus=(h100(),),
        ),
        cuda=CudaInfo(
            status="ok",
            libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01",
            cu_init_result=0,
            driver_version="13.1",
            device_count=1,
            libraries=(
                LibraryInfo(
                    name="cudnn",
                    soname="libcudnn.so.9",
                    path=f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9",
                    version="9.10.2",
                    origin="pip",
                ),
            ),
            nvidia_wheels=(PackageInfo(name="nvidia-cudnn-cu12", version="9.10.2.21"),),
        ),
        frameworks=(torch_info(), tensorflow_info()),
        probes=tuple(
            ProbeRun(name=n, status="ok", duration_s=0.1)
            for n in ("host", "kernel_driver", "nvml", "cuda", "torch", "tensorflow")
        ),
    )
    return replace(report, **changes)


# --- changing one part -----------------------------------------------------------------------


def with_host(report: Report, **changes: Any) -> Report:
    return replace(report, host=replace(report.host, **changes))


def with_env(report: Report, **variables: str) -> Report:
    return with_host(report, env={**report.host.env, **variables})


def with_driver(report: Report, **changes: Any) -> Report:
    return replace(report, driver=replace(report.driver, **changes))


def with_nvml(report: Report, **changes: Any) -> Report:
    return replace(report, nvml=replace(report.nvml, **changes))


def with_gpu(report: Report, index: int = 0, **changes: Any) -> Report:
    gpus = tuple(replace(g, **changes) if g.index == index else g for g in report.nvml.gpus)
    return with_nvml(report, gpus=gpus)


def with_cuda(report: Report, **changes: Any) -> Report:
    return replace(report, cuda=replace(report.cuda, **changes))


def with_framework(report: Report, name: str, **changes: Any) -> Report:
    frameworks = tuple(replace(f, **changes) if f.name == name else f for f in report.frameworks)
    return replace(report, frameworks=frameworks)


def without_framework(report: Report, name: str) -> Report:
    return replace(report, frameworks=tuple(f for f in report.frameworks if f.name != name))


def broken_nvml(report: Report, status: str, message: str = "") -> Report:
    """NVML failed to start: no versions, no GPUs."""
    return replace(report, nvml=NvmlInfo(status=status, message=message))


def no_gpu_machine(container: str | None = None) -> Report:
    """A Debian box with no NVIDIA GPU at all, as this project's own CI container reports it.

    The PCI bus was read and lists nothing NVIDIA; no nvidia module, no /dev/nvidia*, no
    libnvidia-ml, no libcuda; PyTorch and TensorFlow are CPU builds.
    """
    report = broken_nvml(
        healthy(),
        "library_not_found",
        "nvmlInit failed: NVML Shared Library Not Found (libnvidia-ml.so.1 could not be loaded)",
    )
    report = with_host(report, os_release="Debian GNU/Linux 12 (bookworm)", container=container)
    report = with_driver(
        report,
        module_version=None,
        pci_functions=(),
        dev_nodes=(),
        uvm_loaded=False,
        nouveau_loaded=False,
        errors=(
            Unavailable(
                field="driver.module_version",
                code="not_found",
                message="/proc/driver/nvidia/version and /sys/module/nvidia/version are absent",
            ),
        ),
    )
    report = replace(
        report,
        cuda=CudaInfo(status="ok", libcuda_error="libcuda.so.1: cannot open shared object file"),
    )
    report = with_framework(
        report,
        "torch",
        version="2.13.0+cpu",
        cuda_build=False,
        build_cuda=None,
        build_cudnn=None,
        cudnn_runtime=None,
        cuda_available=False,
        device_count=0,
        arch_list=(),
        devices=(),
        requires=(),
    )
    return with_framework(
        report,
        "tensorflow",
        version="2.21.0",
        cuda_build=False,
        build_cuda=None,
        build_cudnn=None,
        cuda_available=False,
        device_count=0,
        arch_list=(),
        devices=(),
        requires=(),
    )


# --- running one rule ------------------------------------------------------------------------


@dataclass
class FakeCudaSupport:
    level: str
    full_min_driver: str | None = None
    mvc_min_driver: str | None = None


@dataclass
class FakeKb:
    """A knowledge base with fixed answers, for rules whose data lookups are not under test."""

    support: str = "full"
    coverage: str = "sass"
    python: tuple[str, str] = ("3.10", "3.14")

    def cuda_support(self, driver: str, cuda: str, os: str) -> FakeCudaSupport:
        return FakeCudaSupport(self.support, "999.0", "580")

    def max_cuda_for_driver(self, driver: str, os: str) -> str | None:
        return "12.2"

    def past_known_branches(self, driver: str) -> bool:
        return False

    def arch_coverage(self, cc: str, arch_list: Sequence[str]) -> Any:
        return dataclasses.make_dataclass("C", ["kind", "matched"])(self.coverage, "compute_90")

    def gpu_build_covers(self, cc: str) -> bool:
        return True

    def last_cuda_for_cc(self, cc: str) -> str | None:
        return None

    def torch_release(self, version: str) -> Any:
        return dataclasses.make_dataclass("R", ["python_min", "python_max"])(*self.python)

    tensorflow_release = torch_release

    def pci_range(self, device_id: str) -> Any:
        return None

    def driver_drops_device(self, driver: str, device_id: str) -> Any:
        return None

    def message_cause(self, message: str) -> Any:
        return None

    def xid(self, code: int) -> Any:
        from gpudoctor import kb as kb_module

        return kb_module.load().xid(code)

    def gpu_model(self, name: str) -> Any:
        from gpudoctor import kb as kb_module

        return kb_module.load().gpu_model(name)


_ACS_NAMES = ((0x01, "SrcValid"), (0x04, "ReqRedir"), (0x08, "CmpltRedir"), (0x10, "UpstreamFwd"))


def acs_switch(control: int | None, status: str = "read") -> IommuInfo:
    """Two GPUs behind two downstream ports of one PCIe switch, below a root port without ACS;
    ``control`` is the downstream ports' ACS Control (0x001d: what Linux sets with an IOMMU)."""
    read = status == "read" and control is not None
    ports = tuple(
        PcieBridgeAcs(
            bridge=bridge,
            gpus=(gpu,),
            root_port=False,
            status=status,
            capability=0x5F if read else None,
            control=control if read else None,
            enabled=tuple(n for b, n in _ACS_NAMES if control & b) if read and control else (),
        )
        for bridge, gpu in (("0000:02:08.0", "0000:03:00.0"), ("0000:02:10.0", "0000:04:00.0"))
    )
    top = PcieBridgeAcs(
        bridge="0000:00:01.0",
        gpus=("0000:03:00.0", "0000:04:00.0"),
        root_port=True,
        status="absent" if status == "read" else status,
    )
    return IommuInfo(
        groups=0,
        bridges=(top, *ports),
        acs_readable=status != "needs_root",
        cmdline=("intel_iommu=on", "iommu=pt"),
    )


def pcie_acs_box(control: int | None = 0x001D, status: str = "read") -> Report:
    """Two H100 PCIe cards (no NVLink bridge) behind one switch whose downstream ports have
    ACS ``control``; everything else healthy."""
    addresses = ("0000:03:00.0", "0000:04:00.0")
    gpus = tuple(
        h100(
            i,
            name="NVIDIA H100 PCIe",
            pci_bus_id=f"0000{a}",
            power_limit_w=350.0,
            nvlink_count=0,
            nvlinks_up=0,
            nvlinks=(),
        )
        for i, a in enumerate(addresses)
    )
    report = with_nvml(healthy(), gpus=gpus)
    report = with_driver(
        report,
        pci_functions=tuple(
            PciFunction(address=a, device_id="0x2331", class_code="0x030200", driver="nvidia")
            for a in addresses
        ),
        dev_nodes=("/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"),
    )
    report = with_cuda(report, device_count=2)
    for fw in report.frameworks:
        devices = tuple(replace(fw.devices[0], index=i, name=g.name) for i, g in enumerate(gpus))
        report = with_framework(report, fw.name, device_count=2, devices=devices)
    return replace(report, hardware=HardwareInfo(iommu=acs_switch(control, status)))


EXCLUDED_UUID = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"
EXCLUDED_GPU = PciFunction(
    address="0000:01:00.0", device_id="0x2330", class_code="0x030200", driver="nvidia"
)


def every_gpu_excluded() -> Report:
    """One GPU, bound to nvidia and excluded by the admin with NVreg_ExcludedGpus: NVML lists
    none (and names the excluded one), cuInit answers CUDA_ERROR_NO_DEVICE."""
    report = with_nvml(
        with_cuda(healthy(), cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE"),
        gpus=(),
        excluded_gpus=(ExcludedGpu(pci_bus_id="00000000:01:00.0", uuid=EXCLUDED_UUID),),
    )
    return with_driver(report, pci_functions=(EXCLUDED_GPU,), excluded_gpus=(EXCLUDED_UUID,))


def rocm_machine(devices: int = 1) -> Report:
    """A Linux box with an AMD GPU and a ROCm build of PyTorch: no NVIDIA GPU at all; the
    ROCm build lists its GPUs through torch.cuda (and its smoke test passes there)."""
    gpus = tuple(
        FrameworkDevice(
            index=i, name="AMD Radeon RX 7900 XTX", compute_capability="11.0", smoke_ok=True
        )
        for i in range(devices)
    )
    return with_framework(
        no_gpu_machine(),
        "torch",
        version="2.9.1+rocm6.4",
        message="ROCm build (HIP 6.4.43482), not CUDA",
        cuda_available=devices > 0,
        device_count=devices,
        devices=gpus,
        gpu_backend="rocm",
        gpu_backend_version="6.4.43482",
        gpu_backend_devices=devices,
    )


def xpu_machine(devices: int = 1) -> Report:
    """A Linux box with an Intel GPU and PyTorch's XPU build."""
    return with_framework(
        no_gpu_machine(),
        "torch",
        version="2.9.1+xpu",
        gpu_backend="xpu",
        gpu_backend_version="20250101",
        gpu_backend_devices=devices,
    )


def windows_laptop() -> Report:
    """A Windows 11 laptop without an NVIDIA GPU: no nvml.dll, no nvcuda.dll, CPU builds."""
    report = with_host(
        no_gpu_machine(),
        os="windows",
        os_release="Windows 11 Home",
        kernel="10.0.26100",
        glibc=None,
    )
    return replace(
        report,
        driver=replace(report.driver, errors=()),
        cuda=CudaInfo(status="ok", libcuda_error="nvcuda.dll: could not be loaded"),
    )


def mac(mps_devices: int | None = 1) -> Report:
    """An Apple silicon Mac with PyPI's torch (built with MPS); ``mps_devices`` 1 where
    torch.backends.mps.is_available(), None for a report that did not ask."""
    report = with_host(
        no_gpu_machine(), os="darwin", os_release="macOS 15.1", arch="arm64", glibc=None
    )
    report = replace(report, frameworks=tuple(f for f in report.frameworks if f.name == "torch"))
    return with_framework(
        report,
        "torch",
        version="2.9.1",
        gpu_backend="mps" if mps_devices is not None else None,
        gpu_backend_devices=mps_devices,
    )


def findings(report: Report, rule_id: str, kb: Any = None) -> list[Finding]:
    """The findings one rule (by ID) produces on ``report``."""
    from gpudoctor import kb as kb_module
    from gpudoctor.rules import REGISTRY

    return list(REGISTRY[rule_id].run(report, kb if kb is not None else kb_module.load()))


def diagnose(report: Report, kb: Any = None) -> Diagnosis:
    from gpudoctor import kb as kb_module
    from gpudoctor.rules import diagnose as run

    return run(report, kb if kb is not None else kb_module.load())


def severities(found: list[Finding]) -> list[Severity]:
    return [f.severity for f in found]
