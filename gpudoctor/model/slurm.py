"""A SLURM node as sinfo lists it, and the mark on every drain gpudoctor sets (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

DRAIN_PREFIX = "gpudoctor:"
"""Every drain reason gpudoctor writes starts so; only such drains are ever resumed by it."""

# sinfo's long state names of a node that can start a job step now or soon (the suffixes *~#!%$@^-
# mark not responding, powered down, and so on, and are handled apart).
RUNNABLE_STATES = frozenset({"idle", "mixed", "allocated", "completing", "planned"})
FLAG_CHARS = "*~#!%$@^-"


@dataclass(frozen=True, kw_only=True)
class SlurmNode:
    """One node as sinfo lists it."""

    name: str
    state: str
    """The long state sinfo gives (``idle``, ``drained``, ``down*``, ``mixed+drain`` ...)."""
    reason: str = ""
    partitions: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        """Whether a job step can start there now (not drained, down or unresponsive)."""
        flags = set(self.state) & set(FLAG_CHARS)
        base = self.state.rstrip(FLAG_CHARS)
        return not flags & {"*", "~", "#", "!", "%"} and base in RUNNABLE_STATES

    @property
    def drained(self) -> bool:
        """Drained or draining: the scheduler starts nothing new there."""
        return "drain" in self.state
