"""SLURM hostlist notation (``gpu-[001-006,008]``) through python-hostlist, never our own parser."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gpudoctor.errors import BadInputError
from gpudoctor.model.slurm import NODE_NAME

MAX_NODES = 100_000
"""The most node names a hostlist may expand to: far above any real cluster, and a bound on
the memory and time a mistyped or hostile ``--nodelist`` can cost."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""No node name holds one; a newline sends python-hostlist's expand_part into endless
recursion (its ``(.*)`` stops at one), and a name that ends in one passes its ``^[0-9]+$``."""


_LONG_NUMBER = re.compile(r"[0-9]{1000}")
"""A digit run no node name has (a name is at most 253 characters) and python-hostlist's
int() may refuse (more than 4,300 digits): such a name is listed as it is."""


def compress(nodes: Iterable[str]) -> str:
    """``["gpu-001", "gpu-002", "gpu-004"]`` -> ``gpu-[001-002,004]``; a name with a digit run
    of 1,000 or more (a hostile report's or manifest's) is listed after the rest, as it is."""
    import hostlist

    names = sorted(set(nodes))
    odd = [n for n in names if _LONG_NUMBER.search(n)]
    plain = [n for n in names if n not in odd]
    return ",".join([str(hostlist.collect_hostlist(plain))] * bool(plain) + odd)


def expand(text: str, what: str = "hostlist") -> tuple[str, ...]:
    """``n[1-3],gpu-7`` -> its node names; a malformed or oversized list is bad input.

    Expanded one top-level part at a time with a running count, so that a list of many huge
    ranges is refused after at most :data:`MAX_NODES` names plus one part (python-hostlist
    caps a part at 100,000 names), never expanded whole first.
    """
    import hostlist

    control = _CONTROL.search(text)
    if control is not None:
        raise BadInputError(
            f"{what} {_shown(text)} holds a control character ({control.group()!r}), "
            "which no node name has"
        )
    names: dict[str, None] = {}  # ordered and without duplicates, as expand_hostlist gives
    try:
        for part in _parts(text):
            names.update(dict.fromkeys(hostlist.expand_part(part)))
            if len(names) > MAX_NODES:
                raise BadInputError(
                    f"{what} {_shown(text)} names more than {MAX_NODES:,} nodes, "
                    "more than gpudoctor takes in one run"
                )
    except hostlist.BadHostlist as exc:
        raise BadInputError(f"{what} {_shown(text)}: {exc}") from None
    except ValueError:  # int() of a range's bound longer than 4,300 digits
        raise BadInputError(f"{what} {_shown(text)}: a range's number is too long") from None
    if not names:
        raise BadInputError(f"{what} {_shown(text)} names no node")
    return tuple(names)


def _parts(text: str) -> list[str]:
    """The top-level comma-separated parts of a hostlist (``a[1-2],b`` -> ``a[1-2]``, ``b``).

    The same split and bracket checks as python-hostlist's ``expand_hostlist``, whose
    ``expand_part`` then expands each part (and would recurse for ever on an open bracket).
    """
    import hostlist

    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
            if depth > 1:
                raise hostlist.BadHostlist("nested brackets")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise hostlist.BadHostlist("unbalanced brackets")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise hostlist.BadHostlist("unbalanced brackets")
    parts.append(text[start:])
    return [p for p in parts if p]


def _shown(text: str) -> str:
    """The list as an error quotes it: on one line, and cut short when long."""
    return repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text):,} characters)"


def check_node_name(name: str, what: str = "node name") -> str:
    """``name`` when it names one node; anything else (empty, a hostlist, ``=``) is bad input.

    The gate passes the name to ``scontrol update nodename=NAME``, where an empty name or a
    hostlist would select other nodes than this one, and ``=`` or a space would add settings.
    """
    if not NODE_NAME.fullmatch(name):
        raise BadInputError(
            f"{what} {_shown(name)} is not one node's name (letters, digits, '.', '_' and '-', "
            "at most 253 characters)"
        )
    return name


def sort_key(node: str) -> tuple[object, ...]:
    """Natural order: ``n2`` before ``n10``.

    A run of digits compares by its length without leading zeros, then as text: the order
    int() gives, without int(), which refuses more than 4,300 digits (a hostile report's value).
    """
    return tuple(
        (0, len(p.lstrip("0")), p.lstrip("0")) if p.isdigit() else (1, 0, p)
        for p in re.split(r"([0-9]+)", node)
    )
