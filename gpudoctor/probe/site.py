"""Where this runs: a SLURM job or login node, Apptainer or Kubernetes, modules, storage."""

from __future__ import annotations

import os
import shutil

from gpudoctor.model.report import SiteInfo, SlurmJob, Unavailable
from gpudoctor.probe.base import ProbeContext
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
        slurm_job=slurm_job(ctx),
        container_env={n: ctx.env[n] for n in CONTAINER_VARIABLES if n in ctx.env},
        nv_libs=nv_libs(ctx),
        shm_bytes=shm_size(ctx, statvfs),
        driver_gpus=driver_gpus(ctx),
        modules=modules,
        storage=info_storage,
        errors=tuple(errors),
    )
