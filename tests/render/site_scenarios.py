"""Where-am-I scenarios: reports whose site section the probes read from recorded trees."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gpudoctor.fleet.partitions import parse_partitions
from gpudoctor.model.report import (
    CudaInfo,
    LibraryInfo,
    NvmlInfo,
    PciFunction,
    Report,
    SlurmCluster,
)
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.site import probe_site
from tests.rules import builders as b

TREES = Path(__file__).resolve().parents[1] / "data" / "site"
PYTHON = "/home/ada/venvs/dl/bin/python"
GIB = 1 << 30


def fake_statvfs(sizes: dict[str, tuple[int, int]]) -> Any:
    """statvfs over a recorded tree: (total, free) GiB by the path's last part; 100/50 else."""

    def statvfs(path: str) -> SimpleNamespace:
        total, free = next((v for k, v in sizes.items() if path.endswith(k)), (100 * GIB, 50 * GIB))
        return SimpleNamespace(
            f_frsize=4096,
            f_bsize=4096,
            f_blocks=total // 4096,
            f_bavail=free // 4096,
            f_files=1_000_000,
            f_favail=500_000,
        )

    return statvfs


def site_of(tree: str, env: dict[str, str], sizes: dict[str, tuple[int, int]] | None = None) -> Any:
    ctx = ProbeContext(root=TREES / tree, env={"HOME": "/home/ada", **env}, python=PYTHON)
    return probe_site(ctx, fake_statvfs(sizes or {}))


def login_node() -> Report:
    """A SLURM login node: no GPU, sinfo answers with GPU partitions, home on NFS."""
    site = site_of("login_node", {})
    cluster = SlurmCluster(
        reachable=True,
        command="sinfo -h -o '%P|%a|%D|%G|%f|%N'",
        partitions=parse_partitions((TREES / "login_node" / "sinfo.txt").read_text()),
        duration_s=0.05,
    )
    report = b.no_gpu_machine()
    report = b.with_host(report, hostname="login1", os_release="Rocky Linux 9.4 (Blue Onyx)")
    report = b.with_framework(
        report,
        "torch",
        version="2.9.1+cu128",
        cuda_build=True,
        build_cuda="12.8",
        init_error="Found no NVIDIA driver on your system.",
    )
    return replace(
        report, site=replace(site, slurm_commands=True, srun_command=True, slurm=cluster)
    )


def job_without_gres() -> Report:
    """Inside `srun` on a two-GPU node, started without --gres: the cgroup hides both GPUs."""
    site = site_of(
        "job_without_gres",
        {
            "SLURM_JOB_ID": "4242",
            "SLURM_STEP_ID": "0",
            "SLURM_JOB_PARTITION": "gpu",
            "SLURMD_NODENAME": "gpu07",
        },
    )
    report = b.healthy()
    pci = tuple(
        PciFunction(address=a, device_id="0x2330", class_code="0x030200", driver="nvidia")
        for a in ("0000:18:00.0", "0000:2a:00.0")
    )
    report = b.with_driver(report, pci_functions=pci, dev_nodes=("/dev/nvidiactl",))
    report = replace(
        report,
        nvml=NvmlInfo(status="ok", driver_version="590.48.01", cuda_driver_version="13.1", gpus=()),
        cuda=replace(
            report.cuda, cu_init_result=100, cu_init_error="CUDA_ERROR_NO_DEVICE", device_count=0
        ),
    )
    report = b.with_framework(
        report,
        "torch",
        cuda_available=False,
        device_count=0,
        devices=(),
        init_error="CUDA driver initialization failed: no CUDA-capable device is detected",
    )
    report = b.with_host(report, hostname="gpu07")
    return replace(b.without_framework(report, "tensorflow"), site=site)


def apptainer_without_nv() -> Report:
    """`apptainer exec IMAGE` on a GPU node, without --nv: the driver's libraries are absent."""
    site = site_of(
        "apptainer_without_nv",
        {"APPTAINER_CONTAINER": "/scratch/ada/pytorch.sif", "APPTAINER_NAME": "pytorch.sif"},
    )
    report = b.healthy()
    report = b.with_host(report, container="apptainer", hostname="gpu03")
    report = b.broken_nvml(
        report,
        "library_not_found",
        "nvmlInit failed: NVML Shared Library Not Found (libnvidia-ml.so.1 could not be loaded)",
    )
    report = replace(
        report,
        cuda=CudaInfo(
            status="ok",
            libcuda_error="libcuda.so.1: cannot open shared object file: No such file or directory",
            libraries=report.cuda.libraries,
            nvidia_wheels=report.cuda.nvidia_wheels,
        ),
    )
    report = b.with_framework(
        report,
        "torch",
        cuda_available=False,
        device_count=0,
        devices=(),
        init_error="Found no NVIDIA driver on your system.",
    )
    return replace(b.without_framework(report, "tensorflow"), site=site)


def module_shadowing() -> Report:
    """`module load cuda/12.4 cudnn/8.9` puts an old cuDNN before the pip wheel's."""
    cudnn_dir = "/sw/pkgs/cudnn/8.9.7-cuda12/lib"
    site = site_of(
        "module_shadowing",
        {
            "LOADEDMODULES": "cuda/12.4:cudnn/8.9",
            "_LMFILES_": "/sw/modulefiles/cuda/12.4.lua:/sw/modulefiles/cudnn/8.9",
            "MODULEPATH": "/sw/modulefiles",
        },
    )
    report = b.with_env(b.healthy(), LD_LIBRARY_PATH=f"{cudnn_dir}:/sw/pkgs/cuda/12.4.1/lib64")
    report = b.with_cuda(
        report,
        libraries=(
            LibraryInfo(
                name="cudnn",
                soname="libcudnn.so.9",
                path=f"{cudnn_dir}/libcudnn.so.8",
                version="8.9.7",
                origin="ld_library_path",
            ),
        ),
    )
    return replace(b.without_framework(report, "tensorflow"), site=site)


SITE_SCENARIOS = {
    "site__apptainer_without_nv": apptainer_without_nv,
    "site__job_without_gres": job_without_gres,
    "site__login_node": login_node,
    "site__module_shadowing": module_shadowing,
}
