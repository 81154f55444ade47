"""Each node's SLURM GRES against the GPUs its own check found (pure, no I/O).

``fleet run``'s check runs in a job that asked for no GPU: there NVML lists none, and the
node's GD-GPU-068 is not compared. The GPUs on the PCI bus and in the driver's list are
still every GPU of the node, so the fleet compares them with the GRES sinfo listed when
``fleet run`` selected the node (kept in its manifest). A node that promises more GPUs than
it has takes ``--gres=gpu`` jobs that fail: an error; one with more than it promises, a
warning (SLURM cannot hand the others out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import GpusFound, NodeFacts, NodeFinding
from gpudoctor.model.gres_count import (
    GRES_COUNT_ID,
    gpus,
    short_title,
    surplus_title,
)
from gpudoctor.model.slurm import drain_command, judge_gres, node_gpu_gres

NVML_SHORT_ID = "GD-GPU-070"
"""check's finding for GPUs the driver owns and NVML does not list, where no GRES was compared:
the fleet's GD-GPU-068 error on the same node says it with the drain, and takes its place."""

THESE_NODES = "nodename=NODE "
"""How the fix names the nodes to drain; the fleet report puts the hostlist of the nodes it
lists there (scontrol takes a hostlist), so that the command pasted drains exactly them."""

GRES_FIX = (
    "fix: set the node's Gres in slurm.conf and gres.conf to the GPUs it has (compare with "
    "`nvidia-smi -L`), then `sudo scontrol reconfigure`"
)


def drain_fix(title: str) -> str:
    """The fix of a node with fewer GPUs than its GRES, or GPUs lost from NVML: drained with
    the reason the health gate gives the same finding (model/gres_count.py's words)."""
    drain = drain_command("NODE", GRES_COUNT_ID, title)
    return (
        f"fix: drain the node (`{drain}`); on it, compare gres.conf "
        "with `nvidia-smi -L` and `lspci -nn | grep -i nvidia`, and look for Xid 79 (`sudo "
        "dmesg -T | grep -i xid`); reboot, reseat or RMA a GPU that fell off the bus, or "
        "correct gres.conf and the node's Gres in slurm.conf, then resume it"
    )


def compare_gres(facts: NodeFacts, gres: Sequence[str]) -> NodeFacts:
    """``facts`` with a GD-GPU-068 finding when the node's GPUs are not what its GRES says.

    Not compared: a GRES without a GPU count, a node whose PCI bus was not read, a node whose
    own check already compared it (a warning or error GD-GPU-068), and a MIG node whose MIG
    devices are not known. With MIG, the whole GPUs or the MIG devices may match, as in check.
    """
    promised = node_gpu_gres(gres)
    found = facts.gpus_found
    if promised is None or promised.count is None or found is None:
        return facts
    if any(f.id == GRES_COUNT_ID and f.severity >= Severity.WARNING for f in facts.findings):
        return facts
    counts = found.counts
    judged = judge_gres(promised.count, counts)
    if judged is None or judged == "mig":  # check says it cannot tell either
        return facts
    if judged == "extra":
        return _with(facts, _too_many(promised.shown, counts.usable, found))
    title = short_title(
        promised.shown,
        owned=found.owned,
        on_bus=found.on_bus,
        nvml=found.nvml,
        mig_devices=found.mig_devices,
        lost=found.lost_pci,
        refused=found.refused_pci,
        excluded=found.excluded_pci,
    )
    finding = NodeFinding(
        id=GRES_COUNT_ID,
        severity=Severity.ERROR,
        title=title,
        evidence=(*_evidence(promised.shown, found), drain_fix(title)),
    )
    return _with(facts, finding)


def _too_many(shown: str, has: int, found: GpusFound) -> NodeFinding:
    """More GPUs than the GRES gives out: a warning, SLURM cannot hand the others out."""
    return NodeFinding(
        id=GRES_COUNT_ID,
        severity=Severity.WARNING,
        title=surplus_title(shown, has),
        evidence=(*_evidence(shown, found), GRES_FIX),
    )


def _evidence(shown: str, found: GpusFound) -> tuple[str, ...]:
    if found.on_bus == 0:
        bus = "PCI bus: no NVIDIA GPU"
    else:
        plural = "" if found.on_bus == 1 else "s"
        bus = (
            f"PCI bus: {found.on_bus} NVIDIA GPU{plural}, {found.bound} bound to the nvidia driver"
        )
    if not found.module_loaded:
        bus += "; nvidia kernel module: not loaded"
    elif found.driver is not None:
        bus += f"; /proc/driver/nvidia/gpus lists {found.driver or 'none'}"
    lines = [f"SLURM's GRES (sinfo, as fleet run selected the node): {shown}", bus]
    if found.nvml_short:
        lines.append(
            f"NVML lists {gpus(found.nvml or 0)}; the check ran in no job or one given no GPU, "
            "so no device cgroup hid any (one hides every GPU not given, or none)"
        )
    if found.refused_pci:
        them = "them" if found.refused_pci[1:] else "it"
        lines.append(
            f"PCI {', '.join(found.refused_pci)}: the installed driver cannot drive {them} "
            "(GD-DRV-007, -008 or -009 names the driver to install)"
        )
    if found.mig:
        lines.append(f"MIG on: SLURM may count {found.mig_devices} MIG devices and whole GPUs")
    return tuple(lines)


def _with(facts: NodeFacts, finding: NodeFinding) -> NodeFacts:
    """``facts`` with ``finding`` in place of any GD-GPU-068 it had (information only: not
    compared inside a job), and an error in place of its GD-GPU-070 too; its IDs and verdict
    updated."""
    gone = {finding.id}
    if finding.severity == Severity.ERROR:
        gone.add(NVML_SHORT_ID)  # the same missing GPUs, said once
    findings = sorted(
        (*(f for f in facts.findings if f.id not in gone), finding),
        key=lambda f: (f.id, f.title),
    )
    return replace(
        facts,
        findings=tuple(findings),
        finding_ids=tuple(sorted({*(i for i in facts.finding_ids if i not in gone), finding.id})),
        verdict=max(facts.verdict, finding.severity),
    )
