"""Planning for a cluster's compute nodes: which nodes, their driver and lowest compute
capability (from a check run there, a saved fleet, or the command line), and the modules to
unload before the environment is created."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from gpudoctor.envplan.target import Target
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.model.derived import env
from gpudoctor.model.report import LoadedModule, Report
from gpudoctor.model.versions import cc_text, parse_cc, parse_driver, python_key

CUDA_MODULES = ("cuda", "cudatoolkit", "cuda-toolkit", "cudnn", "nccl", "nvhpc", "hpcx")
"""Module names (before the ``/``) that put NVIDIA's libraries on LD_LIBRARY_PATH."""


@dataclass(frozen=True, kw_only=True)
class NodeTarget:
    """What one node's report says make-env needs: its partitions and its target."""

    node: str
    partitions: tuple[str, ...]
    target: Target
    unload: tuple[str, ...] = ()


def modules_to_unload(report: Report) -> tuple[str, ...]:
    """Loaded modules that put CUDA, cuDNN or NCCL on LD_LIBRARY_PATH: named so, or with an
    install prefix that holds a folder on LD_LIBRARY_PATH."""
    if report.site is None:
        return ()
    return cuda_modules(report.site.modules, env(report, "LD_LIBRARY_PATH") or "")


def cuda_modules(modules: Sequence[LoadedModule], library_path: str) -> tuple[str, ...]:
    """:func:`modules_to_unload` of ``modules`` loaded with ``library_path`` (LD_LIBRARY_PATH)."""
    dirs = [d.rstrip("/") for d in library_path.split(":") if d]
    found = []
    for module in modules:
        base = module.name.split("/")[0].lower()
        on_path = any(
            d == p.rstrip("/") or d.startswith(p.rstrip("/") + "/")
            for p in module.prefixes
            for d in dirs
        )
        if base in CUDA_MODULES or base.startswith(("cuda", "cudnn", "nccl")) or on_path:
            found.append(module.name)
    return tuple(dict.fromkeys(found))


def for_nodes(
    target: Target, *, partition: str | None, nodes: str, gpu: str | None, unload: tuple[str, ...]
) -> Target:
    """``target`` marked as planned for the compute nodes ``nodes`` (a hostlist)."""
    where = f"partition {partition}: " if partition else ""
    model = gpu or (", ".join(dict.fromkeys(target.gpus)) if target.gpus else None)
    text = f"{where}nodes {nodes}" + (f" ({model})" if model else "")
    return dataclasses.replace(target, cluster=text, partition=partition, unload_modules=unload)


def no_driver_on_node(node: str, partition: str | None) -> PlanError:
    """A check on the node found no driver version: make-env cannot pick a CUDA for it."""
    where = f"node {node}" + (f" of partition {partition}" if partition else "")
    # with the partition: --driver/--cc alone (the partition only implied) planned for one
    # machine, losing the nodes' CONDA_OVERRIDE_CUDA that conda and pixi need on a login node
    with_partition = f"--partition {partition} " if partition else ""
    return PlanError(
        f"the check run on {where} found no NVIDIA driver it could read, so make-env cannot "
        "tell which CUDA the compute nodes run: give their driver and lowest compute "
        f"capability ({with_partition}--driver VERSION --cc X.Y, as `nvidia-smi` prints on a "
        f"node), or a saved fleet report ({with_partition}--from-fleet DIR), or --cpu for a "
        "CPU-only environment"
    )


def _some(names: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _readable_glibc(glibc: str) -> bool:
    try:
        python_key(glibc)
    except BadInputError:
        return False
    return True


def _lowest_cc(nodes: Sequence[NodeTarget], names: Sequence[str]) -> str | None:
    """The lowest compute capability of the nodes named ``names``, None when none is known."""
    ccs = [parse_cc(n.target.cc) for n in nodes if n.node in names and n.target.cc]
    return cc_text(min(ccs)) if ccs else None


def fleet_target(
    nodes: Sequence[NodeTarget], *, partition: str | None, where: str
) -> tuple[Target, tuple[str, ...]]:
    """The majority driver and the lowest compute capability of the nodes (of ``partition``
    when given) that run it or a newer one, and those nodes; bad input when none has a
    readable driver."""
    chosen = [n for n in nodes if partition is None or partition in n.partitions]
    if partition is not None and not chosen:
        known = sorted({p for n in nodes for p in n.partitions})
        listed = f" (partitions in it: {', '.join(known)})" if known else " (no node names one)"
        raise BadInputError(f"--from-fleet {where}: no node of partition {partition}{listed}")
    with_driver = [n for n in chosen if n.target.driver is not None]
    if not with_driver:
        raise BadInputError(
            f"--from-fleet {where}: no node report"
            + (f" of partition {partition}" if partition else "")
            + " has a readable NVIDIA driver; give --driver VERSION --cc X.Y"
        )
    counts = Counter(n.target.driver for n in with_driver)
    # the most nodes; among equals the oldest driver, which the newer ones also run
    driver = min(counts, key=lambda d: (-counts[d], parse_driver(d or "0")))
    # a node on an older driver may not run what the majority's driver allows: not covered,
    # and said (its hostlist was in "Planned for ... nodes", silently)
    older: dict[str, list[str]] = {}
    for n in with_driver:
        if parse_driver(n.target.driver or "0") < parse_driver(driver or "0"):
            older.setdefault(n.target.driver or "?", []).append(n.node)
    skipped = {name for names in older.values() for name in names}
    # the nodes planned for: a left-out node's GPU must not choose the build either (a Pascal
    # node on an old driver made the others' H100s get a Pascal build, planned for a driver
    # and CC that no node has together)
    covered = [n for n in with_driver if n.node not in skipped]
    left_out = tuple(
        f"node(s) {_some(names)} run driver {old}, older than the {driver} of most nodes "
        f"planned for: this environment may not run there; update their driver, or plan "
        f"for them too with --driver {old} --cc {_lowest_cc(with_driver, names) or 'X.Y'}"
        for old, names in sorted(older.items(), key=lambda kv: parse_driver(kv[0]))
    )
    ccs = [parse_cc(n.target.cc) for n in covered if n.target.cc]
    first = covered[0].target
    # the oldest glibc and a CPU without AVX of any node planned for: the wheels must install
    # and import on each of them, not only on the first
    glibcs = [g for n in covered if (g := n.target.glibc) and _readable_glibc(g)]
    no_avx = next(
        (
            n.target.cpu_flags
            for n in covered
            if n.target.cpu_flags is not None and "avx" not in n.target.cpu_flags
        ),
        first.cpu_flags,
    )
    gpus = tuple(dict.fromkeys(g for n in covered for g in n.target.gpus))
    unload = tuple(dict.fromkeys(m for n in covered for m in n.unload))
    target = dataclasses.replace(
        first,
        driver=driver,
        cc=cc_text(min(ccs)) if ccs else None,
        glibc=min(glibcs, key=python_key) if glibcs else first.glibc,
        cpu_flags=no_avx,
        gpus=gpus,
        origin=f"fleet {where}",
        unload_modules=unload,
        driverless_gpus=(),
        unread_driver=(),
        left_out=left_out,
    )
    return target, tuple(n.node for n in covered)
