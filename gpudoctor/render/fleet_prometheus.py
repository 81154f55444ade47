"""The fleet report as Prometheus text exposition, for node_exporter's textfile collector."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gpudoctor.model.fleet import FleetReport
from gpudoctor.model.times import utc_moment
from gpudoctor.render.fleet_common import inert

Sample = tuple[dict[str, str], float]
"""One series before it is written: its labels (name -> the report's string) and its value."""


def label(value: str) -> str:
    """A label value: the report's string made printable and unambiguous, then escaped.

    A backslash is doubled before control characters become ``\\xNN`` escapes (a textfile
    is also read with cat), so two different strings never read back the same: an ESC
    shows as ``\\x1b``, a typed backslash-x-1-b as ``\\\\x1b``. Then backslash, quote and
    newline are escaped as the exposition format requires.
    """
    shown = inert(value.replace("\\", "\\\\"))
    return shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    """``{a="x",b="y"}``, leaving out empty values: to Prometheus ``b=""`` means no ``b``."""
    shown = [f'{k}="{label(v)}"' for k, v in pairs.items() if v]
    return "{" + ",".join(shown) + "}" if shown else ""


def _num(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def _family(
    name: str,
    help_text: str,
    samples: Iterable[Sample],
    worst: Callable[[float, float], float] = max,
) -> list[str]:
    """One metric family, every series once.

    node_exporter rejects a textfile that repeats a series. Distinct strings get distinct
    labels (see :func:`label`), so a series repeats only when the report repeats an entry,
    e.g. one node name in two folders: it is written once with the ``worst`` value, and a
    comment line says how many were merged.
    """
    kept: dict[str, float] = {}
    given = 0
    for pairs, value in samples:
        given += 1
        key = _labels(pairs)
        kept[key] = worst(kept[key], value) if key in kept else value
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{key} {_num(value)}" for key, value in kept.items()]
    if given > len(kept):
        lines.append(
            f"# gpudoctor: {given - len(kept)} repeated series of {name} merged into one, "
            "the worst value kept"
        )
    return lines


def render_prometheus(report: FleetReport) -> str:
    """Gauges per node, finding, drift and outlier; one HELP and TYPE line per metric family."""
    lines = _family(
        "gpudoctor_fleet_node_verdict",
        "The node's verdict: 0 ok, 2 warning, 3 error (information alone is ok).",
        # Severity's own numbers are the gauge's values; a node's verdict is never info (1).
        (({"node": n.node}, int(n.verdict)) for n in report.nodes),
    )
    lines += _family(
        "gpudoctor_fleet_node_gpus",
        "GPUs NVML lists on the node (no model label when it lists none).",
        (
            ({"node": n.node, "model": n.stack.gpu_model or ""}, n.stack.gpu_count)
            for n in report.nodes
        ),
        worst=min,  # a node seen twice: the fewer GPUs is the one to look at
    )
    lines += _family(
        "gpudoctor_fleet_node_checked_timestamp_seconds",
        "When the node's check ran (its report's created_at), in seconds since the Unix epoch: "
        "time() minus it is the age of the node's report.",
        (
            ({"node": n.node}, stamp)
            for n in report.nodes
            if (stamp := _epoch(n.checked_at)) is not None
        ),
        worst=min,  # a node seen twice: the older report is the one to look at
    )
    if report.checked is not None:  # no report said when it was checked: nothing to count
        lines += _family(
            "gpudoctor_fleet_stale_nodes",
            f"Node reports checked more than {report.checked.stale_after_h:g} h before the "
            "newest one read (fleet report --stale-after): another night's run than the rest.",
            [({}, len(report.checked.stale))],
        )
    lines += _family(
        "gpudoctor_fleet_node_finding",
        "A finding today's rules give the node (always 1).",
        (
            ({"node": node, "id": f.id, "severity": f.severity.label}, 1)
            for f in report.findings
            for node in f.nodes
        ),
    )
    lines += _family(
        "gpudoctor_fleet_node_not_reached",
        "The node gave no report (1), with its SLURM state and reason.",
        (({"node": r.node, "state": r.state, "reason": r.reason}, 1) for r in report.not_reached),
    )
    lines += _family(
        "gpudoctor_fleet_node_report_unreadable",
        "A report of the node could not be read (1).",
        (({"node": u.node, "path": u.path}, 1) for u in report.unreadable),
    )
    lines += _family(
        "gpudoctor_fleet_drift",
        "A node or GPU whose value of a fact differs from the majority of its scope (always 1); "
        "where two or more values tie for the most, every node or GPU of the scope, with no "
        "majority label.",
        (
            (
                {
                    "fact": d.fact,
                    "scope": d.scope,
                    "member": member,
                    "value": value,
                    "majority": d.majority,
                },
                1,
            )
            for d in report.drift
            for value, members in d.minority.items()
            for member in members
        ),
    )
    lines += _family(
        "gpudoctor_fleet_throughput_ratio",
        "A throughput outlier: its images per second over the median of its peers.",
        (
            (
                {
                    "node": o.node,
                    "device": o.device,
                    "model": o.model,
                    "framework": o.framework,
                    "mode": o.mode,
                    "precision": o.precision,
                    "batch_size": str(o.batch_size),
                },
                o.ratio,
            )
            for o in report.outliers
        ),
        worst=min,  # the slowest of runs that differ only in what a label does not show
    )
    lines += _pairs(report)
    lines += _family(
        "gpudoctor_fleet_healthy",
        "1 when fleet report exits 0: every node reached and readable, no error finding, "
        "no failed verify, no bad node or link from fleet pairs.",
        [({}, 1 if report.healthy else 0)],
    )
    stamp = _epoch(report.created_at)
    if stamp is not None:
        lines += _family(
            "gpudoctor_fleet_report_timestamp_seconds", "When the report was made.", [({}, stamp)]
        )
    return "\n".join(lines) + "\n"


def _epoch(when: str) -> float | None:
    """An ISO 8601 time (``2026-12-07T04:05:06Z``) in seconds since the Unix epoch; None for
    one that cannot be read (a report may say anything), or one without a time zone."""
    moment = utc_moment(when)
    return moment.timestamp() if moment is not None else None


def _pairs(report: FleetReport) -> list[str]:
    """fleet pairs' verdicts per node and per pair, when the folder holds its pairs.json.

    Only ``gpudoctor_fleet_healthy`` said a bad node was found: an alert could not name it.
    """
    pairs = report.pairs
    if pairs is None:
        return []
    measured: list[Sample] = []
    for p in pairs.pairs:
        busbw = p.busbw_gbps
        if busbw is not None:
            measured.append(({"node_a": p.nodes[0], "node_b": p.nodes[1]}, busbw))
    lines = _family(
        "gpudoctor_fleet_pair_busbw_gbps",
        "A two-node all-reduce of fleet pairs: its bus bandwidth at the largest message, GB/s "
        "(none for a pair that did not run to the end: see gpudoctor_fleet_pair_failed).",
        measured,
        worst=min,
    )
    lines += _family(
        "gpudoctor_fleet_pair_failed",
        "A pair of fleet pairs that did not run to the end (1), with why: error, refused or "
        "timeout.",
        (
            ({"node_a": p.nodes[0], "node_b": p.nodes[1], "status": p.status}, 1)
            for p in pairs.pairs
            if p.status != "ok"
        ),
    )
    lines += _family(
        "gpudoctor_fleet_pairs_bad_node",
        "A node slow or failing with every partner in fleet pairs (always 1): the node itself.",
        (({"node": b.node}, 1) for b in pairs.bad_nodes),
    )
    measured_at = _epoch(pairs.created_at)
    lines += _family(
        "gpudoctor_fleet_pairs_timestamp_seconds",
        "When fleet pairs measured the pairs read (its pairs.json's created_at), in seconds "
        "since the Unix epoch.",
        [({}, measured_at)] if measured_at is not None else [],
    )
    lines += _family(
        "gpudoctor_fleet_pairs_bad_link",
        "A pair slow while both nodes are fine with other partners (always 1): the link.",
        (({"node_a": a, "node_b": b}, 1) for a, b in pairs.bad_links),
    )
    return lines
