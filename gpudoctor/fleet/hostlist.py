"""SLURM hostlist notation (``gpu-[001-006,008]``) through python-hostlist, never our own parser."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gpudoctor.errors import BadInputError


def compress(nodes: Iterable[str]) -> str:
    """``["gpu-001", "gpu-002", "gpu-004"]`` -> ``gpu-[001-002,004]``."""
    import hostlist

    names = sorted(set(nodes))
    return str(hostlist.collect_hostlist(names)) if names else ""


def expand(text: str, what: str = "hostlist") -> tuple[str, ...]:
    """``n[1-3],gpu-7`` -> its node names; a malformed list is bad input."""
    import hostlist

    try:
        names = hostlist.expand_hostlist(text)
    except hostlist.BadHostlist as exc:
        raise BadInputError(f"{what} {text!r}: {exc}") from None
    if not names:
        raise BadInputError(f"{what} {text!r} names no node")
    return tuple(names)


def sort_key(node: str) -> tuple[object, ...]:
    """Natural order: ``n2`` before ``n10``."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", node))
