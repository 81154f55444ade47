"""Serializers for the environment files: YAML and TOML values and `#` comments, quoted so that
every string reads back as the same string."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

TomlValue: TypeAlias = "str | bool | Sequence[TomlValue] | Mapping[str, TomlValue]"

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.=<>-]*$")
# words YAML 1.1 (PyYAML) or 1.2 (ruamel, conda) would read as a boolean or null
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})
_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"}
_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
WIDTH = 98


def _visible(char: str) -> bool:
    return char.isprintable() or char == " "


def _escape_code(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else (f"\\U{code:08x}")
    )


def yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when both YAML 1.1 and 1.2 read it back as this very
    string (``torch2.9-cu126``), else double-quoted with every invisible character escaped
    (``"yes"``, ``"123"``, ``"my env: #1"``)."""
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    out = []
    for char in text:
        if char in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[char])
        elif not _visible(char) or char in "\u2028\u2029\ufeff":
            out.append(_escape_code(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (control characters escaped, the rest as UTF-8)."""
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted one."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: TomlValue) -> str:
    """A TOML value on one line: string, boolean, array or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_array(values: Sequence[TomlValue], indent: str = "    ") -> str:
    """A TOML array with one item a line (a diff then shows one changed pin)."""
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}{toml_value(v)},\n" for v in values) + "]"


def comment_safe(text: str) -> str:
    """``text`` with every character a comment cannot hold (line breaks, ESC, C1, lone
    surrogates) shown as an escape, so that it stays one inert comment in YAML, TOML and
    requirements files."""
    if all(_visible(c) and c not in "\u2028\u2029\ufeff" for c in text):
        return text
    return "".join(
        c if _visible(c) and c not in "\u2028\u2029\ufeff" else _escape_code(c) for c in text
    )


_WORD = re.compile(r"(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+")
"""A word; a `code span` (spaces and all) is part of the word it sits in."""


def comment(text: str, first: str = "#   - ", rest: str = "#     ") -> list[str]:
    """``text`` as ``#`` lines wrapped at spaces, never inside a word or a `code span`: a
    copied line holds a command whole. A word or span longer than the width is a line of its
    own, however long."""
    text = comment_safe(text)
    lines: list[str] = []
    line, end = "", 0
    for match in _WORD.finditer(text):
        gap = text[end : match.start()]
        end = match.end()
        if not line:
            line = (rest if lines else first) + match[0]
        elif len(line) + len(gap) + len(match[0]) > WIDTH:
            lines.append(line)
            line = rest + match[0]
        else:
            line += gap + match[0]
    return [*lines, line] if line else lines
