"""Drift: facts that should be the same across a partition or a GPU model, and the odd ones out."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from gpudoctor.fleet.hostlist import sort_key
from gpudoctor.model.facts import GPU_FLEET_FIELDS
from gpudoctor.model.facts import show as shown
from gpudoctor.model.fleet import TIE, Drift, GpuFacts, NodeFacts

NODE_FACTS: tuple[tuple[str, Callable[[NodeFacts], object]], ...] = (
    ("driver_version", lambda n: n.stack.driver),
    ("kernel_module_version", lambda n: n.kernel_module),
    ("cuda_driver_version", lambda n: n.stack.cuda_driver),
    ("os", lambda n: n.os),
    ("kernel", lambda n: n.kernel),
    ("cudnn", lambda n: n.stack.cudnn),
    ("gpus_per_node", lambda n: n.stack.gpu_count),
    ("infiniband", lambda n: n.ib_rates),
    ("acs_redirect", lambda n: n.acs_redirect),
)
"""Facts of a whole node, compared node against node; each name is a fleet name in
model/facts.py (a test holds them to it), frameworks come as ``framework.<name>``."""

GPU_FACTS: tuple[tuple[str, Callable[[GpuFacts], object]], ...] = tuple(
    (name, attrgetter(field)) for name, field in GPU_FLEET_FIELDS
)
"""Facts of one GPU, compared GPU against GPU among GPUs of the same model (model/facts.py
names them, for diff and the baseline too)."""


def show(value: object) -> str:
    """A fact's value as the report prints it."""
    return shown(value) or "None"


def find_drift(nodes: Sequence[NodeFacts]) -> tuple[Drift, ...]:
    """Every fact that differs within a GPU model or a partition: majority against minority,
    or, where two or more values have the most members, each group of the tie."""
    scopes: dict[str, list[NodeFacts]] = defaultdict(list)
    for node in nodes:
        if node.stack.gpu_model:
            scopes[f"gpu model {node.stack.gpu_model}"].append(node)
        for partition in node.partitions:
            scopes[f"partition {partition}"].append(node)
    found: list[Drift] = []
    seen: set[tuple[str, str, frozenset[str]]] = set()
    for scope in sorted(scopes, key=lambda s: (not s.startswith("gpu"), s)):
        members = scopes[scope]
        if len(members) < 2 and not any(len(n.gpus) > 1 for n in members):
            continue
        for fact, get in NODE_FACTS:
            _add(found, seen, fact, scope, ((n.node, get(n)) for n in members))
        for name in sorted({fw for n in members for fw, _ in n.stack.frameworks}):
            pairs = ((n.node, dict(n.stack.frameworks).get(name, "not probed")) for n in members)
            _add(found, seen, f"framework.{name}", scope, pairs)
        if scope.startswith("gpu model "):
            model = scope.removeprefix("gpu model ")
            listed = [g for n in members for g in n.gpus if g.name in (model, None)]
            labels = [
                f"{n.node}:gpu{g.index}" for n in members for g in n.gpus if g.name in (model, None)
            ]
            for fact, get_gpu in GPU_FACTS:
                values = list(map(get_gpu, listed))
                # A healthy fleet's 80,000 GPUs agree on almost every fact: only a fact with
                # two known values is worth pairing each value with its GPU's label.
                if len({(type(v), v) for v in values if v is not None}) > 1:
                    _add(found, seen, fact, scope, zip(labels, values, strict=True))
    return tuple(found)


def _add(
    found: list[Drift],
    seen: set[tuple[str, str, frozenset[str]]],
    fact: str,
    scope: str,
    pairs: Iterable[tuple[str, object]],
) -> None:
    """Append the drift of one fact in one scope, if its known values are not all the same."""
    # Grouped by the value itself first, shown once per value (a fleet's 80,000 GPUs have a
    # few); the type is part of the key, as True and 1 are equal but show differently.
    by_raw: dict[tuple[type, object], list[str]] = defaultdict(list)
    for member, value in pairs:
        if value is not None:  # unknown is not a difference
            by_raw[type(value), value].append(member)
    by_value: dict[str, list[str]] = defaultdict(list)
    for (_, value), members in by_raw.items():
        by_value[show(value)] += members
    if len(by_value) < 2:
        return
    counts = Counter({value: len(members) for value, members in by_value.items()})
    # The most common value; two or more with the most members are a tie, and then no value
    # is the reference: each group is named, the largest first, then the larger value, so
    # that the order never depends on input and no side is called the odd one out
    most = max(counts.values())
    tie = sum(1 for n in counts.values() if n == most) > 1
    if tie:
        majority, majority_count = "", 0
        order = sorted(counts, key=lambda v: (sort_key(v), v), reverse=True)
        order.sort(key=lambda v: -counts[v])  # a stable sort: the larger value first among equals
        grouped = {value: by_value[value] for value in order}
    else:
        majority = next(v for v, n in counts.items() if n == most)
        majority_count = most
        grouped = {v: m for v, m in sorted(by_value.items()) if v != majority}
    minority = {value: tuple(sorted(members, key=sort_key)) for value, members in grouped.items()}
    reference = TIE if tie else "majority"
    key = (fact, reference, frozenset(m for ms in minority.values() for m in ms))
    if key in seen:
        return
    seen.add(key)
    found.append(
        Drift(
            fact=fact,
            scope=scope,
            majority=majority,
            majority_count=majority_count,
            minority=minority,
            reference=reference,
        )
    )
