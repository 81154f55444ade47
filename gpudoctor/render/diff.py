"""`gpudoctor diff`: text, Markdown and the versioned JSON (docs/diff-schema.json); only formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpudoctor import __version__
from gpudoctor.model.diff import (
    DIFF_SCHEMA_VERSION,
    NOISE_FLOOR,
    NOISE_SPREADS,
    Change,
    Diff,
    FactChange,
    FindingChange,
    PackageAction,
    Side,
    ThroughputChange,
)
from gpudoctor.model.facts import GROUPS
from gpudoctor.model.inert import inert as _inert
from gpudoctor.model.serialize import dumps_json
from gpudoctor.render.markdown import escape

NOISE_RULE = (
    f"a run counts as changed when new/old moves more than {NOISE_SPREADS:g}× the larger of the "
    f"two runs' spreads (inter-quartile range over median of the timed blocks), and at least "
    f"{NOISE_FLOOR * 100:g} %"
)
_MARK = {Change.CHANGED: "~", Change.APPEARED: "+", Change.GONE: "-"}
_FINDING_WORD = {Change.CHANGED: "changed", Change.APPEARED: "appeared", Change.GONE: "went away"}


def _severity_text(f: FindingChange) -> str:
    """``error``, or ``error, was warning`` for a finding whose severity moved."""
    was = f", was {f.old_severity.label}" if f.old_severity is not None else ""
    return f.severity.label + was


def inert(text: str | None) -> str:
    """A value from a report on one line, controls shown, never acted on."""
    return _inert(text if text is not None else "unknown", one_line=True)


def _side_line(word: str, side: Side) -> str:
    parts = [inert(side.label)]
    if side.host and side.host != "<redacted>":
        parts.append(f"host {inert(side.host)}")
    if side.gpudoctor_version:
        parts.append(f"gpudoctor {inert(side.gpudoctor_version)}")
    return f"{word}: " + ", ".join(parts)


def _fact_text(c: FactChange) -> str:
    if c.change is Change.APPEARED:
        return f"{inert(c.label)}: {inert(c.new)} (new)"
    if c.change is Change.GONE:
        return f"{inert(c.label)}: {inert(c.old)} (gone)"
    return f"{inert(c.label)}: {inert(c.old)} → {inert(c.new)}"


def _run_name(t: ThroughputChange) -> str:
    layout = f" {t.layout}" if t.layout else ""
    return (
        f"{t.model} {t.framework} {t.device} ({t.device_name}) {t.mode} {t.precision}{layout} "
        f"batch {t.batch_size}"
    )


def _run_text(t: ThroughputChange) -> str:
    pct = (t.ratio - 1.0) * 100
    return (
        f"{inert(_run_name(t))}: {t.old_images_per_second:,.0f} → "
        f"{t.new_images_per_second:,.0f} img/s ({pct:+.1f} %, noise ±{t.threshold * 100:.1f} %)"
    )


def _package_text(a: PackageAction) -> str:
    versions = (
        f"{a.old_version} → {a.new_version}"
        if a.old_version and a.new_version
        else a.new_version or a.old_version or ""
    )
    how = f"; by {a.command}" if a.command else ""
    return inert(f"{a.when} {a.action} {a.package} {versions} ({a.source}{how})")


def _summary(diff: Diff) -> str:
    if not diff.changed:
        return "No change." if not diff.notes else "No change in what both sides recorded."
    counts = []
    if diff.facts:
        counts.append(f"{len(diff.facts)} fact(s)")
    if diff.findings:
        counts.append(f"{len(diff.findings)} finding(s)")
    if diff.throughput:
        counts.append(f"{len(diff.throughput)} throughput figure(s)")
    return "Changed: " + ", ".join(counts) + "."


def render_text(diff: Diff) -> str:
    """The terminal form: what changed, grouped, what matters first."""
    out = ["gpudoctor diff", _side_line("OLD", diff.old), _side_line("NEW", diff.new)]
    if diff.other_machine:
        out += ["", f"! {inert(diff.other_machine)}: differences may be the machines', not changes"]
    for name, title in GROUPS:
        changes = diff.in_group(name)
        if changes:
            out += ["", title]
            out += [f"  {_MARK[c.change]} {_fact_text(c)}" for c in changes]
    if diff.findings:
        out += ["", "Findings"]
        out += [
            f"  {_MARK[f.change]} {f.id} ({_severity_text(f)}) {inert(f.title)}"
            + (" (went away)" if f.change is Change.GONE else "")
            for f in diff.findings
        ]
    if diff.throughput or diff.within_noise:
        out += ["", "Throughput"]
        out += [f"  {'↑' if t.ratio > 1 else '↓'} {_run_text(t)}" for t in diff.throughput]
        out.append(f"  {diff.within_noise} run(s) within the noise ({NOISE_RULE})")
    if diff.packages:
        out += ["", "Package actions between OLD and NEW"]
        out += [f"  {_package_text(a)}" for a in diff.packages]
    if diff.notes:
        out += ["", "Notes"]
        out += [f"  {inert(n)}" for n in diff.notes]
    out += ["", _summary(diff)]
    return "\n".join(out) + "\n"


def _md_side(word: str, side: Side) -> str:
    return f"- **{word}**: {escape(_side_line(word, side).split(': ', 1)[1])}"


def render_markdown(diff: Diff) -> str:
    """For a ticket: the same content as the text, as headings and tables."""
    out = ["## gpudoctor diff", "", _md_side("OLD", diff.old), _md_side("NEW", diff.new)]
    if diff.other_machine:
        out += [
            "",
            f"> **Note:** {escape(diff.other_machine)}: differences may be the "
            "machines', not changes",
        ]
    for name, title in GROUPS:
        changes = diff.in_group(name)
        if changes:
            out += ["", f"### {title}", "", "| | Fact | OLD | NEW |", "|---|---|---|---|"]
            out += [
                f"| {_MARK[c.change]} | {escape(c.label)} | {escape(c.old or '-')} | "
                f"{escape(c.new or '-')} |"
                for c in changes
            ]
    if diff.findings:
        out += ["", "### Findings", "", "| | ID | Severity | Title |", "|---|---|---|---|"]
        out += [
            f"| {_FINDING_WORD[f.change]} | {escape(f.id)} | {_severity_text(f)} | "
            f"{escape(f.title)} |"
            for f in diff.findings
        ]
    if diff.throughput or diff.within_noise:
        out += ["", "### Throughput", ""]
        if diff.throughput:
            out += ["| Run | OLD img/s | NEW img/s | Change | Noise |", "|---|---:|---:|---:|---:|"]
            out += [
                f"| {escape(_run_name(t))} | {t.old_images_per_second:,.0f} | "
                f"{t.new_images_per_second:,.0f} | {(t.ratio - 1) * 100:+.1f} % | "
                f"±{t.threshold * 100:.1f} % |"
                for t in diff.throughput
            ]
            out.append("")
        out.append(f"{diff.within_noise} run(s) within the noise ({escape(NOISE_RULE)}).")
    if diff.packages:
        out += ["", "### Package actions between OLD and NEW", ""]
        out += [f"- {escape(_package_text(a))}" for a in diff.packages]
    if diff.notes:
        out += ["", "### Notes", ""]
        out += [f"- {escape(n)}" for n in diff.notes]
    out += ["", f"**{_summary(diff)}**"]
    return "\n".join(out) + "\n"


def _side_dict(side: Side) -> dict[str, Any]:
    return {
        "label": side.label,
        "created_at": side.created_at,
        "gpudoctor_version": side.gpudoctor_version,
        "verdict": side.verdict,
        "host": side.host,
        "machine": side.machine,
        "checked": side.checked,
        "measured": side.measured,
    }


def diff_to_dict(diff: Diff) -> dict[str, Any]:
    """The versioned JSON form (docs/diff-schema.json)."""
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "tool": "gpudoctor diff",
        "gpudoctor_version": __version__,
        "changed": diff.changed,
        "old": _side_dict(diff.old),
        "new": _side_dict(diff.new),
        "other_machine": diff.other_machine,
        "facts": [
            {
                "key": c.key,
                "group": c.group,
                "label": c.label,
                "change": c.change.value,
                "old": c.old,
                "new": c.new,
            }
            for c in diff.facts
        ],
        "findings": [
            {
                "id": f.id,
                "severity": f.severity.label,
                "old_severity": f.old_severity.label if f.old_severity is not None else None,
                "title": f.title,
                "change": f.change.value,
            }
            for f in diff.findings
        ],
        "throughput": {
            "noise_rule": NOISE_RULE,
            "within_noise": diff.within_noise,
            "changes": [
                {
                    "framework": t.framework,
                    "model": t.model,
                    "device": t.device,
                    "device_name": t.device_name,
                    "mode": t.mode,
                    "precision": t.precision,
                    "batch_size": t.batch_size,
                    "layout": t.layout,
                    "old_images_per_second": t.old_images_per_second,
                    "new_images_per_second": t.new_images_per_second,
                    "ratio": t.ratio,
                    "threshold": t.threshold,
                }
                for t in diff.throughput
            ],
        },
        "packages": [
            {
                "when": a.when,
                "action": a.action,
                "package": a.package,
                "old_version": a.old_version,
                "new_version": a.new_version,
                "command": a.command,
                "source": a.source,
            }
            for a in diff.packages
        ],
        "notes": list(diff.notes),
    }


def render_json(diff: Diff) -> str:
    """The JSON document as text (never NaN or Infinity)."""
    return dumps_json(diff_to_dict(diff))


def _text(diff: Diff, *, color: bool = False) -> str:
    return render_text(diff)


def _json(diff: Diff, *, color: bool = False) -> str:
    return render_json(diff)


def _markdown(diff: Diff, *, color: bool = False) -> str:
    return render_markdown(diff)


RENDERERS: dict[str, Callable[..., str]] = {"text": _text, "json": _json, "markdown": _markdown}
