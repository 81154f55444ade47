"""The health gate's decision: drain on an error, resume only a node gpudoctor drained itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpudoctor.errors import SlurmUnavailableError
from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.slurm import (
    REPAIR_PREFIX,
    SlurmNode,
    asks_repair,
    drain_reason,
    drained_by_gpudoctor,
)

GATE_AREAS = frozenset({"driver", "nvml", "gpu"})
"""What the gate judges: the kernel driver, NVML and the GPUs (no CUDA, no frameworks)."""


@dataclass(frozen=True, kw_only=True)
class GateDecision:
    """What to do with the node, and a sentence saying why."""

    action: str
    """``drain``, ``resume`` or ``none``."""
    reason: str = ""
    """The drain reason to set (``gpudoctor:GPU-004 <title>``, or ``repair:GPU-058 <title>``:
    model/slurm.py's drain_reason)."""
    message: str
    slurm: str = "ok"
    """What SLURM said: ``ok``, ``unknown_node``, or why it could not answer
    (``not_installed``, ``config_missing``, ``controller_unreachable``, ``failed``)."""


UNKNOWN_NODE = "unknown_node"
_WHY = {
    SlurmUnavailableError.NOT_INSTALLED: "SLURM's commands are missing",
    SlurmUnavailableError.CONFIG_MISSING: "SLURM's configuration is missing",
    SlurmUnavailableError.CONTROLLER_UNREACHABLE: "SLURM's controller is unreachable",
    SlurmUnavailableError.FAILED: "SLURM answered with an error",
}


def gate_findings(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """The error findings the gate acts on, worst area first."""
    return tuple(f for f in findings if f.area in GATE_AREAS and f.severity == Severity.ERROR)


def unreachable(name: str, error: SlurmUnavailableError, doing: str = "") -> GateDecision:
    """Nothing done, because SLURM could not be asked (or told): its cause, in words."""
    what = f"could not {doing} {name}: " if doing else ""
    why = _WHY.get(error.cause, _WHY[SlurmUnavailableError.FAILED])
    return GateDecision(
        action="none", message=f"{what}{why} ({error}): nothing done", slurm=error.cause
    )


def decide(errors: Sequence[Finding], node: SlurmNode | None, name: str = "") -> GateDecision:
    """Drain a node with an error (``repair:`` where a fix sends the GPU for repair); resume a
    clean one only if gpudoctor drained it, and never one drained for repair."""
    if node is None:
        return GateDecision(
            action="none",
            message=f"SLURM does not know node {name or 'this node'}: nothing done",
            slurm=UNKNOWN_NODE,
        )
    ours = drained_by_gpudoctor(node.reason)
    # an error whose fix sends the GPU for repair (an Xid storm) drains with repair:, which no
    # gate resumes: a reboot or the log's window clears the Xids, not the fault
    repair = next((f for f in errors if asks_repair(f.fix)), None)
    if errors:
        first = repair or errors[0]
        reason = drain_reason(first.id, first.title, len(errors) - 1, repair=repair is not None)
        if node.drained and ours and repair is not None:  # its own drain would be resumed
            return GateDecision(
                action="drain", reason=reason, message=f"draining {node.name} for repair: {reason}"
            )
        if node.drained:
            # a repair: drain is gpudoctor's too (or a person's for repair): not someone else's
            if node.reason.startswith(REPAIR_PREFIX):
                who = f"for repair ({node.reason})"
            else:
                who = "by gpudoctor" if ours else f"by someone else ({node.reason or 'no reason'})"
            return GateDecision(
                action="none", message=f"{node.name} is already drained {who}: left as it is"
            )
        return GateDecision(
            action="drain", reason=reason, message=f"draining {node.name}: {reason}"
        )
    if node.drained and ours:
        return GateDecision(action="resume", message=f"{node.name} is clean again: resuming it")
    if node.drained and node.reason.startswith(REPAIR_PREFIX):
        return GateDecision(
            action="none",
            message=f"{node.name} is drained for repair ({node.reason}): not resumed; a person "
            "resumes it once the GPU is repaired",
        )
    if node.drained:
        return GateDecision(
            action="none",
            message=f"{node.name} was drained by someone else ({node.reason or 'no reason'}): "
            "not resumed",
        )
    return GateDecision(action="none", message=f"{node.name} is clean")
