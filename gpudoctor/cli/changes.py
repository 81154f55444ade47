"""What changed: the diff of two snapshots as `diff` and `check --since-last-good` build it."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from gpudoctor.cli.formats import DIFF
from gpudoctor.cli.keep import folder

if TYPE_CHECKING:
    from gpudoctor.history.select import Snapshot
    from gpudoctor.kb.knowledge import KnowledgeBase
    from gpudoctor.model.diff import Diff
    from gpudoctor.model.findings import Diagnosis, Severity
    from gpudoctor.model.report import Report


def _findings(report: Report | None, knowledge: KnowledgeBase) -> list[tuple[str, Severity, str]]:
    from gpudoctor.rules import diagnose

    if report is None:
        return []
    return [(f.id, f.severity, f.title) for f in diagnose(report, knowledge).findings]


def _alike(snap: Snapshot, other: Snapshot | None = None) -> Snapshot:
    """``snap`` redacted when ``other`` is (history keeps redacted reports; now is not): a
    home folder spelled ``/home/<user>`` on one side only is no change."""
    from dataclasses import replace

    from gpudoctor.cli.keep import user_names
    from gpudoctor.model.redact import redact

    if other is None or snap.report is None or other.report is None:
        return snap
    if other.report.redacted and not snap.report.redacted:
        report = redact(snap.report, user_names=user_names())
        # the side's host too: a diff for a ticket (JSON, Markdown) names no host on one side
        return replace(snap, report=report, side=replace(snap.side, host=report.host.hostname))
    return snap


def _without_frameworks(report: Report) -> Report:
    """``report`` as `check --no-frameworks` would have written it: no framework, their probes
    skipped. When one side did not probe the frameworks, the other is judged so too: its
    framework findings (and those other lines draw from a framework, GD-CUDA-012) are no
    change, as its framework facts are not."""
    from dataclasses import replace

    names = {fw.name for fw in report.frameworks}
    probes = tuple(
        replace(p, status="skipped", duration_s=0.0, message="--no-frameworks")
        if p.name in names
        else p
        for p in report.probes
    )
    return replace(report, frameworks=(), probes=probes)


def build(
    old: Snapshot,
    new: Snapshot,
    knowledge: KnowledgeBase,
    *,
    new_diagnosis: Diagnosis | None = None,
) -> Diff:
    """The diff of two snapshots: both re-diagnosed with today's rules (so that a finding
    that appears is the machine's change, not the rules'), and the host's package actions
    between them when they are this machine's."""
    from dataclasses import replace

    from gpudoctor.history.select import this_machine
    from gpudoctor.model.diff import make_diff
    from gpudoctor.model.facts import report_facts
    from gpudoctor.probe.pkglog import package_actions

    here = this_machine(socket.gethostname())
    ours = here in (old.side.machine, new.side.machine)
    old, new = _alike(old, new), _alike(new, old)
    old_judged, new_judged = old.report, new.report
    if old_judged is not None and new_judged is not None:
        if old_judged.frameworks and not new_judged.frameworks:
            old_judged = _without_frameworks(old_judged)
        elif new_judged.frameworks and not old_judged.frameworks:
            new_judged, new_diagnosis = _without_frameworks(new_judged), None
    new_findings = (
        [(f.id, f.severity, f.title) for f in new_diagnosis.findings]
        if new_diagnosis is not None
        else _findings(new_judged, knowledge)
    )
    diff = make_diff(
        old.side,
        new.side,
        old_facts=report_facts(old.report) if old.report else (),
        new_facts=report_facts(new.report) if new.report else (),
        old_findings=_findings(old_judged, knowledge),
        new_findings=new_findings,
        old_samples=old.samples,
        new_samples=new.samples,
        actions=package_actions() if ours else (),
    )
    a, b = old.side.gpudoctor_version, new.side.gpudoctor_version
    if a and b and a != b:
        note = (
            f"OLD was written by gpudoctor {a}, NEW by {b}: a fact one of them did not record "
            "is unknown there, not a change"
        )
        diff = replace(diff, notes=(*diff.notes, note))
    return diff


def now_snapshot(
    where: Path, report: Report, diagnosis: Diagnosis, *, after: str | None
) -> Snapshot:
    """This machine now as a diff's NEW side: check's report and verdict, with the timings of
    the newest verify kept after ``after`` (OLD's time), which its label names. ``diff`` and
    ``check --since-last-good`` both take it."""
    from gpudoctor.history.select import Snapshot, newest_verify, this_machine
    from gpudoctor.model.diff import Side

    samples, when = newest_verify(where, after=after)
    side = Side(
        label="now" + (f" (timings from the verify of {when})" if when else ""),
        created_at=report.created_at,
        # check's verdict, as a history side has its own: diff's now side had null
        verdict=diagnosis.worst.label,
        gpudoctor_version=report.gpudoctor_version,
        host=report.host.hostname,
        machine=this_machine(socket.gethostname()),
        measured=bool(samples),
    )
    return Snapshot(side=side, report=report, samples=samples)


def since_last_good_text(
    text: str, fmt: str, report: Report, diagnosis: Diagnosis, history_dir: Path | None
) -> str:
    """check's output with what changed since the last good report under it (or why not)."""
    from gpudoctor import kb
    from gpudoctor.errors import BadInputError
    from gpudoctor.history.select import from_history

    where = folder(history_dir)
    try:
        old = from_history(where, "last-good", "last-good")
    except BadInputError as exc:
        why = str(exc)
        if fmt == "json":
            doc = json.loads(text)
            doc["since_last_good"] = {"error": why}
            from gpudoctor.model.serialize import dumps_json

            return dumps_json(doc)
        sep = "\n" if fmt == "text" else "\n### Since the last good report\n\n"
        return f"{text}{sep}since the last good report: {why}\n"
    now = now_snapshot(where, report, diagnosis, after=old.side.created_at)
    diff = build(old, now, kb.load(), new_diagnosis=diagnosis)
    if fmt == "json":
        from gpudoctor.model.serialize import dumps_json
        from gpudoctor.render.diff import diff_to_dict

        doc = json.loads(text)
        doc["since_last_good"] = diff_to_dict(diff)
        return dumps_json(doc)
    rendered = DIFF.render(fmt, diff)
    if fmt == "markdown":
        rendered = rendered.replace("## gpudoctor diff", "## Since the last good report", 1)
        return f"{text}\n{rendered}"
    return f"{text}\nSince the last good report:\n{rendered}"
