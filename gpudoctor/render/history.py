"""`gpudoctor history`: the kept reports, newest first, as a table or JSON; only formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpudoctor import __version__
from gpudoctor.model.history import Entry, HistoryListing
from gpudoctor.model.inert import inert as _inert
from gpudoctor.model.serialize import dumps_json

HISTORY_JSON_VERSION = 1


def inert(text: str | None) -> str:
    return _inert(text or "-", one_line=True, limit=200)


def _when(created_at: str) -> str:
    """``2026-12-07 04:02 UTC`` from ``2026-12-07T04:02:27Z``."""
    return created_at[:16].replace("T", " ") + " UTC" if len(created_at) >= 16 else created_at


def _row(i: int, e: Entry, good: tuple[str, ...]) -> list[str]:
    mark = " *" if e.name in good else ""
    what = "; ".join(e.summary.frameworks) if e.kind == "check" else e.summary.throughput
    return [
        str(i),
        _when(e.created_at),
        e.kind,
        f"{e.verdict}{mark}",
        e.summary.driver or "-",
        what or "-",
    ]


def render_text(listing: HistoryListing) -> str:
    """One line per entry: number, date, kind, verdict (``*`` last good), driver, frameworks or
    the throughput headline; then what `diff` takes."""
    out = [f"gpudoctor history: {inert(listing.folder)}"]
    if not listing.enabled:
        out.append("(keeping is off: GPUDOCTOR_NO_HISTORY is set)")
    if not listing.entries:
        out.append(
            "no reports kept yet: `gpudoctor check` and `gpudoctor verify` keep one each run"
        )
    else:
        rows = [["#", "date", "kind", "verdict", "driver", "frameworks / throughput"]]
        rows += [_row(i, e, listing.last_good) for i, e in enumerate(listing.entries, 1)]
        rows = [[inert(cell) for cell in row] for row in rows]
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
            out.append("  ".join([*cells, row[-1]]).rstrip())
        out.append("")
        out.append(_how_to_compare(listing.entries, bool(listing.last_good)))
    out += [f"! {inert(p)}" for p in listing.problems]
    return "\n".join(out) + "\n"


def _how_to_compare(entries: tuple[Entry, ...], any_good: bool) -> str:
    """What `diff` takes, with numbers and a date this history holds, so that each runs
    (without a good report, plain `gpudoctor diff`, last good against now, has nothing)."""
    pair = f"`gpudoctor diff {min(len(entries), 3)} 1`, " if len(entries) > 1 else ""
    day = inert(entries[-1].created_at[:10])  # the oldest listed entry's day
    first = (
        "* the last good report of its kind. Compare with `gpudoctor diff` (last good against now)"
        if any_good
        else "No report here is good yet. Compare with `gpudoctor diff 1` (the newest against now)"
    )
    return f"{first}, {pair}or a date: `gpudoctor diff {day}`."


def history_to_dict(listing: HistoryListing) -> dict[str, Any]:
    """The JSON form (docs/history.md describes it)."""
    return {
        "schema_version": HISTORY_JSON_VERSION,
        "tool": "gpudoctor history",
        "gpudoctor_version": __version__,
        "folder": listing.folder,
        "enabled": listing.enabled,
        "entries": [
            {
                "index": i,
                "file": e.name,
                "created_at": e.created_at,
                "kind": e.kind,
                "verdict": e.verdict,
                "good": e.good,
                "last_good": e.name in listing.last_good,
                "driver": e.summary.driver,
                "frameworks": list(e.summary.frameworks),
                "throughput": e.summary.throughput,
            }
            for i, e in enumerate(listing.entries, 1)
        ],
        "problems": list(listing.problems),
    }


def _text(listing: HistoryListing, *, color: bool = False) -> str:
    return render_text(listing)


def _json(listing: HistoryListing, *, color: bool = False) -> str:
    return dumps_json(history_to_dict(listing))


RENDERERS: dict[str, Callable[..., str]] = {"text": _text, "json": _json}
