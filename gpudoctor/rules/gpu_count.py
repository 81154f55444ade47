"""The GPU count rule: the GPUs NVML lists against the GPUs SLURM gives out on this node."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model.derived import (
    is_gpu_function,
    missing_from_nvml,
    node_gpu_count,
    nvml_sees_the_node,
    pci_bus_unreadable,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.gres_count import drain_command, short_title, surplus_title
from gpudoctor.model.report import GpuInfo, Report, SlurmNodeGres
from gpudoctor.model.slurm import GpuCounts, NodeGpuGres, judge_gres, node_gpu_gres
from gpudoctor.rules.facts import gpus
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

XID_OFF_THE_BUS = 79
"""Xid 79: GPU has fallen off the bus (NVIDIA's Xid catalogue)."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _xid79(report: Report) -> list[str]:
    """``Xid 79 on PCI 0000:17:00 (2 times)`` for each device the kernel log names."""
    log = report.hardware.kernel_log if report.hardware is not None else None
    if log is None:
        return []
    return [
        f"kernel log: Xid 79 (GPU has fallen off the bus) on PCI {c.pci or 'unnamed'}"
        f" ({_plural(c.count, 'time')})"
        for c in log.counts
        if c.kind == "xid" and c.code == XID_OFF_THE_BUS
    ]


def _mig_count(listed: tuple[GpuInfo, ...]) -> int | None:
    """What SLURM's AutoDetect=nvml counts with MIG on: each MIG device, and each whole GPU
    without MIG; None when a MIG-enabled GPU's devices were not read."""
    if any(g.mig_enabled and not g.mig_devices for g in listed):
        return None
    return sum(len(g.mig_devices) if g.mig_enabled else 1 for g in listed)


def _judge(
    node: SlurmNodeGres, gres: NodeGpuGres, given: int, report: Report, listed: tuple[GpuInfo, ...]
) -> Hit | None:
    whole = len(listed)
    said = f"SLURM gives out {gres.shown} on {node.name}"
    mig = [g for g in listed if g.mig_enabled]
    mig_count = _mig_count(listed) if mig else None
    nvml = f"NVML lists {_plural(whole, 'GPU')}"
    if mig:
        devices = "MIG devices not read" if mig_count is None else f"{mig_count} MIG devices"
        nvml += f" ({_plural(len(mig), 'GPU')} with MIG on: {devices} and whole GPUs)"
    # the driver's GPUs count where NVML's is the node's (not a container's share)
    owned = node_gpu_count(report) if nvml_sees_the_node(report) else 0
    judged = judge_gres(given, GpuCounts(owned=owned, nvml=whole, mig_devices=mig_count))
    if judged is None:
        return None
    missing = missing_from_nvml(report)
    evidence = [f"{said}; {nvml}" + (f" (missing: PCI {', '.join(missing)})" if missing else "")]
    if judged in ("missing", "lost"):
        evidence += _xid79(report)
        title = short_title(
            gres.shown,
            owned=owned if nvml_sees_the_node(report) else None,
            on_bus=sum(1 for fn in report.driver.pci_functions if is_gpu_function(fn)),
            nvml=whole,
            mig_devices=mig_count,
            lost=missing,
        )
        return Hit(
            title=title,
            evidence=tuple(evidence),
            fix=(
                f"$ {drain_command(node.name, title)}",
                "$ sudo dmesg -T | grep -iE 'Xid|fallen off the bus'",
                "$ sudo nvidia-smi -q | grep -i 'bus id'   # which GPU is gone",
                "Reboot (or reset the GPU); if it does not come back, reseat it or arrange an "
                "RMA, then resume the node.",
            ),
        )
    if judged == "extra":
        return Hit(
            severity=Severity.WARNING,
            title=surplus_title(gres.shown, whole),
            evidence=tuple(evidence),
            fix=(
                f"Set the node's Gres in slurm.conf to the GPUs it has (gpu:{whole}, with its "
                "type if you use one) and gres.conf to match, then `scontrol reconfigure`.",
            ),
        )
    return Hit(
        severity=Severity.INFO,
        title=f"SLURM's GPU count for {node.name} was not compared: MIG is on",
        evidence=(
            *evidence,
            f"neither the {whole} whole GPUs nor the MIG devices match the {given} of the GRES",
        ),
        fix=(
            "Compare `nvidia-smi -L` with the node's Gres by hand: with AutoDetect=nvml SLURM "
            "counts each MIG device as one gpu.",
        ),
    )


def _without_nvml(report: Report, node: SlurmNodeGres, gres: NodeGpuGres, given: int) -> Hit | None:
    """NVML failed: the GPUs the driver owns (the PCI bus, /proc/driver/nvidia/gpus; no device
    cgroup hides them) against the GRES, where the bus could be read."""
    host = report.host
    if host.os != "linux" or host.wsl or pci_bus_unreadable(report):
        return None
    owned = node_gpu_count(report)
    judged = judge_gres(given, GpuCounts(owned=owned))
    if judged is None:
        return None  # the driver has them; NVML's failure is its own finding's
    on_bus = sum(1 for fn in report.driver.pci_functions if is_gpu_function(fn))
    if judged == "extra":
        return Hit(
            severity=Severity.WARNING,
            title=surplus_title(gres.shown, owned),
            evidence=(
                f"SLURM gives out {gres.shown} on {node.name}; PCI bus: "
                f"{_plural(on_bus, 'NVIDIA GPU')}, {owned} owned by the nvidia driver",
                f"NVML: {report.nvml.status}",
            ),
            fix=(
                f"Set the node's Gres in slurm.conf to the GPUs it has (gpu:{owned}, with its "
                "type if you use one) and gres.conf to match, then `scontrol reconfigure`.",
            ),
        )
    title = short_title(gres.shown, owned=owned, on_bus=on_bus)
    bus = (
        "no NVIDIA GPU on the PCI bus"
        if on_bus == 0
        else f"PCI bus: {_plural(on_bus, 'NVIDIA GPU')}, {owned} owned by the nvidia driver"
    )
    return Hit(
        title=title,
        evidence=(
            f"SLURM gives out {gres.shown} on {node.name}; {bus}",
            f"NVML: {report.nvml.status}",
            *_xid79(report),
        ),
        fix=(
            f"$ {drain_command(node.name, title)}",
            "$ lspci -nn | grep -i nvidia; lsmod | grep nvidia   # the GPUs and the driver",
            "Load or reinstall the driver, reseat or RMA a GPU that is gone, or correct the "
            "node's Gres in slurm.conf and gres.conf; then resume the node.",
        ),
    )


@rule(
    "GD-GPU-068",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="Fewer GPUs than SLURM gives out on this node",
    why="SLURM hands out the GPUs the node's GRES names (`Gres=gpu:h100:8`); it compares them "
    "with the node's devices only when slurmd registers. When a GPU has fallen off the bus "
    "(Xid 79) or dropped out of NVML later, the node still takes `--gres=gpu:8` jobs, and "
    "they fail to start or die. A GPU the driver lists and NVML does not is an error whatever "
    "the GRES gives out: gres.conf names its /dev/nvidiaN with the others, so a job can be "
    "given it. More GPUs than the GRES "
    "is a warning: SLURM cannot hand out the extra ones. With MIG on, SLURM may count whole "
    "GPUs or (AutoDetect=nvml) MIG devices: either count is accepted, and a node that matches "
    "neither is said not to be compared (information). Where NVML fails, the GPUs the "
    "driver owns (the PCI bus, /proc/driver/nvidia/gpus) are compared instead: a node with "
    "no GPU or no driver left is an error too. Inside a job NVML lists only the "
    "job's GPUs, so check does not compare there; `fleet run` does, for every node: the GRES "
    "sinfo listed against the GPUs on the node's PCI bus and in the driver's list, which a "
    "job's device cgroup cannot hide, and against NVML's count where NVML lists some of "
    "those GPUs but not all (a cgroup hides every GPU not given, or none).",
    fix="Drain the node, read the kernel log for Xid 79, reboot or reset the GPU, and reseat "
    "or RMA a GPU that does not come back; then resume the node.",
    sources=(
        "https://slurm.schedmd.com/gres.html (a node found with fewer GRES than configured is "
        "drained when slurmd registers, not later; AutoDetect=nvml counts MIG devices)",
        "https://docs.nvidia.com/deploy/xid-errors/index.html (Xid 79: fallen off the bus)",
        "Azure/azurehpc-health-checks README (check_gpu_count: 8 GPUs expected on ND H100 v5)",
        "NVIDIA/gpud (GPU count against the expected count)",
    ),
)
def gres_count(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    if site is None or site.slurm_node is None:
        return  # not asked
    gres = node_gpu_gres(site.slurm_node.gres)
    if gres is None or gres.count is None:
        return  # the node gives out no GPU, or names none by count
    if report.nvml.status != "ok":
        # NVML's own finding says why it failed; where the driver owns fewer GPUs than the
        # GRES (none on the bus, no driver), that alone is no error of NVML's: say it here
        hit = _without_nvml(report, site.slurm_node, gres, gres.count)
        if hit is not None:
            yield hit
        return
    if site.slurm_job is not None:
        # A job's device cgroup hides the GPUs it was not given: NVML's count is the job's.
        yield Hit(
            severity=Severity.INFO,
            title=f"SLURM's GPU count for {site.slurm_node.name} was not compared: inside a job",
            evidence=(
                f"SLURM gives out {gres.shown}; inside job {site.slurm_job.job_id} NVML lists "
                "only the job's GPUs",
            ),
            fix=("Run the health check outside a job (HealthCheckProgram).",),
        )
        return
    hit = _judge(site.slurm_node, gres, gres.count, report, gpus(report))
    if hit is not None:
        yield hit
