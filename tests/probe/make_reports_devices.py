"""Recorded reports for issue 21 (families 2, 4 and 5): failures rebuilt from public threads.

Each starts from a real capture's report (tests/data/nvml) and changes only what its thread
shows; the thread is named above each one, and tests/rules/test_issue21_reports.py cites it.
"""

from __future__ import annotations

import dataclasses

from gpudoctor.model.report import (
    Compiler,
    CudaInfo,
    DeviceAccessInfo,
    DeviceNode,
    FrameworkDevice,
    NvmlInfo,
    PciFunction,
    Report,
    ToolchainInfo,
)
from gpudoctor.probe.nvml_collect import collect_nvml
from tests.probe.fake_nvml import FakeNvml, load_scenario
from tests.probe.report_parts import (
    CU126_LIBS,
    TF_ABSENT,
    cuda_ok,
    driver_from,
    host_from,
    report,
    torch_failed,
    torch_ok,
)

GCC = (
    Compiler(name="cc", path="/usr/bin/cc", version="cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"),
    Compiler(name="gcc", path="/usr/bin/gcc"),
    Compiler(name="c++", path="/usr/bin/c++", version="c++ (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"),
    Compiler(name="g++", path="/usr/bin/g++"),
)
CACHED = ("libcuda.so.1 => /lib/x86_64-linux-gnu/libcuda.so.1",)


def _nodes(*, error: str | None, mode: str = "crw-rw-rw-") -> tuple[DeviceNode, ...]:
    """/dev/nvidia0, nvidia-uvm, nvidiactl as the NVIDIA driver creates them (mode 0666)."""
    return (
        DeviceNode(path="/dev/nvidia-uvm", mode=mode, uid=0, gid=0),
        DeviceNode(path="/dev/nvidia0", mode=mode, uid=0, gid=0),
        DeviceNode(
            path="/dev/nvidiactl",
            mode=mode,
            uid=0,
            gid=0,
            open_error=error,
            opened=error is None,
        ),
    )


def _toolchain(**changes: object) -> ToolchainInfo:
    base = ToolchainInfo(ldconfig_read=True, libcuda_cache=CACHED, compilers=GCC)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def device_reports() -> dict[str, Report]:
    h100 = load_scenario("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle")
    l40s = load_scenario("linux-x86_64__nvidia-l40s__595.80__idle")
    rtx2080 = load_scenario("linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle")
    rtx4080 = load_scenario("linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__idle")
    h100_nvml = collect_nvml(FakeNvml(h100))
    l40s_nvml = collect_nvml(FakeNvml(l40s))
    rtx2080_nvml = collect_nvml(FakeNvml(rtx2080))
    rtx4080_nvml = collect_nvml(FakeNvml(rtx4080))
    out: dict[str, Report] = {}

    # NVIDIA/nvidia-container-toolkit#48 and #1227: a running container after `systemctl
    # daemon-reload` on a cgroup v2 host: "Failed to initialize NVML: Unknown Error" inside,
    # nvidia-smi fine on the host. /dev/nvidia* are still in the container; opening them
    # fails with EPERM (mattshma/bigdata#150's strace: open("/dev/nvidiactl") = -1 EPERM).
    revoked = report(
        host_from(h100, container="docker", env={"NVIDIA_VISIBLE_DEVICES": "all"}),
        driver_from(h100, h100_nvml),
        NvmlInfo(status="unknown_error", message="nvmlInit failed: Unknown Error"),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.590.48.01",
            cu_init_result=999,
            cu_init_error="CUDA_ERROR_UNKNOWN",
            libraries=CU126_LIBS,
        ),
        torch_failed(
            "CUDA unknown error - this may be due to an incorrectly set up environment, e.g. "
            "changing env variable CUDA_VISIBLE_DEVICES after program start. Setting the "
            "available devices to be zero."
        ),
        TF_ABSENT,
    )
    out["failure__container_gpu_access_revoked_by_daemon_reload"] = dataclasses.replace(
        revoked,
        device_access=DeviceAccessInfo(
            cgroup_version="v2",
            nodes=_nodes(error="EPERM: Operation not permitted"),
            selinux="disabled",
            apparmor=True,
            security_context="docker-default (enforce)",
        ),
        toolchain=_toolchain(),
    )

    # fedora-selinux/selinux-policy#1695 and NVIDIA/nvidia-container-toolkit#33: a podman
    # container on Fedora with SELinux enforcing; the device is crw-rw-rw- yet the AVC denies
    # container_t access to xserver_misc_device_t: "Failed to initialize NVML: Insufficient
    # Permissions".
    fedora = host_from(
        rtx4080,
        os_release="Fedora Linux 38 (Workstation Edition)",
        kernel="6.2.15-300.fc38.x86_64",
        container="podman",
        env={"NVIDIA_VISIBLE_DEVICES": "all"},
    )
    selinux = report(
        fedora,
        driver_from(rtx4080, rtx4080_nvml),
        NvmlInfo(status="no_permission", message="nvmlInit failed: Insufficient Permissions"),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib64/libcuda.so.595.71.05",
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
            libraries=CU126_LIBS,
        ),
        torch_failed("Found no NVIDIA driver on your system."),
        TF_ABSENT,
    )
    out["failure__selinux_denies_container_nvidia_devices"] = dataclasses.replace(
        selinux,
        device_access=DeviceAccessInfo(
            cgroup_version="v2",
            nodes=_nodes(error="EACCES: Permission denied"),
            selinux="enforcing",
            apparmor=False,
            security_context="system_u:system_r:container_t:s0:c380,c597",
        ),
    )

    # NixOS/nixpkgs#331069 and #363357: a hardened service unit (DevicePolicy=closed with a
    # DeviceAllow= list that leaves the GPU out) on a GeForce desktop; the GPU works from a
    # shell, not from the service (resolution: add the devices to DeviceAllow=). The check
    # here ran in that unit: opening /dev/nvidiactl fails with EPERM, NVML with Unknown Error.
    service = report(
        host_from(rtx4080, os_release="NixOS 24.05 (Uakari)", kernel="6.6.41"),
        driver_from(rtx4080, rtx4080_nvml),
        NvmlInfo(status="unknown_error", message="nvmlInit failed: Unknown Error"),
        CudaInfo(
            status="ok",
            libcuda_path="/run/opengl-driver/lib/libcuda.so.595.71.05",
            cu_init_result=999,
            cu_init_error="CUDA_ERROR_UNKNOWN",
        ),
        torch_failed("CUDA unknown error - this may be due to an incorrectly set up environment"),
        TF_ABSENT,
    )
    out["failure__service_device_policy_hides_gpu"] = dataclasses.replace(
        service,
        device_access=DeviceAccessInfo(
            cgroup_version="v2",
            nodes=_nodes(error="EPERM: Operation not permitted"),
            selinux="disabled",
            apparmor=False,
        ),
    )

    # DDMAL/Rodan#1332: a vGPU guest on a research cloud whose licence lapsed: nvidia-smi
    # shows the GPU idle, TensorFlow fails with "CUDA runtime implicit initialization on
    # GPU:0 failed. Status: all CUDA-capable devices are busy or unavailable".
    vgpu_nvml = dataclasses.replace(
        l40s_nvml,
        gpus=tuple(
            dataclasses.replace(g, virtualization_mode="vgpu", vgpu_licensed=False)
            for g in l40s_nvml.gpus
        ),
    )
    out["failure__vgpu_guest_unlicensed"] = report(
        host_from(l40s),
        driver_from(l40s, l40s_nvml),
        vgpu_nvml,
        cuda_ok(l40s, l40s_nvml, 1),
        torch_failed(
            "CUDA error: all CUDA-capable devices are busy or unavailable",
            device_count=1,
        ),
        TF_ABSENT,
    )

    # NVIDIA/kubevirt-gpu-device-plugin#45 and jurkovic-nikola/OpenLinkHub#174: a GPU left
    # bound to vfio-pci (options vfio-pci ids=10de:...) on a machine that should train; the
    # nvidia module loads ("NVRM: GPU 0000:01:00.0 is already bound to vfio-pci") and NVML
    # lists no GPU.
    vfio_driver = dataclasses.replace(
        driver_from(rtx2080, rtx2080_nvml),
        pci_functions=tuple(
            dataclasses.replace(fn, driver="vfio-pci")
            for fn in driver_from(rtx2080, rtx2080_nvml).pci_functions
        ),
        dev_nodes=("/dev/nvidiactl",),
    )
    out["failure__gpu_bound_to_vfio_pci"] = report(
        host_from(rtx2080),
        vfio_driver,
        dataclasses.replace(rtx2080_nvml, gpus=()),
        CudaInfo(
            status="ok",
            libcuda_path="/usr/lib64/libcuda.so.595.71.05",
            cu_init_result=100,
            cu_init_error="CUDA_ERROR_NO_DEVICE",
            libraries=CU126_LIBS,
        ),
        torch_failed("No CUDA GPUs are available"),
        TF_ABSENT,
    )

    # Dao-AILab/flash-attention#1759: PyTorch 2.2.0 built with CUDA 11.8, the system nvcc
    # 12.9; `pip install flash-attn` stops with "The detected CUDA version (12.9) mismatches
    # the version that was used to compile PyTorch (11.8)".
    torch_cu118 = dataclasses.replace(
        torch_ok(h100_nvml.gpus), version="2.2.0+cu118", build_cuda="11.8", build_cudnn="8.7.0"
    )
    out["failure__flash_attn_build_nvcc_mismatch"] = dataclasses.replace(
        report(
            host_from(h100),
            driver_from(h100, h100_nvml),
            h100_nvml,
            cuda_ok(h100, h100_nvml, 1),
            torch_cu118,
            TF_ABSENT,
        ),
        toolchain=_toolchain(
            cuda_home="/usr/local/cuda",
            cuda_home_from="/usr/local/cuda",
            nvcc="/usr/local/cuda/bin/nvcc",
            nvcc_version="12.9",
            ptxas="/usr/local/cuda/bin/ptxas",
        ),
    )

    # pytorch/pytorch#107960: the driver in /usr/lib64-nvidia (as on Colab), outside the
    # linker cache; eager PyTorch works, torch.compile stops with "AssertionError:
    # libcuda.so cannot found!" (resolution: ldconfig /usr/lib64-nvidia).
    colab_cuda = dataclasses.replace(
        cuda_ok(l40s, l40s_nvml, 1), libcuda_path="/usr/lib64-nvidia/libcuda.so.1"
    )
    out["failure__torch_compile_libcuda_not_in_ldconfig"] = dataclasses.replace(
        report(
            host_from(l40s),
            driver_from(l40s, l40s_nvml),
            l40s_nvml,
            colab_cuda,
            torch_ok(l40s_nvml.gpus),
            TF_ABSENT,
        ),
        toolchain=_toolchain(libcuda_cache=()),
    )

    # MIC-DKFZ/nnUNet#2268 on a rented RTX machine and apple/ml-cross-entropy#5: a container
    # with PyTorch and Triton but no compiler: "RuntimeError: Failed to find C compiler.
    # Please specify via CC environment variable." (resolution: a C compiler,
    # kijai/ComfyUI-HunyuanVideoWrapper#23: apt-get install build-essential).
    out["failure__torch_compile_no_c_compiler"] = dataclasses.replace(
        report(
            host_from(rtx4080, container="docker", env={"NVIDIA_VISIBLE_DEVICES": "all"}),
            driver_from(rtx4080, rtx4080_nvml),
            rtx4080_nvml,
            cuda_ok(rtx4080, rtx4080_nvml, 1),
            torch_ok(rtx4080_nvml.gpus),
            TF_ABSENT,
        ),
        toolchain=_toolchain(compilers=()),
    )

    # gpustack/gpustack#1633 and nanoporetech/bonito#120: a box with two GPU models. Built
    # from the RTX 2080 SUPER (PCI bus 01) and L40S captures (moved to bus 41): nvidia-smi
    # numbers the 2080 first; CUDA's fastest-first order puts the L40S first, so
    # CUDA_VISIBLE_DEVICES=0, read from nvidia-smi, runs on the L40S.
    # The captures' UUIDs are zeroed; the fix names the UUID of the GPU meant, so each card
    # gets a distinct one (made up, in nvidia-smi's form).
    slow = dataclasses.replace(
        rtx2080_nvml.gpus[0], uuid="GPU-3f9c1a7e-52d4-8b0e-6c1f-a94e27d05b38"
    )
    fast = dataclasses.replace(
        l40s_nvml.gpus[0],
        index=1,
        pci_bus_id="00000000:41:00.0",
        uuid="GPU-b81e4d29-07c3-f5a6-2d9e-5c30f8e1a476",
    )
    mixed_nvml = dataclasses.replace(rtx2080_nvml, gpus=(slow, fast))
    mixed_driver = dataclasses.replace(
        driver_from(rtx2080, rtx2080_nvml),
        pci_functions=(
            *driver_from(rtx2080, rtx2080_nvml).pci_functions,
            PciFunction(
                address="0000:41:00.0", device_id="0x26b9", class_code="0x030200", driver="nvidia"
            ),
        ),
        dev_nodes=("/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"),
    )
    torch_sees = dataclasses.replace(
        torch_ok((fast,)),
        devices=(
            FrameworkDevice(
                index=0, name=fast.name, compute_capability=fast.compute_capability, smoke_ok=True
            ),
        ),
    )
    out["failure__mixed_gpus_visible_devices_by_index"] = report(
        host_from(rtx2080, env={"CUDA_VISIBLE_DEVICES": "0"}),
        mixed_driver,
        mixed_nvml,
        cuda_ok(rtx2080, mixed_nvml, 1),
        torch_sees,
        TF_ABSENT,
    )
    return out
