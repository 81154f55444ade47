"""SLURM hostlist notation (``gpu-[001-006,008]``) through python-hostlist, never our own parser."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gpudoctor.errors import BadInputError

NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
"""One node's name (use ``fullmatch``): letters, digits, ``.``, ``_``, ``-``, at most 253
characters, as DNS allows; no hostlist syntax, ``=``, space or control character, and a safe
file name too (no path separator, no leading dot)."""


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


def check_node_name(name: str, what: str = "node name") -> str:
    """``name`` when it names one node; anything else (empty, a hostlist, ``=``) is bad input.

    The gate passes the name to ``scontrol update nodename=NAME``, where an empty name or a
    hostlist would select other nodes than this one, and ``=`` or a space would add settings.
    """
    if not NODE_NAME.fullmatch(name):
        shown = repr(name) if len(name) <= 80 else f"{name[:80]!r}... ({len(name)} characters)"
        raise BadInputError(
            f"{what} {shown} is not one node's name (letters, digits, '.', '_' and '-', "
            "at most 253 characters)"
        )
    return name


def sort_key(node: str) -> tuple[object, ...]:
    """Natural order: ``n2`` before ``n10``."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", node))
