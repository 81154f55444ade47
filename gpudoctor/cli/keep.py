"""Keeping each check and verify report in the history folder: never fatal, one info line."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gpudoctor.cli.options import NonEmptyPath

if TYPE_CHECKING:
    from gpudoctor.model.findings import Diagnosis
    from gpudoctor.model.report import Report

F = Callable[..., Any]


def history_dir_option(fn: F) -> F:
    """``--history-dir``: where history is kept (default: $GPUDOCTOR_HISTORY_DIR, else
    $XDG_STATE_HOME/gpudoctor/history)."""
    return click.option(
        "--history-dir",
        "history_dir",
        type=NonEmptyPath(file_okay=False, path_type=Path),
        default=None,
        help="Where the history of reports is kept. Default: $GPUDOCTOR_HISTORY_DIR, else "
        "$XDG_STATE_HOME/gpudoctor/history (~/.local/state/gpudoctor/history).",
    )(fn)


def no_history_option(fn: F) -> F:
    """``--no-history``: do not keep this run's report (GPUDOCTOR_NO_HISTORY=1 does the same)."""
    return click.option(
        "--no-history",
        is_flag=True,
        help="Do not keep this report in the history (GPUDOCTOR_NO_HISTORY=1 does the same).",
    )(fn)


def folder(history_dir: Path | None) -> Path:
    """The history folder the options and environment name."""
    from gpudoctor.history.store import default_folder

    return history_dir if history_dir is not None else default_folder(os.environ)


def keeping(no_history: bool) -> bool:
    """Whether this run keeps its report."""
    from gpudoctor.history.store import disabled

    return not no_history and not disabled(os.environ)


def _hostname() -> str:
    return socket.gethostname()


def _info(where: Path, exc: OSError) -> None:
    why = exc.strerror or str(exc) or type(exc).__name__
    from gpudoctor.cli.files import shown

    click.echo(f"gpudoctor: info: report not kept in the history ({shown(where)}: {why})", err=True)


def user_names() -> tuple[str, ...]:
    import getpass

    try:
        return (getpass.getuser(),)
    except (KeyError, OSError):
        return ()


def compact_json(doc: Any) -> str:
    """JSON without indentation (a kept report is read by gpudoctor, not by people), and never
    NaN: a measured NaN becomes null, as in every JSON gpudoctor writes."""
    import json

    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the slow, careful path
        from gpudoctor.model.serialize import finite_json

        return json.dumps(finite_json(doc), separators=(",", ":"), allow_nan=False)


def keep_check(report: Report, diagnosis: Diagnosis, history_dir: Path | None) -> None:
    """Keep a check report, redacted as check's JSON is, with today's findings."""
    from gpudoctor.history.select import this_machine
    from gpudoctor.history.store import record
    from gpudoctor.model.facts import framework_build
    from gpudoctor.model.findings import Severity
    from gpudoctor.model.history import Summary
    from gpudoctor.model.redact import redacted_document

    where = folder(history_dir)
    try:
        doc = redacted_document(report, diagnosis, user_names=user_names())
        summary = Summary(
            driver=report.nvml.driver_version or report.driver.module_version,
            frameworks=tuple(f"{fw.name} {framework_build(fw)}" for fw in report.frameworks),
        )
        record(
            where,
            kind="check",
            document_json=compact_json(doc),
            verdict=diagnosis.worst.label,
            good=diagnosis.worst < Severity.ERROR,
            summary=summary,
            machine=this_machine(_hostname()),
        )
    except OSError as exc:  # a read-only or full disk, no permission: never the check's fault
        _info(where, exc)


def keep_verify(document_json: str, verdict: str, history_dir: Path | None) -> None:
    """Keep a verify result (its JSON), with host and user names scrubbed as a report's are."""
    import json

    from gpudoctor.history.select import this_machine
    from gpudoctor.history.store import record
    from gpudoctor.model.diff import headline_throughput, samples_from_verify
    from gpudoctor.model.history import Summary
    from gpudoctor.model.redact import redact_document

    where = folder(history_dir)
    try:
        data = json.loads(document_json)
        host = _hostname()
        data = redact_document(data, hostname=host, user_names=user_names())
        samples = samples_from_verify(data, "verify")
        record(
            where,
            kind="verify",
            document_json=compact_json(data),
            verdict=verdict,
            good=verdict != "fail",
            summary=Summary(throughput=headline_throughput(samples)),
            machine=this_machine(host),
        )
    except OSError as exc:
        _info(where, exc)
