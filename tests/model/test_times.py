"""Reading back the times gpudoctor's documents write, as Python 3.10 would too."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gpudoctor.fleet import aggregate
from gpudoctor.model import times
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import NodeStack, NodeSummary
from gpudoctor.model.times import utc_moment


class _Python310(datetime):
    """datetime as Python 3.10 reads ISO 8601: no trailing Z (3.11 added it)."""

    @classmethod
    def fromisoformat(cls, date_string: str) -> datetime:
        if date_string.endswith("Z"):
            raise ValueError(f"Invalid isoformat string: {date_string!r}")
        return datetime.fromisoformat(date_string)


def test_a_time_with_z_or_an_offset_is_read_in_utc() -> None:
    assert utc_moment("2026-12-07T04:05:06Z") == datetime(2026, 12, 7, 4, 5, 6, tzinfo=timezone.utc)
    assert utc_moment("2026-12-07T05:05:06+01:00") == utc_moment("2026-12-07T04:05:06Z")
    assert utc_moment("2026-12-07T04:05:06") is None  # no time zone: not guessed
    assert utc_moment("yesterday") is None and utc_moment("") is None and utc_moment(None) is None


def test_the_fleets_check_span_reads_z_times_under_python_3_10(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the span was read with datetime.fromisoformat(stamp): on 3.10 every 'Z' time was
    # unreadable, so the report said nothing of when its nodes were checked or which were stale
    monkeypatch.setattr(times, "datetime", _Python310)
    nodes = [
        NodeSummary(node=n, verdict=Severity.OK, finding_ids=(), stack=NodeStack(), checked_at=at)
        for n, at in (("a", "2026-12-01T02:00:00Z"), ("b", "2026-12-04T11:50:00Z"))
    ]
    span = aggregate.check_span(nodes)
    assert span is not None
    assert (span.oldest, span.newest, span.stale) == (
        "2026-12-01T02:00:00Z",
        "2026-12-04T11:50:00Z",
        ("a",),
    )


def test_a_time_is_written_in_utc_with_a_z():
    from datetime import datetime, timedelta, timezone

    from gpudoctor.model.times import utc_moment, utc_stamp

    east = datetime(2026, 12, 8, 5, 4, 3, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert utc_stamp(east) == "2026-12-08T03:04:03Z"
    assert utc_moment(utc_stamp(east)) == east.replace(microsecond=0)
