"""GD-GPU-068's words: a node whose SLURM GRES gives out more GPUs than it has, or fewer.

check's rule (rules/gpu_count.py) and the fleet's comparison (fleet/gres.py) count the GPUs
each from its own facts and decide alike (model/slurm.py's judge_gres); here they say what
they found, so that an admin reads one title and one ``scontrol update ... reason=`` for one
state of a node, and the health gate drains it with that reason (pure, no I/O).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gpudoctor.model.slurm import drain_reason

GRES_COUNT_ID = "GD-GPU-068"


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
    said = [
        f"GPU{'s' if group[1:] else ''} {_names(group)} {words}"
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


def _names(addresses: Sequence[str]) -> str:
    """``0000:07:00.0, 0000:08:00.0 and 2 more``."""
    more = f" and {len(addresses) - 2} more" if addresses[2:] else ""
    return ", ".join(addresses[:2]) + more


def surplus_title(shown: str, has: int) -> str:
    """The title of a node that has more GPUs than its GRES ``shown`` gives out."""
    return f"The node has {gpus(has)}; SLURM gives out only {shown}"


_NODE_WORD = re.compile(r"\$?[\w.\[\],-]+")
"""A node name, hostlist or ``$SLURMD_NODENAME`` that a shell passes on as it is."""


def drain_command(node: str, title: str, finding_id: str = GRES_COUNT_ID) -> str:
    """``sudo scontrol update nodename=NODE state=drain reason="gpudoctor: GD-GPU-068 ..."``:
    the reason the health gate sets for this finding (``finding_id``) alone, in double quotes
    (the reason has none; ``$``, a backquote and a backslash are escaped) so that ``node's``
    reads as it is."""
    reason = re.sub(r"([$`\\])", r"\\\1", drain_reason(finding_id, title))
    return f'sudo scontrol update nodename={node_word(node)} state=drain reason="{reason}"'


def node_word(node: str) -> str:
    """``node`` as a drain command names it: NODE, the word to replace, for a name a shell
    would not pass on as it is (a name the report had redacted, ``<redacted>``: pasted, ``<``
    and ``>`` are redirections and scontrol never runs)."""
    return node if _NODE_WORD.fullmatch(node) else "NODE"
