"""The fleet report as Prometheus text exposition, for node_exporter's textfile collector."""

from __future__ import annotations

from datetime import datetime

from gpudoctor.model.fleet import FleetReport
from gpudoctor.render.fleet import inert

SEVERITY_VALUE = {"ok": 0, "info": 1, "warning": 2, "error": 3}


def label(value: str) -> str:
    """A label value escaped as the exposition format requires (backslash, quote, newline).

    Control characters are shown as escapes first: a textfile is also read with cat.
    """
    return inert(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**pairs: str) -> str:
    return "{" + ",".join(f'{k}="{label(v)}"' for k, v in pairs.items()) + "}"


def _num(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def render_prometheus(report: FleetReport) -> str:
    """Gauges per node, finding, drift and outlier; one HELP and TYPE line per metric family."""
    lines: list[str] = []

    def family(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {_num(value)}" for labels, value in samples)

    family(
        "gpudoctor_fleet_node_verdict",
        "Worst finding severity on the node: 0 ok, 1 info, 2 warning, 3 error.",
        [(_labels(node=n.node), SEVERITY_VALUE.get(n.verdict, 3)) for n in report.nodes],
    )
    family(
        "gpudoctor_fleet_node_gpus",
        "GPUs NVML lists on the node.",
        [(_labels(node=n.node, model=n.gpu_model or ""), n.gpu_count) for n in report.nodes],
    )
    family(
        "gpudoctor_fleet_node_finding",
        "A finding today's rules give the node (always 1).",
        [
            (_labels(node=node, id=f.id, severity=f.severity), 1)
            for f in report.findings
            for node in f.nodes
        ],
    )
    family(
        "gpudoctor_fleet_node_not_reached",
        "The node gave no report (1), with its SLURM state and reason.",
        [(_labels(node=r.node, state=r.state, reason=r.reason), 1) for r in report.not_reached],
    )
    family(
        "gpudoctor_fleet_node_report_unreadable",
        "A report of the node could not be read (1).",
        [(_labels(node=u.node, path=u.path), 1) for u in report.unreadable],
    )
    family(
        "gpudoctor_fleet_drift",
        "A node or GPU whose value of a fact differs from the majority of its scope (always 1).",
        [
            (
                _labels(
                    fact=d.fact, scope=d.scope, member=member, value=value, majority=d.majority
                ),
                1,
            )
            for d in report.drift
            for value, members in d.minority.items()
            for member in members
        ],
    )
    family(
        "gpudoctor_fleet_throughput_ratio",
        "A throughput outlier: its images per second over the median of its peers.",
        [
            (
                _labels(
                    node=o.node,
                    device=o.device,
                    model=o.model,
                    framework=o.framework,
                    precision=o.precision,
                ),
                o.ratio,
            )
            for o in report.outliers
        ],
    )
    family(
        "gpudoctor_fleet_healthy",
        "1 when every node is reached, readable and free of error findings.",
        [("", 1 if report.healthy else 0)],
    )
    try:
        stamp = datetime.fromisoformat(report.created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        stamp = None
    if stamp is not None:
        family(
            "gpudoctor_fleet_report_timestamp_seconds", "When the report was made.", [("", stamp)]
        )
    return "\n".join(lines) + "\n"
