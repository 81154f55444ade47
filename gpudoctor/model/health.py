"""The health gate's result (`check --health-check`): the node's errors and what was done."""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.model.findings import Finding

HEALTH_SCHEMA_VERSION = 1
"""The gate's JSON form (docs/health-schema.json); bumped on any change that breaks a reader.
Documents written before 2026-12-07 have no version, tool or time."""


@dataclass(frozen=True, kw_only=True)
class HealthResult:
    """What the gate found on this node and, with ``--drain``, what it did about it.

    The JSON form is docs/health-schema.json; the last four fields are None without --drain.
    """

    errors: tuple[Finding, ...] = ()
    """The error findings the gate acts on (the driver's, NVML's, a GPU's), worst area
    first."""
    created_at: str | None = None
    """When the probes ran (with --from-report: the report's time), ISO 8601 UTC,
    ``2026-12-07T04:05:06Z``; null when the report has none."""
    action: str | None = None
    """With --drain: what was done to the node (``drain``, ``resume`` or ``none``)."""
    drain_reason: str | None = None
    """The reason set when the node was drained: ``gpudoctor:<ID> <title>``, the ID without
    ``GD-`` (``gpudoctor:GPU-068 ...``), or ``repair:<ID> <title>`` where an error sends a GPU
    for repair (``repair:GPU-058 ...``, never resumed by the gate), at most 200 characters (and
    `` (+N more)``)."""
    node: str | None = None
    """With --drain: the SLURM node name (--node, $SLURMD_NODENAME or the short host name)."""
    slurm: str | None = None
    """With --drain: what SLURM said: ``ok``, ``unknown_node``, or why it could not answer
    (``not_installed``, ``config_missing``, ``controller_unreachable``, ``failed``)."""
    message: str | None = None
    """With --drain: what was done, or why nothing was, in a sentence."""

    @property
    def healthy(self) -> bool:
        """No error finding: the gate's exit status is 0."""
        return not self.errors
