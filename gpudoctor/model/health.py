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
    """The error findings of the driver, NVML or a GPU, worst area first."""
    created_at: str | None = None
    """When the probes ran (the report's ``created_at``: UTC, ``2026-12-07T04:05:06Z``)."""
    action: str | None = None
    """``drain``, ``resume`` or ``none`` (with --drain)."""
    drain_reason: str | None = None
    """The reason set on the node when it was drained (``gpudoctor: <ID> <title>``)."""
    node: str | None = None
    """The SLURM node name the gate acted on."""
    slurm: str | None = None
    """What SLURM said: ``ok``, ``unknown_node``, or why it could not answer."""
    message: str | None = None
    """What was done, or why nothing was, in a sentence."""

    @property
    def healthy(self) -> bool:
        """No error finding: the gate's exit status is 0."""
        return not self.errors
