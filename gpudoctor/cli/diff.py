"""`gpudoctor diff`: what changed between two reports, history entries, or the last good and now."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpudoctor.cli.files import check_output, emit, is_stdout
from gpudoctor.cli.formats import DIFF
from gpudoctor.cli.keep import folder, history_dir_option
from gpudoctor.cli.options import (
    FilePath,
    FiniteFloatRange,
    debug_option,
    force_option,
    format_option,
    output_option,
)
from gpudoctor.errors import ExitCode

if TYPE_CHECKING:
    from gpudoctor.history.select import Snapshot
    from gpudoctor.kb.knowledge import KnowledgeBase
    from gpudoctor.model.diff import Diff
    from gpudoctor.model.findings import Diagnosis, Severity
    from gpudoctor.model.report import Report


@click.command("diff")
@click.argument("old", required=False)
@click.argument("new", required=False)
@format_option(
    "text for people, json for machines (docs/diff-schema.json), markdown for tickets.",
    DIFF.formats,
    from_suffix=True,
)
@output_option
@force_option
@history_dir_option
@click.option(
    "--no-frameworks", is_flag=True, help="For NEW = now: skip the framework probes (fast)."
)
@click.option(
    "--python",
    "python_exe",
    type=FilePath(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="For NEW = now: inspect the frameworks of another interpreter.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=FiniteFloatRange(min=1.0, max=600.0),
    default=60.0,
    show_default=True,
    help="For NEW = now: seconds any one probe may take.",
)
@debug_option
def command(
    old: str | None,
    new: str | None,
    fmt: str | None,
    output: Path | None,
    force: bool,
    history_dir: Path | None,
    no_frameworks: bool,
    python_exe: Path | None,
    timeout_s: float,
) -> int:
    """Show what changed: driver, NVML and CUDA, GPUs, libraries, frameworks, findings, speed.

    OLD and NEW are saved reports (check or verify JSON), history entries (a number from
    `gpudoctor history`, 1 the newest; a date or time such as 2026-12-01; last-good; latest)
    or `now` (this machine, probed as check does). Default: last-good against now. Exit 0 when
    nothing changed, 1 when something did, 2 on bad input.
    """
    from gpudoctor import kb

    if is_stdout(output):
        output = None
    fmt = DIFF.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    where = folder(history_dir)
    knowledge = kb.load()
    old_snap = _snapshot(old or "last-good", "OLD", where)
    new_text = new or "now"
    if new_text == "now":
        new_snap = _now(
            where,
            python_exe,
            timeout_s=timeout_s,
            frameworks=not no_frameworks,
            after=old_snap.side.created_at,
        )
    else:
        new_snap = _snapshot(new_text, "NEW", where)
    diff = build(old_snap, new_snap, knowledge)
    if diff.other_machine:  # said before the diff, also when the diff goes to a file
        click.echo(f"gpudoctor diff: note: {diff.other_machine}", err=True)
    emit(DIFF.render(fmt, diff), output, force=force)
    return int(ExitCode.PROBLEMS if diff.changed else ExitCode.OK)


def _snapshot(text: str, label: str, where: Path) -> Snapshot:
    """A file when one is there by that name, else a history selector."""
    from gpudoctor.errors import BadInputError
    from gpudoctor.history.select import from_file, from_history, is_history_selector

    path = Path(text)
    if text == "now":
        raise BadInputError(f"{label} cannot be now: only NEW is measured now")
    if path.exists() or text == "-" or not is_history_selector(text):
        return from_file(path)
    return from_history(where, text, text)


def _now(
    where: Path, python_exe: Path | None, *, timeout_s: float, frameworks: bool, after: str | None
) -> Snapshot:
    """This machine now, probed as check does; the timings of the newest verify kept after OLD."""
    from gpudoctor.cli.check import _probed_report
    from gpudoctor.history.select import Snapshot, newest_verify, this_machine
    from gpudoctor.model.diff import Side

    report = _probed_report(python_exe, timeout_s=timeout_s, frameworks=frameworks)
    samples, when = newest_verify(where, after=after)
    label = "now" + (f" (timings from the verify of {when})" if when else "")
    side = Side(
        label=label,
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        gpudoctor_version=report.gpudoctor_version,
        host=report.host.hostname,
        machine=this_machine(socket.gethostname()),
        measured=bool(samples),
    )
    return Snapshot(side=side, report=report, samples=samples)


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
        return replace(snap, report=redact(snap.report, user_names=user_names()))
    return snap


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
    new_findings = (
        [(f.id, f.severity, f.title) for f in new_diagnosis.findings]
        if new_diagnosis is not None
        else _findings(new.report, knowledge)
    )
    diff = make_diff(
        old.side,
        new.side,
        old_facts=report_facts(old.report) if old.report else (),
        new_facts=report_facts(new.report) if new.report else (),
        old_findings=_findings(old.report, knowledge),
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


def since_last_good_text(
    text: str, fmt: str, report: Report, diagnosis: Diagnosis, history_dir: Path | None
) -> str:
    """check's output with what changed since the last good report under it (or why not)."""
    from gpudoctor import kb
    from gpudoctor.errors import BadInputError
    from gpudoctor.history.select import Snapshot, from_history, newest_verify, this_machine
    from gpudoctor.model.diff import Side

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
    samples, _ = newest_verify(where, after=old.side.created_at)
    now = Snapshot(
        side=Side(
            label="now",
            created_at=report.created_at,
            gpudoctor_version=report.gpudoctor_version,
            host=report.host.hostname,
            machine=this_machine(socket.gethostname()),
            measured=bool(samples),
        ),
        report=report,
        samples=samples,
    )
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


__all__ = ["build", "command", "since_last_good_text"]
