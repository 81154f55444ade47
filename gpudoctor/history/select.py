"""Which snapshot a `diff` argument names: a history entry (index, date, last-good) or a file."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, ReportFormatError
from gpudoctor.history.store import HistoryError, last_good, listing, read_entry
from gpudoctor.model import serialize
from gpudoctor.model.diff import Side, ThroughputSample, samples_from_verify
from gpudoctor.model.history import Entry
from gpudoctor.model.report import Report
from gpudoctor.model.times import utc_stamp
from gpudoctor.userfiles.read import read_capped

LAST_GOOD = "last-good"
LATEST = "latest"
NOW = "now"
_DATE = re.compile(r"^\d{4}-\d\d(?:-\d\d(?:[T ]\d\d(?::\d\d(?::\d\d)?)?)?)?Z?$", re.ASCII)


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """One side of a diff: its description, its check report and its timed runs."""

    side: Side
    report: Report | None = None
    samples: tuple[ThroughputSample, ...] = ()
    verdict_findings: tuple[tuple[str, str, str], ...] = ()
    """(id, severity word, title) as the report recorded them (shown when rules are absent)."""


def fingerprint(hostname: str, machine_id: str | None) -> str:
    """A stable name for this machine that says nothing about it: kept in history entries so
    that a redacted report still tells whether two entries come from one machine."""
    seed = (machine_id or "").strip() or hostname
    return hashlib.sha256(f"gpudoctor-history:{seed}".encode()).hexdigest()[:16]


def this_machine(hostname: str) -> str:
    """This machine's fingerprint, from /etc/machine-id (systemd's) or else its host name."""
    try:
        raw = read_capped(Path("/etc/machine-id"), limit=4096, what="machine id")
        machine_id: str | None = raw.decode("ascii", "replace")
    except BadInputError:
        machine_id = None
    return fingerprint(hostname, machine_id)


def is_history_selector(text: str) -> bool:
    """Whether ``text`` reads as a history selector rather than a file name."""
    return text in (LAST_GOOD, LATEST) or _number(text) or bool(_DATE.match(text))


def _number(text: str) -> bool:
    """An entry number as `history` prints it: ASCII digits (``str.isdigit`` also takes ``١``)."""
    return text.isascii() and text.isdigit()


def find_entry(folder: Path, selector: str) -> Entry:
    """The entry ``selector`` names: ``last-good``, ``latest``, ``N`` (1 is the newest, as
    `gpudoctor history` numbers them) or a date or time prefix (the newest entry it matches)."""
    if selector not in (LAST_GOOD, LATEST) and not _number(selector):
        _check_date(selector, selector.replace(" ", "T").removesuffix("Z"))
    entries, problems = listing(folder)
    if not entries:
        if problems:
            raise HistoryError(f"no readable history entry in {folder}: {problems[0]}")
        raise HistoryError(
            f"no history in {folder}: `gpudoctor check` and `verify` keep one once they run"
        )
    if selector == LAST_GOOD:
        name = _last_good(folder, entries)
        if name is None:
            raise HistoryError(
                f"no good report in the history ({folder}) yet: compare the newest entry "
                "with now, `gpudoctor diff 1`, or two entries by number (`gpudoctor history`)"
            )
        return read_entry(folder, name)
    if selector == LATEST:
        return read_entry(folder, entries[0].name)
    if _number(selector):
        index = int(selector)
        if not 1 <= index <= len(entries):
            held = "one entry, 1" if len(entries) == 1 else f"entries 1 to {len(entries)}"
            raise HistoryError(f"history has {held}, not {selector}")
        return read_entry(folder, entries[index - 1].name)
    prefix = selector.replace(" ", "T").removesuffix("Z")
    for entry in entries:  # newest first
        if entry.created_at.startswith(prefix):
            return read_entry(folder, entry.name)
    oldest, newest = entries[-1].created_at, entries[0].created_at
    raise HistoryError(f"no history entry at {selector} (the history spans {oldest} to {newest})")


def _last_good(folder: Path, entries: list[Entry]) -> str | None:
    """This machine's newest good check (else verify); without one, the folder's mark.

    A home folder shared by several machines (NFS) holds all their entries, and the mark names
    whichever machine was good last: against this machine now, only its own good report is
    what it was. Read from the entries, so a mark lost or pointing at a damaged entry is no
    loss either.
    """
    here = this_machine(socket.gethostname())
    return (
        _mine(entries, "check", here)
        or _mine(entries, "verify", here)
        or last_good(folder, "check")
        or last_good(folder, "verify")
    )


def _mine(entries: list[Entry], kind: str, here: str) -> str | None:
    """The newest good entry of ``kind`` this machine made."""
    for entry in entries:  # newest first
        if entry.kind == kind and entry.good and entry.machine == here:
            return entry.name
    return None


def last_good_names(folder: Path, entries: list[Entry]) -> tuple[str, ...]:
    """The entries `history` marks ``*``: per kind, this machine's last good one, else the
    folder's mark (what `diff last-good` takes)."""
    here = this_machine(socket.gethostname())
    found = (_mine(entries, kind, here) or last_good(folder, kind) for kind in ("check", "verify"))
    return tuple(name for name in found if name is not None)


def _check_date(selector: str, prefix: str) -> None:
    """Refuse a date or time that no calendar has (month 13, hour 25), instead of "no entry"."""
    padded = prefix + "0001-01-01T00:00:00"[len(prefix) :]
    try:
        datetime.strptime(padded, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise HistoryError(
            f"{selector} is not a date or time (YYYY-MM-DD[ HH[:MM[:SS]]])"
        ) from None


def _companion(folder: Path, entry: Entry, kind: str) -> Entry | None:
    """The newest entry of ``kind`` made at or before ``entry`` on its machine (its check, or
    its timings): in a history shared by several machines, another's are not this one's."""
    entries, _ = listing(folder)
    for other in entries:
        if (
            other.kind == kind
            and other.created_at <= entry.created_at
            and other.machine == entry.machine
        ):
            try:
                return read_entry(folder, other.name)
            except HistoryError:
                return None
    return None


def newest_verify(folder: Path, *, after: str | None) -> tuple[tuple[ThroughputSample, ...], str]:
    """The timed runs of this machine's newest readable verify entry made after ``after`` (and
    its time), for a NEW that is a check now; none when there is no such entry."""
    entries, _ = listing(folder)
    here = this_machine(socket.gethostname())
    for entry in entries:
        if entry.kind != "verify" or (after is not None and entry.created_at <= after):
            continue
        if entry.machine != here:  # a history shared by several machines (NFS home)
            continue
        try:
            return _samples(read_entry(folder, entry.name)), entry.created_at
        except HistoryError:
            continue
    return (), ""


def from_history(folder: Path, selector: str, label: str) -> Snapshot:
    """The snapshot a history selector names; a check entry takes the timings of the newest
    verify entry before it, and a verify entry the newest check before it."""
    entry = find_entry(folder, selector)
    other = _companion(folder, entry, "verify" if entry.kind == "check" else "check")
    check, verify = (entry, other) if entry.kind == "check" else (other, entry)
    report = _report(check) if check is not None else None
    samples = _samples(verify) if verify is not None else ()
    borrowed = ""
    if other is not None and entry.kind == "verify":
        borrowed = f" (facts from the check of {other.created_at})"
    elif other is not None and samples:
        borrowed = f" (timings from the verify of {other.created_at})"
    side = Side(
        label=f"{label}: history {entry.created_at} ({entry.kind}, {entry.verdict}){borrowed}",
        created_at=entry.created_at,
        gpudoctor_version=report.gpudoctor_version if report else None,
        verdict=entry.verdict,
        host=report.host.hostname if report else None,
        machine=entry.machine,
        checked=report is not None,
        measured=bool(samples),
    )
    return Snapshot(
        side=side,
        report=report,
        samples=samples,
        verdict_findings=_findings(check.document) if check else (),
    )


def _report(entry: Entry) -> Report:
    try:
        return serialize.report_from_data(entry.document, f"history entry {entry.name}")
    except ReportFormatError as exc:
        raise HistoryError(str(exc)) from None


def _samples(entry: Entry) -> tuple[ThroughputSample, ...]:
    try:
        return samples_from_verify(entry.document or {}, f"history entry {entry.name}")
    except ReportFormatError as exc:
        raise HistoryError(str(exc)) from None


def _findings(doc: dict[str, Any] | None) -> tuple[tuple[str, str, str], ...]:
    items = (doc or {}).get("findings")
    if not isinstance(items, list):
        return ()
    return tuple(
        (str(f.get("id")), str(f.get("severity")), str(f.get("title")))
        for f in items[:500]
        if isinstance(f, dict)
    )


MAX_FILE_BYTES = serialize.MAX_REPORT_BYTES


def from_file(path: Path) -> Snapshot:
    """A check report (``check --format json``) or a verify result (``verify --format json``),
    known by its content; anything else is one line of bad input naming what it is."""
    raw = read_capped(path, limit=MAX_FILE_BYTES, what="report")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # Not JSON: the report parser says what it is (check's text output, a conda file...).
        report = serialize.report_from_bytes(raw, str(path))
        data = None
    # A history entry named as a file (copied out of the folder, sent on): what it keeps, and
    # the machine fingerprint that tells whether two redacted reports come from one machine.
    machine = data.get("machine") if isinstance(data, dict) else None
    kept = serialize.kept_document(data)
    machine = machine if kept is not data and isinstance(machine, str) else None
    data = kept
    if isinstance(data, dict) and data.get("tool") == "gpudoctor verify":
        samples = samples_from_verify(data, str(path))
        verdict, version = data.get("verdict"), data.get("gpudoctor_version")
        side = Side(
            label=f"{path.name} (verify)",
            created_at=_utc(data.get("started_at")),
            gpudoctor_version=version if isinstance(version, str) else None,
            verdict=verdict if isinstance(verdict, str) else None,
            machine=machine,
            checked=False,
            measured=bool(samples),
        )
        return Snapshot(side=side, samples=samples)
    if data is not None:
        report = serialize.report_from_data(data, str(path))
    verdict = data.get("verdict") if isinstance(data, dict) else None
    side = Side(
        label=path.name,
        created_at=report.created_at,
        gpudoctor_version=report.gpudoctor_version,
        verdict=verdict if isinstance(verdict, str) else None,
        host=report.host.hostname,
        machine=machine,
    )
    return Snapshot(side=side, report=report, verdict_findings=_findings(data))


def _utc(stamp: object) -> str | None:
    """A verify result's ``started_at`` as every other side's time is written
    (``2026-12-04T16:31:53Z``): verify wrote ``+00:00`` before 2026-12-07, and a diff's JSON
    held both forms side by side."""
    if not isinstance(stamp, str):
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None or when.utcoffset() is None:
        return stamp
    return utc_stamp(when)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
