"""A golden reference for a fleet: every node judged against one report or pinned facts.

A fleet whose nodes all drifted the same way has no minority; judged against a reference, each
of them still differs. The comparison is diff's (``model.diff.compare_facts``) over the one list
of facts (model/facts.py), so ``gpudoctor diff`` and fleet drift agree on what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gpudoctor.errors import BadInputError
from gpudoctor.fleet.drift import GPU_FACTS, NODE_FACTS
from gpudoctor.fleet.hostlist import sort_key
from gpudoctor.model.diff import compare_facts
from gpudoctor.model.facts import Fact, show
from gpudoctor.model.fleet import Drift, GpuFacts, NodeFacts

MAX_PINS = 200
"""More pinned facts than any node has is no baseline but a mistake."""


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """The reference values: whole-node facts and per-GPU facts, by their fleet names."""

    name: str
    """How drift output names it: the file's name."""
    node: tuple[Fact, ...] = ()
    gpu: tuple[Fact, ...] = ()
    """Per-GPU facts every GPU of every node should have (``gpu.power_limit_w``)."""

    @property
    def reference(self) -> str:
        """The words drift entries carry in ``reference``."""
        return f"baseline {self.name}"


def _fact(name: str, value: object) -> Fact:
    group = "gpus" if name.startswith("gpu.") else "node"
    return Fact(key=name, group=group, label=name, value=show(value), fleet=name)


def node_fact_list(node: NodeFacts) -> tuple[Fact, ...]:
    """A node's whole-node facts as the one comparison takes them (keys: fleet names)."""
    facts = [_fact(name, get(node)) for name, get in NODE_FACTS]
    facts += [_fact(f"framework.{fw}", build) for fw, build in node.stack.frameworks]
    return tuple(facts)


def gpu_fact_list(gpu: GpuFacts) -> tuple[Fact, ...]:
    """One GPU's facts as the one comparison takes them."""
    return tuple(_fact(name, get(gpu)) for name, get in GPU_FACTS)


def from_node(name: str, reference: NodeFacts) -> Baseline:
    """The baseline a golden node's report gives; a per-GPU fact only where its GPUs agree."""
    gpu_values: dict[str, set[str | None]] = defaultdict(set)
    for g in reference.gpus:
        for fact in gpu_fact_list(g):
            gpu_values[fact.key].add(fact.value)
    gpu = tuple(
        _fact(key, next(iter(values)))
        for key, values in gpu_values.items()
        if len(values) == 1 and None not in values
    )
    node = tuple(f for f in node_fact_list(reference) if f.value is not None)
    return Baseline(name=name, node=node, gpu=gpu)


_NODE_NAMES = {name for name, _ in NODE_FACTS}
_GPU_NAMES = {name.removeprefix("gpu.") for name, _ in GPU_FACTS}


_BOOL_GPU = {"ecc", "mig", "persistence_mode"}
_NUMBER_NODE = {"gpus_per_node"}
_ON_OFF_NODE = {"acs_redirect"}
"""Whole-node facts a node holds as ``on`` or ``off`` (a boolean shown as facts show it)."""
ON_OFF = '"on" or "off" (or true or false)'
_STRING_NODE = {"infiniband", "os", "kernel"}
"""Whole-node facts held as free text, not a version."""


def _kind(table: str, key: str) -> str:
    """What a pinned fact's value must be, in words: as reports hold it."""
    if table == "gpu":
        return "true or false" if key in _BOOL_GPU else "a number"
    if key in _ON_OFF_NODE:
        return ON_OFF
    if key in _STRING_NODE:
        return "a string in quotes"
    return "a whole number" if key in _NUMBER_NODE else "a string (a version in quotes)"


def _is(value: object, kind: str) -> bool:
    if kind == "true or false":
        return isinstance(value, bool)
    if kind == ON_OFF:
        # "maybe" would put every node whose ACS was read in drift
        return isinstance(value, bool) or value in ("on", "off")
    if kind == "a number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "a whole number":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def from_pins(name: str, data: Mapping[str, Any]) -> Baseline:
    """The baseline a small TOML file pins: a ``[node]`` table and a ``[gpu]`` table.

    Keys are fleet drift's fact names (``driver_version``, ``framework.torch``; ``power_limit_w``
    under ``[gpu]``); an unknown key or table is bad input, named.
    """
    unknown = sorted(set(data) - {"node", "gpu"})
    if unknown:
        key = unknown[0]
        if not isinstance(data[key], Mapping):
            # a pin written above any table: say under which table it belongs
            table = "gpu" if key in _GPU_NAMES else "node"
            if key in _GPU_NAMES or key in _NODE_NAMES or key.startswith("framework."):
                raise BadInputError(f"{name}: {key!r} is outside any table; put it under [{table}]")
            raise BadInputError(f"{name}: {key!r} is outside any table and no fact")
        raise BadInputError(f"{name}: unknown table {key!r} (expected [node] and [gpu])")
    node_pins, gpu_pins = data.get("node", {}), data.get("gpu", {})
    if not isinstance(node_pins, Mapping) or not isinstance(gpu_pins, Mapping):
        raise BadInputError(f"{name}: [node] and [gpu] must be tables")
    if len(node_pins) + len(gpu_pins) > MAX_PINS:
        raise BadInputError(f"{name}: more than {MAX_PINS} pinned facts")
    if not node_pins and not gpu_pins:
        raise BadInputError(f"{name}: pins no fact (give a [node] or a [gpu] table)")
    for table, pins, known in (("node", node_pins, _NODE_NAMES), ("gpu", gpu_pins, _GPU_NAMES)):
        for key, value in pins.items():
            if key not in known and not (table == "node" and key.startswith("framework.")):
                choices = ", ".join(sorted(known))
                raise BadInputError(f"{name}: [{table}] {key!r} is no fact (one of {choices})")
            want = _kind(table, key)
            if not _is(value, want):
                # a value no node can have ("yes" for ECC, 13.0 read as "13") would put every
                # node in drift: the pin is refused instead
                raise BadInputError(f"{name}: [{table}] {key} = {value!r}: expected {want}")
    return Baseline(
        name=name,
        node=tuple(_fact(k, v) for k, v in node_pins.items()),
        gpu=tuple(_fact(f"gpu.{k}", v) for k, v in gpu_pins.items()),
    )


def baseline_drift(nodes: Sequence[NodeFacts], baseline: Baseline) -> tuple[Drift, ...]:
    """Each reference fact some node (or GPU) does not have, with the nodes that differ.

    Only facts both sides know are compared: a node whose report cannot say (no NVML) is no
    difference, as in majority drift.
    """
    differ: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    compared: dict[str, int] = defaultdict(int)
    for n in sorted(nodes, key=lambda n: sort_key(n.node)):
        mine = node_fact_list(n)
        known = {f.key for f in mine if f.value is not None}
        for key in known & {f.key for f in baseline.node}:
            compared[key] += 1
        for change in compare_facts(baseline.node, mine, absent_is_change=False):
            differ[change.key][change.new or ""].append(n.node)
        for g in n.gpus:
            facts = gpu_fact_list(g)
            known = {f.key for f in facts if f.value is not None}
            for key in known & {f.key for f in baseline.gpu}:
                compared[key] += 1
            for change in compare_facts(baseline.gpu, facts, absent_is_change=False):
                differ[change.key][change.new or ""].append(f"{n.node}:gpu{g.index}")
    found = []
    for fact in (*baseline.node, *baseline.gpu):
        values = differ.get(fact.key)
        if not values:
            continue
        off = sum(len(members) for members in values.values())
        found.append(
            Drift(
                fact=fact.key,
                scope=baseline.reference,
                majority=fact.value or "",
                majority_count=compared[fact.key] - off,
                minority={value: tuple(members) for value, members in sorted(values.items())},
                reference=baseline.reference,
            )
        )
    return tuple(found)
