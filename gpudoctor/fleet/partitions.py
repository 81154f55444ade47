"""Pure parsing of ``sinfo``'s partition listing into the report's SLURM cluster facts."""

from __future__ import annotations

import re

from gpudoctor.model.report import SlurmPartition
from gpudoctor.model.slurm import gpu_gres

SINFO_PARTITIONS_FORMAT = "%P|%a|%D|%G|%f|%F|%N"
"""Partition (``*`` = default), availability, node count, GRES, features, node counts by
state (allocated/idle/other/total), nodes (last: a hostlist is the one field with commas)."""
_COUNTS = re.compile(r"^([0-9]{1,9})/([0-9]{1,9})/([0-9]{1,9})/([0-9]{1,9})$")
_COUNT = re.compile(r"[0-9]{1,9}")
"""Node counts as sinfo prints them (ASCII, 32-bit): not '²', which str.isdigit() takes and
int() refuses, nor more digits than int() converts."""


def gres_list(field: str) -> tuple[str, ...]:
    """A comma-separated sinfo field (GRES, features) as a tuple; ``(null)`` is empty."""
    field = field.strip()
    if field in ("", "(null)", "N/A"):
        return ()
    # GRES lists are comma separated, but a socket binding has commas too: gpu:a100:4(S:0,1)
    parts, depth, current = [], 0, ""
    for ch in field:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return tuple(p.strip() for p in parts if p.strip())


def parse_partitions(text: str) -> tuple[SlurmPartition, ...]:
    """``sinfo -h -o '%P|%a|%D|%G|%f|%F|%N'`` -> one entry per partition, GRES and features
    (the ``%F`` field may be absent: the format before 2026-12-07)."""
    found = []
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) < 6 or not fields[0].strip():
            continue
        name, avail, count, gres, features = (f.strip() for f in fields[:5])
        counts = _COUNTS.match(fields[5].strip()) if len(fields) > 6 else None
        nodes = "|".join(fields[6 if counts else 5 :]).strip()
        usable = int(counts.group(1)) + int(counts.group(2)) if counts else None
        found.append(
            SlurmPartition(
                name=name.rstrip("*"),
                default=name.endswith("*"),
                available=avail or None,
                nodes=nodes,
                node_count=int(count) if _COUNT.fullmatch(count) else None,
                gres=gres_list(gres),
                features=gres_list(features),
                nodes_usable=usable,
            )
        )
    return tuple(found)


def is_gpu_gres(gres: str) -> bool:
    """``gpu``, ``gpu:8``, ``gpu:h100:8(S:0-1)``: a GPU generic resource (not ``gpumem``)."""
    return gpu_gres(gres) is not None
