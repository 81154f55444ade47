"""fleet pairs' pure parts: which node pairs to measure, and bad node versus bad link."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from gpudoctor.model.hardware import BadNode, PairOutcome

PAIRS_DIR = "pairs"
"""Where fleet pairs saves its files in a run folder: ``<a>+<b>.json`` and ``pairs.json``."""
PAIRS_FILE = f"{PAIRS_DIR}/pairs.json"
PAIRS_TOOL = "gpudoctor fleet pairs"
"""The ``tool`` of pairs.json: how fleet report knows it."""
SLOW_FACTOR = 0.8
"""A pair below this share of the baseline is slow (the same 20 % margin as throughput
outliers' factor-of-median rule leaves to run-to-run noise)."""


def choose_pairs(nodes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Each node with the next and the one after next (a ring and its skip-one chords).

    Every node is then in at least two pairs once there are three nodes (four pairs from
    five nodes on), so a node slow with every partner is told apart from one slow link.
    Two nodes make one pair; one node none.
    """
    ordered = sorted(dict.fromkeys(nodes))
    n = len(ordered)
    seen: dict[frozenset[str], tuple[str, str]] = {}
    for step in (1, 2):
        for i in range(n):
            a, b = ordered[i], ordered[(i + step) % n]
            if a != b:
                seen.setdefault(frozenset((a, b)), (min(a, b), max(a, b)))
    return tuple(seen.values())


def pairs_by_partition(
    partitions: Mapping[str, Sequence[str]],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The pairs to run (``partitions``: node -> every partition it is in, sinfo's order; empty
    where srun is told the partition), and the (node, partition) of nodes that share a
    partition with no other node.

    A pair is one srun, in one partition: srun refuses two nodes that share none (`Requested
    node configuration is not available`), which says nothing of either node or the link.
    Each node is ringed with the others of the largest partition it is in (an ``all``
    partition holds every node: one ring), and a node left alone in its group is paired with
    a node it shares another partition with, so that no node sharing one is called alone.
    """
    members: dict[str, list[str]] = {}
    for node, parts in partitions.items():
        for part in parts or ("",):
            members.setdefault(part, []).append(node)
    group: dict[str, str] = {}
    for part in sorted(members, key=lambda p: -len(members[p])):  # ties: sinfo's order
        for node in members[part]:
            group.setdefault(node, part)
    groups: dict[str, list[str]] = {}
    for node, part in group.items():
        groups.setdefault(part, []).append(node)
    chosen: dict[frozenset[str], tuple[str, str]] = {}
    alone: list[tuple[str, str]] = []
    for part, nodes in groups.items():
        found = choose_pairs(nodes)
        for a, b in found:
            chosen.setdefault(frozenset((a, b)), (a, b))
        if found:
            continue
        node = nodes[0]
        partner = next(
            (m for p in partitions[node] for m in members[p] if m != node),
            None,
        )
        if partner is None:
            alone.append((node, part))
        else:
            chosen.setdefault(frozenset((node, partner)), (min(node, partner), max(node, partner)))
    return tuple(chosen.values()), tuple(alone)


def baseline(values: Sequence[float]) -> float | None:
    """The upper quartile of the pairs' bus bandwidths (robust while up to 3/4 are slow).

    The median would not do: among three nodes with one bad, two of the three pairs are slow.
    """
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=4, method="inclusive")[2]


def analyse(
    outcomes: Sequence[PairOutcome], slow_factor: float = SLOW_FACTOR
) -> tuple[
    float | None, tuple[tuple[str, str], ...], tuple[BadNode, ...], tuple[tuple[str, str], ...]
]:
    """(baseline, slow pairs, bad nodes, bad links) of a set of pair outcomes.

    A pair is slow when it failed or its bus bandwidth is under ``slow_factor`` x the baseline.
    A node in two pairs or more, slow in all of them, is a bad node; a slow pair that no bad
    node explains is a bad link (with a node in only that pair, the two cannot be told apart).
    A pair srun refused (an account or partition SLURM would not take, nodes busy past
    ``--immediate``, the run's time limit spent) never ran: it says nothing of its nodes or
    the link between them, so it is neither slow nor one of a node's pairs.
    """
    outcomes = [o for o in outcomes if o.status != "refused"]
    values = [v for o in outcomes if (v := o.busbw_gbps) is not None]
    base = baseline(values)
    # With one pair there is nothing to compare with: only a failure makes it slow.
    comparable = len(values) >= 2

    def is_slow(o: PairOutcome) -> bool:
        v = o.busbw_gbps
        if v is None:
            return True
        return comparable and base is not None and v < slow_factor * base

    slow = [o for o in outcomes if is_slow(o)]
    slow_keys = {o.nodes for o in slow}
    per_node: dict[str, list[PairOutcome]] = {}
    for o in outcomes:
        for node in o.nodes:
            per_node.setdefault(node, []).append(o)
    bad: list[BadNode] = []
    for node, mine in sorted(per_node.items()):
        if len(mine) >= 2 and all(o.nodes in slow_keys for o in mine):
            bad.append(
                BadNode(
                    node=node,
                    partners=tuple(o.nodes[1] if o.nodes[0] == node else o.nodes[0] for o in mine),
                    busbw_gbps=tuple(o.busbw_gbps for o in mine),
                )
            )
    bad_names = {b.node for b in bad}
    links = tuple(o.nodes for o in slow if not (set(o.nodes) & bad_names))
    return base, tuple(o.nodes for o in slow), tuple(bad), links
