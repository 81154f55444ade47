"""docs/history.md's `gpudoctor history` sample is what the renderer writes for its entries."""

from __future__ import annotations

import re
from pathlib import Path

from gpudoctor.model.history import Entry, HistoryListing, Summary
from gpudoctor.render.history import render_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "history.md"


def _sample() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### `gpudoctor history`", 1)[1]
    return section.split("```\n", 1)[1].split("```", 1)[0]


def _listing(sample: str) -> HistoryListing:
    """The entries the sample's rows show, as the history would hand them to the renderer."""
    lines = sample.splitlines()
    folder = lines[0].removeprefix("gpudoctor history: ")
    entries, good = [], []
    for line in lines[2:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        _, when, kind, verdict, driver, what = cells
        name = f"{when}.{kind}"
        if verdict.endswith(" *"):
            verdict = verdict.removesuffix(" *")
            good.append(name)
        summary = (
            Summary(driver=None if driver == "-" else driver, frameworks=(what,))
            if kind == "check"
            else Summary(throughput=what)
        )
        created = when.removesuffix(" UTC").replace(" ", "T") + ":00Z"
        entries.append(
            Entry(
                name=name,
                kind=kind,
                created_at=created,
                verdict=verdict,
                good=verdict in ("ok", "pass", "warning", "warn"),
                summary=summary,
            )
        )
    return HistoryListing(folder=folder, entries=tuple(entries), last_good=tuple(good))


def test_the_pages_history_sample_is_what_history_prints_for_its_entries() -> None:
    sample = _sample()
    assert render_text(_listing(sample)) == sample
