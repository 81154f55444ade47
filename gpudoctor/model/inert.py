"""Strings from a report, NVML or a framework made inert: visible escapes, never terminal codes."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

T = TypeVar("T")

MAX_SHOWN_CHARS = 5000
"""The most of one string a text or Markdown rendering shows (a stderr tail is 4,000)."""

# C0 controls but newline and tab, DEL, C1 (U+0080-U+009F: 0x9B is a one-byte CSI on some
# terminals), the bidi embeddings, overrides and isolates ("Trojan Source"), the
# left-to-right/right-to-left/Arabic letter marks, line and paragraph separators, the
# byte-order mark, interlinear annotations, and lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_UNSAFE_OR_NEWLINE = re.compile(_UNSAFE.pattern[:-1] + "\n\t]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters not shown)"


def inert(text: str, *, limit: int = MAX_SHOWN_CHARS, one_line: bool = False) -> str:
    """``text`` safe to print or paste: every control or bidi character as a visible escape.

    ESC becomes ``\\x1b``, CR ``\\x0d``, U+202E ``\\u202e``; newline and tab stay unless
    ``one_line`` (then ``\\n`` and ``\\t``). Strings longer than ``limit`` characters are cut,
    saying how much was left out, so that a 10 MB field renders in milliseconds.
    """
    text = _cap(text, limit)
    pattern = _UNSAFE_OR_NEWLINE if one_line else _UNSAFE
    if pattern.search(text) is None:  # the common case: nothing to do
        return text
    return pattern.sub(_escape, text)


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def inert_keeping_colour(text: str) -> str:
    """:func:`inert` (no length limit, newlines kept) that lets SGR colour codes through."""
    if _UNSAFE.search(text) is None:
        return text
    parts = _SGR.split(text)
    codes = _SGR.findall(text)
    out = [_UNSAFE.sub(_escape, parts[0])]
    for code, part in zip(codes, parts[1:], strict=True):
        out += [code, _UNSAFE.sub(_escape, part)]
    return "".join(out)


def inert_tree(obj: T, *, limit: int = MAX_SHOWN_CHARS) -> T:
    """A copy of a model object (dataclasses, tuples, dicts) with every string :func:`inert`."""
    return _walk(obj, limit)  # type: ignore[no-any-return]


def _walk(obj: Any, limit: int) -> Any:
    """``obj`` with its strings made inert; the very same object when nothing changed."""
    if isinstance(obj, str):
        return inert(obj, limit=limit)
    if isinstance(obj, (tuple, list)):
        items = [_walk(x, limit) for x in obj]
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj
        return type(obj)(items)
    if isinstance(obj, dict):
        pairs = [(_walk(k, limit), _walk(v, limit)) for k, v in obj.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
            return obj
        return dict(pairs)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            if f.init:
                value = getattr(obj, f.name)
                new = _walk(value, limit)
                if new is not value:
                    changes[f.name] = new
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj
