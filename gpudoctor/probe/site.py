"""Where this runs: a SLURM job or login node, Apptainer or Kubernetes, modules, storage."""

from __future__ import annotations

import json
import os
import shutil

from gpudoctor.model.report import ContainerToolkitInfo, SiteInfo, SlurmJob, Unavailable
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.host import detect_container
from gpudoctor.probe.modules import probe_modules
from gpudoctor.probe.storage import StatVfs, probe_storage

SLURM_GPU_VARIABLES = (
    "SLURM_JOB_GPUS",
    "SLURM_STEP_GPUS",
    "SLURM_GPUS_ON_NODE",
    "SLURM_GPUS",
    "SLURM_GPUS_PER_NODE",
    "SLURM_GPUS_PER_TASK",
    "SLURM_TRES_PER_TASK",
)
"""What SLURM sets for a job or step that was given GPUs (``--gres=gpu:N``, ``--gpus``)."""

CONTAINER_VARIABLES = (
    "APPTAINER_CONTAINER",
    "APPTAINER_NAME",
    "SINGULARITY_CONTAINER",
    "SINGULARITY_NAME",
    "KUBERNETES_SERVICE_HOST",
)


def slurm_job(ctx: ProbeContext) -> SlurmJob | None:
    """The job this process is part of, from the variables slurmd sets; None outside a job."""
    env = ctx.env
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return None
    return SlurmJob(
        job_id=job_id,
        step_id=env.get("SLURM_STEP_ID") or env.get("SLURM_STEPID"),
        partition=env.get("SLURM_JOB_PARTITION"),
        node=env.get("SLURMD_NODENAME"),
        gpu_variables={n: env[n] for n in SLURM_GPU_VARIABLES if n in env},
    )


def in_apptainer(ctx: ProbeContext) -> bool:
    """Apptainer or Singularity: their variables, or the ``/.singularity.d`` they add."""
    env = ctx.env
    if any(n in env for n in CONTAINER_VARIABLES[:4]):
        return True
    return ctx.path("/.singularity.d").is_dir()


def nv_libs(ctx: ProbeContext) -> bool | None:
    """Whether ``--nv`` bound the driver's libraries into ``/.singularity.d/libs``."""
    if not in_apptainer(ctx):
        return None
    return ctx.path("/.singularity.d/libs/libcuda.so.1").exists()


def driver_gpus(ctx: ProbeContext) -> tuple[str, ...]:
    """The GPUs the loaded driver owns (``/proc/driver/nvidia/gpus/<PCI address>``).

    A job's device cgroup does not hide these entries, only the right to open
    ``/dev/nvidiaN``: comparing them with NVML's list shows GPUs this job may not use.
    """
    try:
        return tuple(sorted(p.name for p in ctx.path("/proc/driver/nvidia/gpus").iterdir()))[:64]
    except OSError:
        return ()


TOOLKIT_BINARIES = (
    "nvidia-container-runtime-hook",
    "nvidia-ctk",
    "nvidia-container-runtime",
    "nvidia-container-toolkit",
    "nvidia-container-cli",
)
"""The NVIDIA Container Toolkit's programs; Docker's ``--gpus`` needs the first on dockerd's
PATH (moby daemon/nvidia_linux.go: its ``gpu`` device driver is registered only then)."""
SYSTEM_BIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
"""Where a daemon started by systemd finds programs, whatever this shell's PATH is."""
DAEMON_JSON = "/etc/docker/daemon.json"
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
_SMALL_FILE = 1 << 20
_CDI_LISTED = 256


def _program(ctx: ProbeContext, name: str) -> str | None:
    """``name`` on this shell's PATH, else in the system's bin folders."""
    found = shutil.which(name, path=ctx.env.get("PATH", ""))
    if found:
        return found
    return next((f"{d}/{name}" for d in SYSTEM_BIN if ctx.path(f"{d}/{name}").is_file()), None)


def _nvidia_runtimes(ctx: ProbeContext) -> tuple[tuple[str, ...], Unavailable | None]:
    """The runtimes ``daemon.json`` names whose program is NVIDIA's, and why it could not be
    read (a file that is not JSON, or too large)."""
    path = ctx.path(DAEMON_JSON)
    try:
        if not path.is_file():
            return (), None
        if path.stat().st_size > _SMALL_FILE:
            raise ValueError(f"larger than {_SMALL_FILE} bytes")
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return (), Unavailable(
            field="site.container_toolkit.runtimes",
            code="unreadable",
            message=f"{DAEMON_JSON}: {exc}"[:300],
        )
    runtimes = data.get("runtimes") if isinstance(data, dict) else None
    if not isinstance(runtimes, dict):
        return (), None
    return tuple(
        sorted(
            str(name)
            for name, spec in runtimes.items()
            if "nvidia" in str(name).lower()
            or (isinstance(spec, dict) and "nvidia" in str(spec.get("path", "")).lower())
        )
    ), None


def _cdi_specs(ctx: ProbeContext) -> tuple[str, ...]:
    """NVIDIA's CDI specifications (``nvidia-ctk cdi generate`` writes ``nvidia.yaml``)."""
    found = []
    for folder in CDI_DIRS:
        try:
            names = sorted(p.name for p in ctx.path(folder).iterdir())[:_CDI_LISTED]
        except OSError:
            continue
        found += [f"{folder}/{n}" for n in names if "nvidia" in n.lower()]
    return tuple(found)


def container_toolkit(ctx: ProbeContext) -> ContainerToolkitInfo | None:
    """Docker and the NVIDIA Container Toolkit on this host, from PATH and files only (no
    docker command: a daemon that does not answer would hang it). None where Docker is not
    installed, and inside a container (the toolkit that matters is the host's)."""
    docker = _program(ctx, "docker") or (
        "/etc/docker" if ctx.path("/etc/docker").is_dir() else None
    )
    if docker is None or detect_container(ctx) is not None:
        return None
    runtimes, error = _nvidia_runtimes(ctx)
    binaries = tuple(p for p in (_program(ctx, n) for n in TOOLKIT_BINARIES) if p)
    return ContainerToolkitInfo(
        docker=docker,
        binaries=binaries,
        runtimes=runtimes,
        cdi_specs=_cdi_specs(ctx),
        errors=(error,) if error else (),
    )


def shm_size(ctx: ProbeContext, statvfs: StatVfs) -> int | None:
    try:
        st = statvfs(str(ctx.path("/dev/shm")))  # noqa: S108 - its size, not a file in it
    except OSError:
        return None
    return int(st.f_blocks * (st.f_frsize or st.f_bsize)) or None


def probe_site(
    ctx: ProbeContext, statvfs: StatVfs = os.statvfs, *, storage: bool = True
) -> SiteInfo:
    """Everything about where this process runs that the host shows without asking SLURM."""
    errors: list[Unavailable] = []
    info_storage = None
    if storage:
        info_storage, storage_errors = probe_storage(ctx, statvfs)
        errors += storage_errors
    modules, module_errors = probe_modules(ctx)
    errors += module_errors
    return SiteInfo(
        slurm_commands=shutil.which("sinfo", path=ctx.env.get("PATH", "")) is not None,
        srun_command=shutil.which("srun", path=ctx.env.get("PATH", "")) is not None,
        slurm_job=slurm_job(ctx),
        container_env={n: ctx.env[n] for n in CONTAINER_VARIABLES if n in ctx.env},
        nv_libs=nv_libs(ctx),
        shm_bytes=shm_size(ctx, statvfs),
        driver_gpus=driver_gpus(ctx),
        modules=modules,
        storage=info_storage,
        container_toolkit=container_toolkit(ctx),
        errors=tuple(errors),
    )
