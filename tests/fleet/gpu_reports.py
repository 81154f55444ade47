"""Recorded reports reshaped into multi-GPU nodes, for the gate's GPU count against SLURM."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DATA

H100 = DATA / "reports" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"


def h100_node(folder: Path, gpus: int, on_bus: int | None = None) -> Path:
    """The recorded H100 report as a node whose NVML lists ``gpus`` H100s of the ``on_bus``
    (default: as many) its PCI bus holds; GPU i at PCI 0000:1i:00.0. Its path in ``folder``."""
    doc = json.loads(H100.read_text())
    gpu, function = doc["nvml"]["gpus"][0], doc["driver"]["pci_functions"][0]
    doc["nvml"]["gpus"] = [
        {**gpu, "index": i, "pci_bus_id": f"00000000:1{i}:00.0", "uuid": f"GPU-{i}"}
        for i in range(gpus)
    ]
    bus = gpus if on_bus is None else on_bus
    doc["driver"]["pci_functions"] = [
        {**function, "address": f"0000:1{i}:00.0"} for i in range(bus)
    ]
    path = folder / f"h100x{gpus}-of-{bus}.json"
    path.write_text(json.dumps(doc))
    return path
