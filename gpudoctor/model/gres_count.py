"""GD-GPU-068's words: a node whose SLURM GRES gives out more GPUs than it has, or fewer.

check's rule (rules/gpu_count.py) and the fleet's comparison (fleet/gres.py) count the GPUs
each from its own facts and decide alike (model/slurm.py's judge_gres); here they say what
they found, so that an admin reads one title for one state of a node, and one drain command
(model/slurm.py's drain_command, with the reason the health gate drains it with) (pure, no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence

from gpudoctor.model.slurm import MAX_REASON, drain_reason, node_gpu_gres

GRES_COUNT_ID = "GD-GPU-068"
TITLE_ROOM = MAX_REASON - len(drain_reason(GRES_COUNT_ID, "")) - len(" (+99 more)")
"""The longest title whose drain reason (the gate's, with its ``(+N more)``) is not cut: the
PCI addresses come last, so a GRES of many long type names, or lost, refused and excluded
GPUs together, pushed them past sinfo's 200 characters."""


def plural(count: int, word: str) -> str:
    """``1 GPU``, ``8 GPUs``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def gpus(count: int) -> str:
    """``1 GPU``, ``8 GPUs``."""
    return plural(count, "GPU")


def short_title(
    shown: str,
    *,
    owned: int | None,
    on_bus: int,
    nvml: int | None = None,
    mig_devices: int | None = None,
    lost: Sequence[str] = (),
    refused: Sequence[str] = (),
    excluded: Sequence[str] = (),
) -> str:
    """The title of a node that has fewer GPUs than its GRES ``shown`` gives out, or GPUs
    NVML lost.

    ``owned``: the GPUs the nvidia driver owns (the PCI bus and /proc/driver/nvidia/gpus;
    None where they are not the node's to count); ``on_bus``: the NVIDIA GPUs on its PCI bus;
    ``nvml``: the GPUs NVML lists where they are the node's (None where NVML failed or lists
    a share); ``mig_devices``: SLURM's AutoDetect=nvml count with MIG on; ``lost``: the PCI
    addresses of the GPUs NVML does not list; ``refused``: those of them the installed
    driver cannot drive (GD-DRV-007, -008, -009: never started, not lost); ``excluded``:
    those the admin excluded from the driver (``NVreg_ExcludedGpus``). NVML listing other
    than the driver owns is named first: the GPUs it does not list cannot be used.
    """
    if nvml is not None and nvml != owned:
        has = f"NVML lists only {gpus(nvml)}"
        if owned is not None and nvml < owned:
            has += f" of the node's {owned}"
    else:
        if owned is None or on_bus <= owned:
            has = "the node has " + ("no GPU" if not owned else f"only {gpus(owned)}")
        else:  # on the bus, not the driver's (no module loaded, or vfio-pci): unusable here
            owns = "none" if owned == 0 else f"only {owned}"
            has = f"the nvidia driver owns {owns} of the {gpus(on_bus)} on its PCI bus"
        if mig_devices is not None:  # SLURM's count, known where NVML lists every GPU
            has += f" ({mig_devices} with its MIG devices)"
    title = _title(shown, has, lost, refused, excluded, first_only=False)
    if len(title) > TITLE_ROOM:  # one address of each group: the drain is about them
        title = _title(shown, has, lost, refused, excluded, first_only=True)
    entries = shown.split(",")
    gres = node_gpu_gres(entries)
    if len(title) > TITLE_ROOM and gres is not None and gres.count is not None:
        # a GRES of many long type names by its count (the evidence has it whole)
        count = f"{gpus(gres.count)} in {len(entries)} GRES entr{'ies' if entries[1:] else 'y'}"
        if len(count) < len(shown):
            title = _title(count, has, lost, refused, excluded, first_only=True)
    return title


def _title(
    shown: str,
    has: str,
    lost: Sequence[str],
    refused: Sequence[str],
    excluded: Sequence[str],
    *,
    first_only: bool,
) -> str:
    said = [
        f"GPU{'s' if group[1:] else ''} {_names(group, 1 if first_only else 2)} {words}"
        for group, words in (
            ([a for a in lost if a not in refused and a not in excluded], "lost"),
            ([a for a in lost if a in refused], "refused by the driver"),
            ([a for a in lost if a in excluded], "excluded by NVreg_ExcludedGpus"),
        )
        if group
    ]
    if said:
        has += ": " + "; ".join(said)
    return f"SLURM gives out {shown} here; {has}"


def _names(addresses: Sequence[str], shown: int = 2) -> str:
    """``0000:07:00.0, 0000:08:00.0 and 2 more`` (the first ``shown`` addresses)."""
    more = f" and {len(addresses) - shown} more" if addresses[shown:] else ""
    return ", ".join(addresses[:shown]) + more


def surplus_title(shown: str, has: int) -> str:
    """The title of a node that has more GPUs than its GRES ``shown`` gives out."""
    return f"The node has {gpus(has)}; SLURM gives out only {shown}"
