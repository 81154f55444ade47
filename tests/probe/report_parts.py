"""Building blocks of the recorded reports: hand-built host, driver, CUDA and framework parts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gpudoctor.model.report import (
    CudaInfo,
    FrameworkDevice,
    FrameworkInfo,
    GpuInfo,
    HostInfo,
    KernelDriverInfo,
    LibraryInfo,
    NvmlInfo,
    PackageInfo,
    PciFunction,
    ProbeRun,
    PythonInfo,
    Report,
    Unavailable,
)
from gpudoctor.probe.child import hung_message

OUT = Path(__file__).resolve().parents[1] / "data" / "reports"
VERSION = "0.1.0"
CREATED = "2026-11-28T12:00:00Z"
SITE = "/home/ada/venvs/dl/lib/python3.12/site-packages"
WIN_SITE = "C:\\Users\\ada\\venvs\\dl\\Lib\\site-packages"
# What the probes say when their child times out (gpudoctor.probe.child.hung_message).
HUNG = {
    "nvml": hung_message("NVML", 30, abandoned=True),
    "cuda": hung_message("cuInit", 30, abandoned=True),
    "torch": hung_message("import torch (and a tiny GPU computation)", 30, abandoned=False),
}

# torch 2.13.0+cu126 (compatibility.md §2.2, §4): CUDA 12.6, cuDNN 9.10.2.21, no PTX.
CU126_ARCHS = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
CU126_REQUIRES = (
    'nvidia-cuda-nvrtc-cu12==12.6.77; platform_system == "Linux"',
    'nvidia-cuda-runtime-cu12==12.6.77; platform_system == "Linux"',
    'nvidia-cuda-cupti-cu12==12.6.80; platform_system == "Linux"',
    'nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux"',
    'nvidia-cublas-cu12==12.6.4.1; platform_system == "Linux"',
    'nvidia-nvjitlink-cu12==12.6.85; platform_system == "Linux"',
)
CU126_WHEELS = (
    PackageInfo(name="nvidia-cublas-cu12", version="12.6.4.1"),
    PackageInfo(name="nvidia-cuda-nvrtc-cu12", version="12.6.77"),
    PackageInfo(name="nvidia-cuda-runtime-cu12", version="12.6.77"),
    PackageInfo(name="nvidia-cudnn-cu12", version="9.10.2.21"),
    PackageInfo(name="nvidia-nvjitlink-cu12", version="12.6.85"),
)


def pip_lib(package: str, soname: str) -> str:
    return f"{SITE}/nvidia/{package}/lib/{soname}"


CU126_LIBS = (
    LibraryInfo(
        name="cudart",
        soname="libcudart.so.12",
        path=pip_lib("cuda_runtime", "libcudart.so.12"),
        version="12.6",
        origin="pip",
    ),
    LibraryInfo(
        name="cublas",
        soname="libcublas.so.12",
        path=pip_lib("cublas", "libcublas.so.12"),
        origin="pip",
    ),
    LibraryInfo(
        name="cudnn",
        soname="libcudnn.so.9",
        path=pip_lib("cudnn", "libcudnn.so.9"),
        version="9.10.2",
        origin="pip",
    ),
    LibraryInfo(
        name="nvrtc",
        soname="libnvrtc.so.12",
        path=pip_lib("cuda_nvrtc", "libnvrtc.so.12"),
        origin="pip",
    ),
    LibraryInfo(
        name="nvjitlink",
        soname="libnvJitLink.so.12",
        path=pip_lib("nvjitlink", "libnvJitLink.so.12"),
        origin="pip",
    ),
)


def python_info(windows: bool = False) -> PythonInfo:
    if windows:
        return PythonInfo(
            version="3.12.10",
            executable="C:\\Users\\ada\\venvs\\dl\\Scripts\\python.exe",
            env_kind="venv",
            env_prefix="C:\\Users\\ada\\venvs\\dl",
            env_name="dl",
        )
    return PythonInfo(
        version="3.12.3",
        executable="/home/ada/venvs/dl/bin/python",
        env_kind="venv",
        env_prefix="/home/ada/venvs/dl",
        env_name="dl",
    )


def host_from(scenario: dict, **changes: object) -> HostInfo:
    source = scenario.get("source", {})
    os_field = source.get("os") or "linux (Ubuntu 22.04.5 LTS)"
    os_name, _, pretty = os_field.partition(" (")
    windows = os_name == "windows"
    host = HostInfo(
        hostname="gpu-host",
        os=os_name,
        os_release=(pretty[:-1] if pretty.endswith(")") else pretty) or None,
        kernel=source.get("kernel"),
        arch=source.get("arch") or "x86_64",
        python=python_info(windows),
        glibc="2.35" if "Ubuntu 22.04" in os_field else None,
    )
    return dataclasses.replace(host, **changes)  # type: ignore[arg-type]


def pci_address(bus_id: str) -> str:
    """NVML's ``00000000:01:00.0`` as sysfs spells it: ``0000:01:00.0``."""
    domain, rest = bus_id.split(":", 1)
    return f"{domain[-4:]}:{rest}".lower()


def driver_from(scenario: dict, nvml: NvmlInfo, **changes: object) -> KernelDriverInfo:
    if (scenario.get("source", {}).get("os") or "").startswith("windows"):
        return KernelDriverInfo(
            errors=(
                Unavailable(
                    field="driver",
                    code="unsupported_os",
                    message="no /proc or /sys on Windows; the kernel driver is read through NVML",
                ),
            )
        )
    functions = []
    for device in scenario["devices"]:
        pci = device["calls"]["nvmlDeviceGetPciInfo"]
        functions.append(
            PciFunction(
                address=pci_address(pci["busId"]),
                device_id=f"0x{pci['pciDeviceId'] >> 16:04x}",
                class_code=device.get("pci_class", "0x030200"),
                driver="nvidia",
            )
        )
    version = nvml.driver_version
    nodes = ["/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidiactl"]
    nodes += [f"/dev/nvidia{i}" for i in range(len(functions))]
    if any(g.mig_enabled for g in nvml.gpus):
        nodes.append("/dev/nvidia-caps")
    info = KernelDriverInfo(
        module_version=version,
        proc_version_line=(
            f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {version}  Release Build"
        ),
        module_flavour="open",
        pci_functions=tuple(functions),
        dev_nodes=tuple(sorted(nodes)),
        uvm_loaded=True,
        nouveau_loaded=False,
    )
    return dataclasses.replace(info, **changes)  # type: ignore[arg-type]


def cuda_ok(scenario: dict, nvml: NvmlInfo, devices: int) -> CudaInfo:
    windows = (scenario.get("source", {}).get("os") or "").startswith("windows")
    if windows:
        return CudaInfo(
            status="ok",
            libcuda_path="C:\\Windows\\system32\\nvcuda.dll",
            cu_init_result=0,
            cu_init_error="CUDA_SUCCESS",
            driver_version=nvml.cuda_driver_version,
            device_count=devices,
            nvidia_wheels=(),
        )
    ubuntu = "Ubuntu" in (scenario.get("source", {}).get("os") or "Ubuntu")
    libdir = "/usr/lib/x86_64-linux-gnu" if ubuntu else "/usr/lib64"
    return CudaInfo(
        status="ok",
        libcuda_path=f"{libdir}/libcuda.so.{nvml.driver_version}",
        cu_init_result=0,
        cu_init_error="CUDA_SUCCESS",
        driver_version=nvml.cuda_driver_version,
        device_count=devices,
        libraries=CU126_LIBS,
        nvidia_wheels=CU126_WHEELS,
    )


def torch_ok(gpus: tuple[GpuInfo, ...], windows: bool = False) -> FrameworkInfo:
    devices = tuple(
        FrameworkDevice(
            index=i,
            name=g.name,
            compute_capability=g.compute_capability,
            smoke_ok=True,
            max_abs_diff=3.0517578125e-05,
        )
        for i, g in enumerate(gpus)
    )
    if windows:
        loaded = (
            *(
                f"{WIN_SITE}\\torch\\lib\\{dll}"
                for dll in ("cudart64_12.dll", "cublas64_12.dll", "cudnn64_9.dll")
            ),
            "C:\\Windows\\system32\\nvcuda.dll",
        )
    else:
        loaded = (
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            *(lib.path or "" for lib in CU126_LIBS),
        )
    return FrameworkInfo(
        name="torch",
        status="ok",
        version="2.13.0+cu126",
        cuda_build=True,
        build_cuda="12.6",
        build_cudnn="9.10.2",
        cudnn_runtime="9.10.2",
        cuda_available=True,
        device_count=len(devices),
        arch_list=CU126_ARCHS,
        devices=devices,
        loaded_libraries=loaded,
        requires=() if windows else CU126_REQUIRES,
        python_version="3.12.10" if windows else "3.12.3",
        duration_s=2.84,
    )


TF_ABSENT = FrameworkInfo(name="tensorflow", status="not_installed")


def probes(*, nvml: str = "ok", cuda: str = "ok", torch: str = "ok", tf: str = "ok") -> tuple:
    def run(name: str, status: str, seconds: float) -> ProbeRun:
        timed_out = status == "timeout"
        return ProbeRun(
            name=name,
            status=status,
            duration_s=30.0 if timed_out else seconds,
            message=HUNG.get(name, "") if timed_out else "",
        )

    return (
        run("host", "ok", 0.004),
        run("kernel_driver", "ok", 0.002),
        run("nvml", nvml, 0.118),
        run("cuda", cuda, 0.094),
        run("torch", torch, 2.84),
        run("tensorflow", tf, 0.031),
    )


def report(
    host: HostInfo, driver: KernelDriverInfo, nvml: NvmlInfo, cuda: CudaInfo, *fws, run=None
):
    return Report(
        gpudoctor_version=VERSION,
        created_at=CREATED,
        host=host,
        driver=driver,
        nvml=nvml,
        cuda=cuda,
        frameworks=tuple(fws) if fws else (TF_ABSENT,),
        probes=run if run is not None else probes(),
    )


def torch_failed(init_error: str | None, **changes: object) -> FrameworkInfo:
    base = FrameworkInfo(
        name="torch",
        status="ok",
        version="2.13.0+cu126",
        cuda_build=True,
        build_cuda="12.6",
        build_cudnn="9.10.2",
        cuda_available=False,
        device_count=0,
        arch_list=CU126_ARCHS,
        init_error=init_error,
        loaded_libraries=tuple(lib.path or "" for lib in CU126_LIBS if lib.name != "cudnn"),
        requires=CU126_REQUIRES,
        python_version="3.12.3",
        duration_s=2.1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


NO_DRIVER_TORCH = (
    "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
    "installed a driver from http://www.nvidia.com/Download/index.aspx"
)
NO_SUCH_FILE = ": cannot open shared object file: No such file or directory"
LIBCUDA_MISSING = f"libcuda.so.1{NO_SUCH_FILE}"
NO_KERNEL_IMAGE = "CUDA error: no kernel image is available for execution on the device"
