"""verify without a GPU on a SLURM cluster (a login node, a job given none or given GPUs the node
lacks, and the srun line) or in a container started without the host's GPU."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from collections.abc import Mapping

from gpudoctor.model.derived import a_container, slurm_not_configured
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.site import SLURM_GPU_VARIABLES
from gpudoctor.verify.verdict import Level, Reason, Verdict

_NO_GPU = "no_gpu_found"
_WHY = re.compile(r"^no GPU found \((.*)\): verified ")
"""The cause in verify's note, ``no GPU found (NVML cannot be read: ...): verified ...``."""
_FOUND_NONE = "verify found none there"


def _rerun(partition: str, argv: list[str]) -> str:
    """The srun line that runs this very verify on a GPU of ``partition`` (advice: only
    fleet/slurm.py runs SLURM's commands)."""
    return f"srun -p {shlex.quote(partition)} --gres=gpu:1 {shlex.join(argv)}"


def slurm_reason(env: Mapping[str, str], argv: list[str]) -> Reason | None:
    """Why no GPU was found when the cause is where verify ran: a SLURM job that asked for no
    GPU, a job given GPUs the node does not show (a failure), or a login node (sinfo here, no
    job); None elsewhere, and on a cluster whose partitions have no GPU GRES (the CPU is what
    there is)."""
    from gpudoctor.fleet import slurm
    from gpudoctor.model.slurm import gpu_partitions

    job = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if job and _gpus_given(env):
        return _gpus_missing(env, job)
    if not job and not slurm.asks_as_login_node(env):
        return None
    cluster = slurm.query_cluster(env)
    answered = cluster is not None and cluster.reachable
    if not job and slurm_not_configured(cluster):
        return None  # slurm-client installed on a laptop or a CI runner: no cluster at all
    names = list(dict.fromkeys(p.name for p in gpu_partitions(cluster)))
    if answered and not names:
        return None
    if job:
        partition = env.get("SLURM_JOB_PARTITION") or "PARTITION"
        node = env.get("SLURMD_NODENAME")
        where = f"SLURM job {job}" + (f" on node {node}" if node else "")
        if answered and partition not in names:
            message = (
                f"{where} runs in partition {partition}, which has no GPUs, so only the CPU was "
                f"verified; the GPUs are on {_partitions(names)}: {_rerun(names[0], argv)}"
            )
        elif env.get("SLURM_JOB_NAME") == slurm.FLEET_JOB_NAME:
            # "ask for one: srun ... gpudoctor verify" told the admin to verify by hand what
            # fleet run had just run, not how fleet run verifies the GPUs
            message = (
                f"{where} (partition {partition}) was given no GPU: fleet run asks for none, "
                "so only the CPU was verified; where a job sees only the GPUs it was given "
                "(cgroup.conf ConstrainDevices=yes), give fleet run the nodes' GPU count: "
                "--srun-arg=--gres=gpu:N"
            )
        else:
            message = (
                f"{where} (partition {partition}) was given no GPU (no --gres or --gpus: "
                "SLURM_JOB_GPUS and SLURM_GPUS_ON_NODE are unset), so only the CPU was "
                f"verified; ask for one: {_rerun(partition, argv)}"
            )
        return Reason(level=Level.WARN, code="slurm_job_without_gpu", message=message)
    if not answered:
        why = f" ({cluster.message})" if cluster is not None and cluster.message else ""
        message = (
            "this looks like a SLURM login node (sinfo here, no job), but sinfo did not answer"
            f"{why}: the GPUs are on the compute nodes, so only this node's CPU was verified; "
            f"run it on a GPU node: {_rerun('PARTITION', argv)}"
        )
    else:
        message = (
            f"this is a SLURM login node: the GPUs are on {_partitions(names)}, so only this "
            f"node's CPU was verified; run it on a GPU node: {_rerun(names[0], argv)}"
        )
    return Reason(level=Level.WARN, code="slurm_login_node", message=message)


def _gpus_given(env: Mapping[str, str]) -> dict[str, str]:
    from gpudoctor.model.slurm import gpus_given

    return gpus_given({n: env[n] for n in SLURM_GPU_VARIABLES if n in env})


def _gpus_missing(env: Mapping[str, str], job: str) -> Reason:
    """A job SLURM gave GPUs that verify did not find: the node's GPUs are missing or unusable
    (check's GD-DRV-001 error), and the jobs that get them will run on its CPU. Before, verify
    --quick passed there on the CPU ("`gpudoctor verify --device cpu` asks for exactly
    that"), and onboard's verify step, run so, called the environment ready."""
    given = ", ".join(f"{k}={v}" for k, v in _gpus_given(env).items())
    node = env.get("SLURMD_NODENAME")
    partition = env.get("SLURM_JOB_PARTITION")
    where = f"SLURM job {job}" + (f" on node {node}" if node else "")
    where += f" (partition {partition})" if partition else ""
    elsewhere = f"sbatch --exclude={shlex.quote(node)} ..." if node else "sbatch --exclude=NODE ..."
    return Reason(
        level=Level.FAIL,
        code="slurm_job_gpus_missing",
        message=(
            f"{where} was given GPUs ({given}), but {_FOUND_NONE}, so only the CPU "
            "was verified and the jobs given them would run on the CPU too: `gpudoctor check` "
            f"in such a job says why (GD-DRV-001); meanwhile run elsewhere: {elsewhere}"
        ),
    )


def _partitions(names: list[str]) -> str:
    return f"partition {names[0]}" if len(names) == 1 else f"partitions {', '.join(names)}"


_WSL_GPUS = (
    "docker run --gpus all ... (Docker Desktop's WSL 2 backend, or the container toolkit "
    "inside the WSL distribution)"
)
"""How a container under WSL2 is given the GPU: NVIDIA's runtime then passes /dev/dxg."""


def _wsl_container_reason(container: str, dxg: bool) -> Reason:
    """A container under WSL2, judged as check's GD-NVML-001 judges it: by ``/dev/dxg``, the
    device a container started with the GPU has (WSL2 never shows the GPU in /sys).

    Without it the container was given no GPU; whether Windows has one cannot be seen from
    here, so it is a warning that says "if". With it, the GPU was given and verify found
    none: check's error "has WSL2's GPU device (/dev/dxg) but not the NVIDIA driver's
    libraries", so a failure, as a SLURM job given GPUs it does not find.
    """
    where = f"{a_container(container)} under WSL2"
    if not dxg:
        return Reason(
            level=Level.WARN,
            code="container_without_gpu",
            message=(
                f"this runs in {where} that was given no GPU (no /dev/dxg, WSL2's GPU device, "
                "which docker passes only to a container started with --gpus), so only the CPU "
                f"was verified; if Windows has an NVIDIA GPU, start it with it: {_WSL_GPUS}, and "
                "`gpudoctor check` in it says what else is missing"
            ),
        )
    return Reason(
        level=Level.FAIL,
        code="container_gpu_missing",
        message=(
            f"this runs in {where} that was given WSL2's GPU device (/dev/dxg), but "
            f"{_FOUND_NONE}, so only the CPU was verified and the jobs run in it would run on "
            f"the CPU too; start it with {_WSL_GPUS} (--device /dev/dxg alone gives the device "
            "without the NVIDIA driver's libraries), or install or update the Windows NVIDIA "
            "driver with WSL 2 support and run `wsl --shutdown`; `gpudoctor check` in it says "
            "which (GD-NVML-001)"
        ),
    )


def container_reason(ctx: ProbeContext) -> Reason | None:
    """A container whose host shows an NVIDIA GPU (its PCI function or nvidia module in /sys)
    but which was given none: `docker run` without --gpus, Apptainer
    without --nv, a pod without a GPU limit. None outside a container or without such a sign
    (a laptop's container: the CPU is what there is). Under WSL2, whose GPU is never in /sys,
    ``/dev/dxg`` says whether the container was given it, as check judges it."""
    from gpudoctor.kb import load
    from gpudoctor.probe.host import detect_container, detect_wsl, wsl_gpu
    from gpudoctor.probe.kernel_driver import pci_functions

    container = detect_container(ctx)
    if container is None:
        return None
    if detect_wsl(ctx) and container not in ("apptainer", "kubernetes"):
        dxg, _ = wsl_gpu(ctx)
        return _wsl_container_reason(container, dxg)
    signs = [f"PCI {fn.address}: NVIDIA device {fn.device_id}" for fn in pci_functions(ctx) or ()]
    module = (ctx.read_text("/sys/module/nvidia/version") or "").strip()
    if module:
        signs.append(f"nvidia kernel module {module}")
    # NVIDIA_VISIBLE_DEVICES is no sign: NVIDIA's CUDA images (and the PyTorch images built
    # on them) set it to `all` themselves, on a laptop without a GPU too
    if not signs:
        return None
    start = load().gpu_start(container)
    how = f": {start.text}" if start is not None else ""
    return Reason(
        level=Level.WARN,
        code="container_without_gpu",
        message=(
            f"this runs in {a_container(container)} that was given no GPU, while the host shows "
            f"one ({'; '.join(signs)}), so only the CPU was verified; start it with the GPU"
            f"{how}, and `gpudoctor check` in it says what else is missing"
        ),
    )


def with_slurm_reason(
    verdict: Verdict,
    argv: list[str],
    env: Mapping[str, str] | None = None,
    ctx: ProbeContext | None = None,
) -> Verdict:
    """``verdict`` with :func:`slurm_reason` (else :func:`container_reason`) first when verify
    found no GPU. Without it, a verify on a login node, in a job without --gres or in a
    container started without --gpus passed on the CPU, and said only that no GPU was found
    (NVML Shared Library Not Found), as on a laptop."""
    if not any(r.code == _NO_GPU for r in verdict.reasons):
        return verdict
    reason = slurm_reason(os.environ if env is None else env, argv)
    if reason is None:
        reason = container_reason(ctx or ProbeContext())
    if reason is None:
        return verdict
    if reason.level is Level.FAIL:
        # "`gpudoctor verify --device cpu` asks for exactly that": not what a GPU job asked for
        # its evidence, "no GPU found (NVML cannot be read: ...)", goes into the failure
        kept = tuple(r for r in verdict.reasons if r.code != _NO_GPU)
        why = [_WHY.search(r.message) for r in verdict.reasons if r.code == _NO_GPU]
        found = "; ".join(dict.fromkeys(m.group(1) for m in why if m))
        message = reason.message.replace(
            _FOUND_NONE, f"{_FOUND_NONE} ({found})" if found else _FOUND_NONE
        )
        reason = dataclasses.replace(reason, message=message)
        return dataclasses.replace(verdict, overall="fail", reasons=(reason, *kept))
    overall = verdict.overall if verdict.overall == "fail" else "warn"
    return dataclasses.replace(verdict, overall=overall, reasons=(reason, *verdict.reasons))
