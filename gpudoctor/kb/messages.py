"""The failure-message catalogue (import_errors.toml): rows checked on load, and the matching."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

from gpudoctor.datarows import ROWS, TEXT, TEXTS, Table, shape, sourced, tables
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb.records import MESSAGE_CAUSES, MessageMatch, MessagePattern

MAX_MESSAGE = 2000
"""Characters of a message searched: the patterns look at a message's opening, and a report's
messages are bounded by the probes (a replayed report may hold anything)."""


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def message_patterns(data: Table, name: str) -> tuple[MessagePattern, ...]:
    """The ``[[message]]`` rows of ``name``, each checked: a pattern that compiles, a known
    cause, templates that name only the pattern's groups, a unique id."""
    tables(data, name, {"message": ROWS})
    rows: list[MessagePattern] = []
    seen: set[str] = set()
    for i, row in enumerate(data.get("message", [])):
        where = f"{name} message[{i}]"
        shape(
            row,
            where,
            {"id": TEXT, "pattern": TEXT, "cause": TEXT, "title": TEXT, "fix": TEXTS},
        )
        ident = row["id"]
        if not isinstance(ident, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", ident):
            raise KnowledgeBaseError(f"{where}: id must be lower-case words joined by '-'")
        if ident in seen:
            raise KnowledgeBaseError(f"{where}: duplicate id {ident}")
        seen.add(ident)
        if row["cause"] not in MESSAGE_CAUSES:
            raise KnowledgeBaseError(f"{where}: cause must be one of {', '.join(MESSAGE_CAUSES)}")
        try:
            compiled = re.compile(row["pattern"])
        except (re.error, TypeError) as exc:
            raise KnowledgeBaseError(f"{where}: pattern does not compile: {exc}") from None
        fix = row["fix"]
        if not isinstance(fix, list) or not fix or not all(isinstance(f, str) for f in fix):
            raise KnowledgeBaseError(f"{where}: fix must be a non-empty list of lines")
        title = row["title"]
        if not isinstance(title, str) or not title.strip():
            raise KnowledgeBaseError(f"{where}: title must be a non-empty string")
        for text in (title, *fix):
            try:
                unknown = _placeholders(text) - set(compiled.groupindex)
            except ValueError as exc:
                raise KnowledgeBaseError(f"{where}: bad template {text!r}: {exc}") from None
            if unknown:
                raise KnowledgeBaseError(
                    f"{where}: {', '.join(sorted(unknown))} is not a group of the pattern"
                )
        rows.append(
            MessagePattern(
                id=ident,
                pattern=row["pattern"],
                cause=row["cause"],
                title=title,
                fix=tuple(fix),
                **sourced(row, where),
            )
        )
    return tuple(rows)


def match_message(rows: Iterable[MessagePattern], message: str) -> MessageMatch | None:
    """The first row (in file order) whose pattern occurs in ``message``, or None."""
    text = message[:MAX_MESSAGE]
    for row in rows:
        found = _compiled(row.pattern).search(text)
        if found:
            groups: dict[str, Any] = {k: v or "?" for k, v in found.groupdict().items()}
            return MessageMatch(row=row, line=text, matched=found.group(0), groups=groups)
    return None


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _CACHE:
        _CACHE[pattern] = re.compile(pattern)
    return _CACHE[pattern]
