"""ISO 8601 times as gpudoctor's documents write them, read back (pure)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_stamp(when: datetime) -> str:
    """``2026-12-07T04:05:06Z``: how every gpudoctor document writes a time (check's
    ``created_at``, verify, history, diff, fleet, the kernel log's events), which jq's
    ``fromdateiso8601`` parses. A naive ``when`` is taken as local time."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_moment(stamp: str | None) -> datetime | None:
    """``2026-12-07T04:05:06Z`` (or ``+00:00``, or another offset) in UTC; None for a time that
    cannot be read (a report may say anything) or one without a time zone.

    The ``Z`` is replaced first: Python 3.10's ``fromisoformat`` refuses it, so a reader that
    relied on 3.11 read every report's time as unreadable there.
    """
    try:
        moment = datetime.fromisoformat((stamp or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else None
