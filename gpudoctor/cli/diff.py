"""`gpudoctor diff`: what changed between two reports, history entries, or the last good and now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gpudoctor.cli.changes import build
from gpudoctor.cli.files import check_output, emit, is_stdout
from gpudoctor.cli.formats import DIFF
from gpudoctor.cli.keep import folder, history_dir_option
from gpudoctor.cli.options import (
    FilePath,
    FiniteFloatRange,
    debug_option,
    defaulted,
    force_option,
    format_option,
    output_option,
    refuse_force_without_output,
)
from gpudoctor.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from gpudoctor.history.select import Snapshot
    from gpudoctor.kb.knowledge import KnowledgeBase
    from gpudoctor.model.findings import Diagnosis


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

    refuse_force_without_output(force)
    if is_stdout(output):
        output = None
    fmt = DIFF.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    for label, given in (("OLD", old), ("NEW", new)):
        if given is not None and not given.strip():  # "$OLD" unset in a script
            also = " or now" if label == "NEW" else ""
            raise BadInputError(f"{label} is empty: give a report file or a history entry{also}")
    if old == "-" and new == "-":  # the second read found the pipe empty: "- is empty"
        raise BadInputError("OLD and NEW cannot both be - (standard input is read once)")
    if new is not None and new != "now":  # nothing is probed: these would be dropped unsaid
        for param, flag in (
            ("no_frameworks", "--no-frameworks"),
            ("python_exe", "--python"),
            ("timeout_s", "--timeout"),
        ):
            if not defaulted(param):
                raise BadInputError(
                    f"{flag} goes with NEW = now (this machine, probed as check does), "
                    f"not with NEW {new!r}"
                )
    if not defaulted("history_dir") and all(_is_file(side) for side in (old, new)):
        # two files read no history and borrow no timings: the folder would be dropped unsaid
        raise BadInputError(
            "--history-dir goes with a history entry or NEW = now: OLD and NEW are both files"
        )
    where = folder(history_dir)
    knowledge = kb.load()
    old_snap = _snapshot(old or "last-good", "OLD", where)
    new_text = new or "now"
    new_diagnosis = None
    if new_text == "now":
        new_snap, new_diagnosis = _now(
            where,
            python_exe,
            knowledge,
            timeout_s=timeout_s,
            frameworks=not no_frameworks,
            after=old_snap.side.created_at,
        )
    else:
        new_snap = _snapshot(new_text, "NEW", where)
    diff = build(old_snap, new_snap, knowledge, new_diagnosis=new_diagnosis)
    if diff.other_machine:  # said before the diff, also when the diff goes to a file
        click.echo(f"gpudoctor diff: note: {diff.other_machine}", err=True)
    emit(DIFF.render(fmt, diff), output, force=force)
    return int(ExitCode.PROBLEMS if diff.changed else ExitCode.OK)


def _is_file(side: str | None) -> bool:
    """Whether OLD or NEW as given is read as a file (``-`` too), as :func:`_snapshot` decides;
    left out, it is a history entry (OLD) or now (NEW)."""
    return side is not None and side != "now" and (side == "-" or Path(side).exists())


def _snapshot(text: str, label: str, where: Path) -> Snapshot:
    """A file when one is there by that name, else a history selector."""
    from gpudoctor.history.select import from_file, from_history, is_history_selector

    path = Path(text)
    if text == "now":
        raise BadInputError(f"{label} cannot be now: only NEW is measured now")
    if path.exists() or text == "-":
        return from_file(path)
    if not is_history_selector(text):
        raise BadInputError(
            f"{text}: no such file, nor a history entry ({label} takes a report file, a number"
            " as `gpudoctor history` lists them, a date like 2026-12-01, last-good or latest)"
        )
    return from_history(where, text, text)


def _now(
    where: Path,
    python_exe: Path | None,
    knowledge: KnowledgeBase,
    *,
    timeout_s: float,
    frameworks: bool,
    after: str | None,
) -> tuple[Snapshot, Diagnosis]:
    """This machine now, probed and judged as check does; the timings of the newest verify
    kept after OLD."""
    from gpudoctor.cli.changes import now_snapshot
    from gpudoctor.cli.check import _probed_report
    from gpudoctor.rules import diagnose

    report = _probed_report(python_exe, timeout_s=timeout_s, frameworks=frameworks)
    diagnosis = diagnose(report, knowledge)
    return now_snapshot(where, report, diagnosis, after=after), diagnosis


__all__ = ["command"]
