"""`gpudoctor history`: the reports check and verify kept on this machine, newest first."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gpudoctor.cli.files import check_output, emit, is_stdout
from gpudoctor.cli.formats import HISTORY
from gpudoctor.cli.keep import folder, history_dir_option
from gpudoctor.cli.options import (
    debug_option,
    force_option,
    format_option,
    output_option,
    refuse_force_without_output,
)


@click.command("history")
@format_option("text for people, json for machines.", HISTORY.formats, from_suffix=True)
@output_option
@force_option
@history_dir_option
@debug_option
def command(fmt: str | None, output: Path | None, force: bool, history_dir: Path | None) -> int:
    """List the kept reports: date, kind, verdict (* the last good one), driver, frameworks
    or the throughput headline. `gpudoctor diff` compares any two of them by number or date.
    """
    from gpudoctor.history.select import last_good_names
    from gpudoctor.history.store import disabled, listing
    from gpudoctor.model.history import HistoryListing

    refuse_force_without_output(force)
    if is_stdout(output):
        output = None
    fmt = HISTORY.resolve(fmt, output)
    if output is not None:
        check_output(output, force=force)
    if history_dir is not None and not history_dir.exists():
        from gpudoctor.cli.files import shown as escaped
        from gpudoctor.errors import BadInputError

        # A folder named on the command line and absent is a typo more often than a new
        # machine: 'no reports kept yet' (exit 0) hid it. The default folder may not exist yet.
        raise BadInputError(f"--history-dir {escaped(history_dir)}: no such folder")
    where = folder(history_dir)
    entries, problems = listing(where)
    good = last_good_names(where, entries)
    shown = HistoryListing(
        folder=str(where),
        entries=tuple(entries),
        last_good=good,
        problems=tuple(problems),
        enabled=not disabled(os.environ),
    )
    emit(HISTORY.render(fmt, shown), output, force=force)
    return 0
