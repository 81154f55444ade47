"""Machines with different GPUs: which card each CUDA_VISIBLE_DEVICES index really reaches."""

from __future__ import annotations

from gpudoctor.model import shell
from gpudoctor.model.report import Report
from gpudoctor.rules.facts import env, gpus, visible_index


def numeric_entries(value: str) -> list[int]:
    """The plain indices of a ``CUDA_VISIBLE_DEVICES`` value (UUIDs and MIG names skipped)."""
    found = (visible_index(p.strip()) for p in value.split(","))
    return [i for i in found if i is not None and i >= 0]


def selects_by_index(report: Report) -> bool:
    """True when ``CUDA_VISIBLE_DEVICES`` picks GPUs by number (not by UUID)."""
    visible = env(report, "CUDA_VISIBLE_DEVICES")
    return visible is not None and bool(numeric_entries(visible))


def landed_elsewhere(report: Report) -> list[str]:
    """Where a framework's ``cuda:N`` is another card than nvidia-smi's GPU of the index the
    user gave in ``CUDA_VISIBLE_DEVICES``: one line per such device, in words."""
    chosen = numeric_entries(env(report, "CUDA_VISIBLE_DEVICES") or "")
    by_index = {g.index: g for g in gpus(report) if not g.lost}
    found = []
    for fw in report.frameworks:
        if fw.status != "ok":
            continue
        for pos, dev in enumerate(fw.devices):
            meant = by_index.get(chosen[pos]) if pos < len(chosen) else None
            if meant is not None and dev.name and meant.name and dev.name != meant.name:
                found.append(
                    f"{fw.name}: cuda:{dev.index} is the {dev.name}, but nvidia-smi's GPU "
                    f"{meant.index} (CUDA_VISIBLE_DEVICES entry {pos}) is the {meant.name}"
                )
    return found


def pci_order(report: Report) -> str:
    """``GPU 0 NVIDIA GeForce RTX 2080 SUPER (00000000:01:00.0); GPU 1 ...``."""
    return "; ".join(f"GPU {g.index} {g.name} ({g.pci_bus_id})" for g in gpus(report) if not g.lost)


def uuids_meant(report: Report) -> str | None:
    """The UUIDs of nvidia-smi's GPUs at the indices ``CUDA_VISIBLE_DEVICES`` gives, comma
    separated (both orders agree on a UUID); None when one of them is unknown."""
    by_index = {g.index: g for g in gpus(report) if not g.lost}
    picked = [by_index.get(i) for i in numeric_entries(env(report, "CUDA_VISIBLE_DEVICES") or "")]
    uuids = [g.uuid if g is not None else None for g in picked]
    if not uuids or any(not u or not shell.DEVICE_UUID.fullmatch(u) for u in uuids):
        return None
    return ",".join(u for u in uuids if u)
