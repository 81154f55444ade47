"""The rows of gpudoctor's data files (knowledge base, verify figures): keys, source, date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, KnowledgeBaseError
from gpudoctor.tomlcompat import tomllib

PLATFORMS = ("linux-64", "linux-aarch64", "win-64")
SOURCED = frozenset({"source", "as_of", "verified", "note"})
"""The provenance keys every row may carry."""

Table = Mapping[str, Any]


def keys(
    row: Table, where: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> None:
    """Refuse a row that lacks a required key or has an unknown one."""
    missing = required - row.keys()
    if missing:
        raise KnowledgeBaseError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = row.keys() - required - optional
    if unknown:
        raise KnowledgeBaseError(f"{where}: unknown key {', '.join(sorted(unknown))}")


def sourced(row: Table, where: str) -> dict[str, Any]:
    """The row's ``source``, ``as_of``, ``verified`` and ``note``, checked."""
    source, as_of = row.get("source"), row.get("as_of")
    if not isinstance(source, str) or not source.strip():
        raise KnowledgeBaseError(f"{where}: every row needs a non-empty source")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise KnowledgeBaseError(f"{where}: as_of must be a date like 2026-09-01")
    verified = row.get("verified", True)
    if not isinstance(verified, bool):
        raise KnowledgeBaseError(f"{where}: verified must be true or false")
    return {"source": source, "as_of": as_of, "verified": verified, "note": row.get("note", "")}


def check(where: str, parse: Any, *values: str | None) -> None:
    """Run a version parser over ``values``; a BadInputError becomes a KnowledgeBaseError."""
    for value in values:
        if value is None:
            continue
        try:
            parse(value)
        except BadInputError as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None


def read(path: Path) -> dict[str, Any]:
    """One data file as a dict."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None
